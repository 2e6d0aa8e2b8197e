/**
 * NetDriver (`netchannel/netdriver`): the contracts a transport driver is written
 * against — the {@link Channel} contract and its {@link BaseChannel} state machine,
 * {@link defineDriver} and the driver contract, the frame format and its codec (the
 * security boundary), address helpers, the HELLO wire types, the {@link NetDevice} type,
 * the typed errors a driver throws and the option validators that throw them. Concrete transports live in `transports/`
 * (byte-stream building blocks: `netchannel/transports/stream`); stack internals (the
 * HELLO exchange, NetDevice construction) are not exported here.
 * @packageDocumentation
 */
export * from './channel.js';
export * from './frame.js';
export * from './codec.js';
export * from './driver.js';
export * from './address.js';
export * from './base-channel.js';
export {
  HELLO_MAGIC,
  HELLO_SIZE,
  PROTOCOL_VERSION,
  HOST_ID_BYTES,
  NONCE_BYTES,
  MAC_BYTES,
  type HelloInfo,
  type HelloExtension,
  type DecodedHello,
} from './hello.js';
export type { NetDevice, NetDeviceEvents, DeviceChannel } from './net-device.js';
export {
  NetChannelError,
  InvalidArgumentError,
  AddressError,
  FrameError,
  ChannelError,
  ErrorCode,
  type ErrorCodeValue,
} from '../errors/index.js';
export { intOption, boolOption } from '../errors/validate.js';
export { RttEstimator, RateEstimator } from './feedback.js';
