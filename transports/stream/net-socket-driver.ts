/**
 * Building block for drivers over `node:net` sockets (tcp, unix) or anything that
 * yields a `net.Socket`-like stream: handles dial errors, abort signals, server
 * lifecycle and StreamChannel construction, so a driver only describes its addresses.
 * @packageDocumentation
 */
import net from 'node:net';
import { ChannelError, ErrorCode } from '../../errors/index.js';
import type { Channel } from '../../netdriver/channel.js';
import { channelSettings, type ChannelDriver, type ChannelListener, type ChannelOptions } from '../../netdriver/driver.js';
import { StreamChannel, type ByteStream } from './stream-channel.js';

/** How a socket-based driver maps its addresses onto `node:net`. */
export interface NetSocketDriverSpec {
  /** Scheme served, e.g. `tcp`. */
  scheme: string;
  /** Validates an address (throws AddressError). */
  validate(address: string): void;
  /** `net.connect` options for an address. */
  connectOptions(address: string): net.NetConnectOpts;
  /** `server.listen` options for an address. */
  listenOptions(address: string): net.ListenOptions;
  /** Formats the bound server address. */
  boundAddress(server: net.Server, requested: string): string;
  /** Describes the two ends of a connected socket. */
  endpoints(socket: net.Socket, address: string): { local: string; remote: string };
  /** Per-socket tuning after connect/accept (e.g. setNoDelay). */
  tune?(socket: net.Socket): void;
  /** Called after the server closed (e.g. unlink a socket file). */
  afterClose?(address: string): void;
}

function channelFor(spec: NetSocketDriverSpec, socket: net.Socket, address: string, options: ChannelOptions): Channel {
  spec.tune?.(socket);
  const { local, remote } = spec.endpoints(socket, address);
  return new StreamChannel(socket as ByteStream, {
    scheme: spec.scheme,
    localAddress: local,
    remoteAddress: remote,
    ...channelSettings(options),
  });
}

/** Builds a {@link ChannelDriver} over `node:net` from an address spec. */
export function createNetSocketDriver(spec: NetSocketDriverSpec): ChannelDriver {
  return {
    scheme: spec.scheme,
    validate: (address) => spec.validate(address),

    async dial(address: string, options: ChannelOptions = {}): Promise<Channel> {
      spec.validate(address);
      return new Promise((resolve, reject) => {
        const signal = options.signal;
        if (signal?.aborted) {
          reject(new ChannelError(ErrorCode.DIAL_FAILED, `dial ${address} aborted`));
          return;
        }
        const socket = net.connect({ ...spec.connectOptions(address), allowHalfOpen: true });
        const onAbort = (): void => {
          socket.destroy();
          reject(new ChannelError(ErrorCode.DIAL_FAILED, `dial ${address} aborted`));
        };
        const onError = (err: Error): void => {
          signal?.removeEventListener('abort', onAbort);
          reject(new ChannelError(ErrorCode.DIAL_FAILED, `cannot dial ${address}: ${err.message}`, { cause: err }));
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        socket.once('error', onError);
        socket.once('connect', () => {
          signal?.removeEventListener('abort', onAbort);
          socket.off('error', onError);
          resolve(channelFor(spec, socket, address, options));
        });
      });
    },

    async listen(address: string, onChannel: (channel: Channel) => void, options: ChannelOptions = {}): Promise<ChannelListener> {
      spec.validate(address);
      const listenOptions = spec.listenOptions(address);
      return new Promise((resolve, reject) => {
        const server = net.createServer({ allowHalfOpen: true }, (socket) => onChannel(channelFor(spec, socket, address, options)));
        server.once('error', (err) => reject(new ChannelError(ErrorCode.DIAL_FAILED, `cannot listen on ${address}: ${err.message}`, { cause: err })));
        server.listen(listenOptions, () => {
          let closing: Promise<void> | undefined;
          resolve({
            address: spec.boundAddress(server, address),
            // Stop accepting at once; channels already accepted stay open (the
            // server.close callback would wait for all of them to end).
            close: () =>
              (closing ??= new Promise<void>((done) => {
                server.close();
                setImmediate(() => {
                  spec.afterClose?.(address);
                  done();
                });
              })),
          });
        });
      });
    },
  };
}
