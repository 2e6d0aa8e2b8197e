/**
 * The driver contract: one factory per address scheme that dials and accepts channels.
 * Drivers are plug-ins: a branded factory function, registered by token in the stack's
 * container. Built-in transports use exactly this path.
 * @packageDocumentation
 */
import { InvalidArgumentError } from '../errors/index.js';
import type { AppClass, Channel } from './channel.js';

/** Options passed to every dial and listen call. */
export interface ChannelOptions {
  /**
   * Transmit high-water mark of the created channels, in bytes.
   * @default 2097152
   */
  txHighWaterMark?: number;
  /**
   * Receive high-water mark (transport paused above it), in bytes.
   * @default 4194304
   */
  rxHighWaterMark?: number;
  /**
   * Largest DATA payload accepted from the wire, in bytes.
   * @default 1048576
   */
  maxPayload?: number;
  /**
   * The consumer treats DATA payloads as byte ranges: a stream driver may hand up a
   * straddling DATA frame in pieces instead of copying it together (FrameDecoder
   * `splitData`). The stack sets it; the compliance suite does not.
   * @default false
   */
  splitData?: boolean;
  /** Aborts a pending dial. */
  signal?: AbortSignal;
  /**
   * Class of the channel about to be negotiated over the dialed connection (the stack
   * sets it on every dial; the HELLO then tells the peer). Drivers may use it for
   * placement or tuning — e.g. `inWorkers` keeps latency channels off the workers that
   * carry throughput channels — and may ignore it.
   * @default undefined (class not known to the driver)
   */
  appClass?: AppClass;
}

/** The per-channel settings a driver passes on from {@link ChannelOptions} to its channels. */
export interface ChannelSettings {
  txHighWaterMark?: number;
  rxHighWaterMark?: number;
  maxPayload?: number;
  splitData: boolean;
}

/** Picks the channel settings out of dial/listen options (unset ones keep their defaults). */
export function channelSettings(o: ChannelOptions): ChannelSettings {
  return {
    ...(o.txHighWaterMark !== undefined && { txHighWaterMark: o.txHighWaterMark }),
    ...(o.rxHighWaterMark !== undefined && { rxHighWaterMark: o.rxHighWaterMark }),
    ...(o.maxPayload !== undefined && { maxPayload: o.maxPayload }),
    splitData: o.splitData ?? false,
  };
}

/** A listening endpoint of a driver. */
export interface ChannelListener {
  /** The bound address, with the real port when `:0` was asked for. */
  readonly address: string;
  /** Stops accepting; channels already accepted stay open. Idempotent. */
  close(): Promise<void>;
}

/** A transport driver for one address scheme. */
export interface ChannelDriver {
  /** Scheme without `://`, e.g. `tcp`. */
  readonly scheme: string;
  /**
   * Checks an address of this scheme without touching the network.
   * @throws AddressError `NETCHANNEL_ERR_INVALID_ADDRESS` naming the address.
   */
  validate(address: string): void;
  /**
   * Opens one channel to `address`.
   * @throws ChannelError `NETCHANNEL_ERR_DIAL_FAILED` when the transport cannot connect.
   */
  dial(address: string, options?: ChannelOptions): Promise<Channel>;
  /** Listens on `address`; `onChannel` receives every accepted channel. */
  listen(address: string, onChannel: (channel: Channel) => void, options?: ChannelOptions): Promise<ChannelListener>;
  /** Releases driver-wide resources (called when the stack closes). Optional. */
  close?(): Promise<void>;
}

/** What a stack hands to driver factories. */
export interface DriverComponents {
  /** The stack's host id (hex), for logging or driver-level naming. */
  readonly hostId: string;
}

/** Brand that marks a function as a driver factory. */
export const DRIVER_FACTORY: unique symbol = Symbol.for('netchannel.driver-factory');

/** A driver plug-in: call it with the stack's components to get a driver. */
export interface DriverFactory {
  (components: DriverComponents): ChannelDriver;
  /** Scheme the driver serves, known before it is built. */
  readonly scheme: string;
  readonly [DRIVER_FACTORY]: true;
}

/**
 * Brands `create` as a driver factory for `scheme`; this is how every transport,
 * built-in or third-party, plugs into `createStack({ transports: [...] })`.
 */
export function defineDriver(scheme: string, create: (components: DriverComponents) => ChannelDriver): DriverFactory {
  if (!/^[a-z][a-z0-9+.-]*$/.test(scheme)) {
    throw new InvalidArgumentError(`driver scheme must be lower-case letters, digits, '+', '.' or '-', got ${JSON.stringify(scheme)}`);
  }
  return Object.assign((components: DriverComponents) => create(components), { scheme, [DRIVER_FACTORY]: true as const });
}

/** True when `value` was made by {@link defineDriver}. */
export function isDriverFactory(value: unknown): value is DriverFactory {
  return typeof value === 'function' && (value as Partial<DriverFactory>)[DRIVER_FACTORY] === true;
}
