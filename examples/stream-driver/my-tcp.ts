/**
 * `mytcp://host:port`: a complete byte-stream transport written the way an outside
 * package would write it — the driver contract from netchannel/netdriver, the channel
 * from netchannel/transports/stream (StreamChannel does framing, backpressure, RST on
 * destroy). Shown verbatim in docs/writing-a-driver.md and run through the compliance
 * suite by transports/stream/doc-example.test.ts.
 * @packageDocumentation
 */
import net from 'node:net';
import {
  channelSettings,
  ChannelError,
  defineDriver,
  ErrorCode,
  formatHostPort,
  parseHostPort,
  type Channel,
  type ChannelListener,
  type ChannelOptions,
  type DriverFactory,
} from '../../netdriver/index.js';
import { StreamChannel } from '../../transports/stream/index.js';

const SCHEME = 'mytcp';

/** Wraps a connected socket; StreamChannel handles its 'error' events from here on. */
function wrap(socket: net.Socket, options: ChannelOptions): Channel {
  socket.setNoDelay(true);
  return new StreamChannel(socket, {
    scheme: SCHEME,
    localAddress: formatHostPort(SCHEME, socket.localAddress ?? '?', socket.localPort ?? 0),
    remoteAddress: formatHostPort(SCHEME, socket.remoteAddress ?? '?', socket.remotePort ?? 0),
    ...channelSettings(options), // high-water marks, maxPayload, splitData
  });
}

/** The plug-in: `createStack({ transports: [myTcp()] })`. */
export function myTcp(): DriverFactory {
  return defineDriver(SCHEME, () => ({
    scheme: SCHEME,
    // AddressError NETCHANNEL_ERR_INVALID_ADDRESS for anything but mytcp://host:port.
    validate: (address) => void parseHostPort(address, SCHEME, true),

    async dial(address: string, options: ChannelOptions = {}): Promise<Channel> {
      const { host, port } = parseHostPort(address, SCHEME, false);
      const failed = (why: string, cause?: Error): ChannelError =>
        new ChannelError(ErrorCode.DIAL_FAILED, `cannot dial ${address}: ${why}`, cause && { cause });
      const signal = options.signal;
      if (signal?.aborted) throw failed('aborted');
      // allowHalfOpen: end() is a half-close, the other direction stays open.
      const socket = net.connect({ host, port, allowHalfOpen: true });
      return new Promise<Channel>((resolve, reject) => {
        const onAbort = (): void => {
          socket.destroy();
          reject(failed('aborted'));
        };
        const onError = (err: Error): void => {
          signal?.removeEventListener('abort', onAbort);
          reject(failed(err.message, err));
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        socket.once('error', onError);
        socket.once('connect', () => {
          signal?.removeEventListener('abort', onAbort);
          socket.off('error', onError);
          resolve(wrap(socket, options));
        });
      });
    },

    async listen(address: string, onChannel: (channel: Channel) => void, options: ChannelOptions = {}): Promise<ChannelListener> {
      const { host, port } = parseHostPort(address, SCHEME, true);
      const server = net.createServer({ allowHalfOpen: true }, (socket) => onChannel(wrap(socket, options)));
      await new Promise<void>((resolve, reject) => {
        server.once('error', (err) => reject(new ChannelError(ErrorCode.DIAL_FAILED, `cannot listen on ${address}: ${err.message}`, { cause: err })));
        server.listen({ host, port }, resolve);
      });
      server.on('error', () => {}); // accept errors (EMFILE, …) must not crash the process
      const bound = server.address() as net.AddressInfo;
      let closing: Promise<void> | undefined;
      return {
        address: formatHostPort(SCHEME, bound.address, bound.port), // the real port for :0
        // Stop accepting now; accepted channels stay open (server.close's callback would wait for them).
        close: () => (closing ??= new Promise<void>((done) => {
          server.close();
          setImmediate(done);
        })),
      };
    },
  }));
}
