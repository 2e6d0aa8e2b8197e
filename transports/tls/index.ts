/**
 * `tls://host:port` transport: one TLS connection (over TCP) per channel, carrying the
 * frame byte stream exactly like `tcp://` ({@link StreamChannel}), with optional mutual
 * TLS.
 *
 * Two details differ from a bare `tls.connect`/`tls.createServer` pairing:
 * - **Accept confirmation.** After the handshake, and after it has verified the client
 *   certificate, the acceptor sends one byte (`0x01`) before any frame; a dial resolves
 *   only once it arrived. Under TLS 1.3 a client finishes its handshake before the
 *   server has checked the client certificate, so without it a refused client would
 *   see a successful dial and a channel that dies a moment later. With it, a refused
 *   client certificate fails the dial with `NETCHANNEL_ERR_DIAL_FAILED`.
 * - **Abort.** TLS has no abort signal: a destroyed TLS socket just closes TCP, which the
 *   peer (with half-close allowed) cannot tell from a graceful end. `destroy()` therefore
 *   resets the underlying TCP connection (RST), as `tcp://` does, so the peer's channel
 *   closes with an error at once.
 * @packageDocumentation
 */
import net from 'node:net';
import nodeTls from 'node:tls';
import { ChannelError, ErrorCode, InvalidArgumentError } from '../../errors/index.js';
import {
  boolOption,
  channelSettings,
  defineDriver,
  formatHostPort,
  parseHostPort,
  type Channel,
  type ChannelDriver,
  type ChannelListener,
  type ChannelOptions,
  type DriverFactory,
} from '../../netdriver/index.js';
import { StreamChannel, type StreamChannelOptions } from '../stream/index.js';

/** PEM text or DER/PEM bytes, as `node:tls` accepts them. */
export type TlsCredential = string | Buffer;

/** Options of the tls transport. */
export interface TlsOptions {
  /** Private key (PEM) of this side's certificate. Required to listen; for dialing only with mutual TLS. */
  key?: TlsCredential | TlsCredential[];
  /** Certificate chain (PEM) of this side. Required to listen; for dialing only with mutual TLS. */
  cert?: TlsCredential | TlsCredential[];
  /**
   * Trusted CA certificates (PEM) that verify the peer's certificate.
   * @default Node's bundled Mozilla CA store
   */
  ca?: TlsCredential | TlsCredential[];
  /**
   * Listening side: require a client certificate signed by `ca` (mutual TLS). Clients
   * without one, or with an untrusted one, are refused: their dial fails.
   * @default false
   */
  requestCert?: boolean;
  /**
   * Reject a peer whose certificate does not verify against `ca`: on a dial, the
   * server's certificate (and its name, see `servername`); on a listener with
   * `requestCert`, the client's certificate.
   * @default true
   */
  rejectUnauthorized?: boolean;
  /**
   * Server name sent in SNI and checked against the server certificate.
   * @default the host of the dialed address; IP addresses are checked against the
   * certificate's IP SANs and send no SNI
   */
  servername?: string;
  /**
   * Disable Nagle's algorithm on every channel.
   * @default true
   */
  noDelay?: boolean;
}

/** The byte an acceptor sends after the TLS handshake to confirm it accepted the client. */
export const TLS_ACCEPT_BYTE = 0x01;
const ACCEPT = Buffer.from([TLS_ACCEPT_BYTE]);

/**
 * A {@link StreamChannel} over a TLS socket whose `destroy()` resets the TCP connection
 * underneath, so the peer notices the abort (see the module notes).
 */
export class TlsChannel extends StreamChannel {
  private readonly tcp: net.Socket;

  constructor(tcp: net.Socket, socket: nodeTls.TLSSocket, options: StreamChannelOptions) {
    super(socket, options);
    this.tcp = tcp;
  }

  protected override _destroy(err?: Error): void {
    // RST first: a plain destroy would send a FIN that looks like a half-close.
    try {
      this.tcp.resetAndDestroy();
    } catch {
      // handle already gone
    }
    // StreamChannel then destroys the TLS socket (its resetAndDestroy does not apply to
    // a TLS handle and falls back to destroy, which finds the TCP handle closed).
    super._destroy(err);
  }
}

type Checked = Required<Pick<TlsOptions, 'requestCert' | 'rejectUnauthorized' | 'noDelay'>> & Omit<TlsOptions, 'requestCert' | 'rejectUnauthorized' | 'noDelay'>;

function checkCredential(name: string, value: unknown): void {
  if (value === undefined) return;
  const ok = (v: unknown): boolean => typeof v === 'string' || Buffer.isBuffer(v);
  if (!(ok(value) || (Array.isArray(value) && value.every(ok)))) {
    throw new InvalidArgumentError(`options.${name} must be a PEM string, a Buffer or an array of them, got ${typeof value}`);
  }
}

function checkOptions(options: TlsOptions): Checked {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError(`tls options must be an object, got ${JSON.stringify(options)}`);
  checkCredential('key', options.key);
  checkCredential('cert', options.cert);
  checkCredential('ca', options.ca);
  const requestCert = boolOption('requestCert', options.requestCert, false);
  const rejectUnauthorized = boolOption('rejectUnauthorized', options.rejectUnauthorized, true);
  const noDelay = boolOption('noDelay', options.noDelay, true);
  const { servername } = options;
  if (servername !== undefined && (typeof servername !== 'string' || servername.length === 0 || net.isIP(servername) !== 0)) {
    throw new InvalidArgumentError(`options.servername must be a non-empty host name (not an IP address), got ${JSON.stringify(servername)}`);
  }
  if ((options.key === undefined) !== (options.cert === undefined)) {
    throw new InvalidArgumentError(`options.key and options.cert must be given together (got only ${options.key === undefined ? 'cert' : 'key'})`);
  }
  return { ...options, requestCert, rejectUnauthorized, noDelay };
}

function channelOptions(co: ChannelOptions, local: string, remote: string): StreamChannelOptions {
  return {
    scheme: 'tls',
    localAddress: local,
    remoteAddress: remote,
    ...channelSettings(co),
  };
}

function endpoints(s: net.Socket): { local: string; remote: string } {
  return {
    local: formatHostPort('tls', s.localAddress ?? '?', s.localPort ?? 0),
    remote: formatHostPort('tls', s.remoteAddress ?? '?', s.remotePort ?? 0),
  };
}

/** Keeps late 'error' events of an abandoned socket from becoming uncaught exceptions. */
const ignore = (): void => {};

/** The tls transport plug-in for `createStack({ transports: [tls({ key, cert, ca })] })`. */
export function tls(options: TlsOptions = {}): DriverFactory {
  const o = checkOptions(options);
  return defineDriver('tls', () => createTlsDriver(o));
}

function createTlsDriver(o: Checked): ChannelDriver {
  const credentials = {
    ...(o.key !== undefined && { key: o.key }),
    ...(o.cert !== undefined && { cert: o.cert }),
    ...(o.ca !== undefined && { ca: o.ca }),
  };

  return {
    scheme: 'tls',
    validate: (address) => void parseHostPort(address, 'tls', true),

    async dial(address: string, dialOptions: ChannelOptions = {}): Promise<Channel> {
      const { host, port } = parseHostPort(address, 'tls', false);
      return new Promise<Channel>((resolve, reject) => {
        const signal = dialOptions.signal;
        if (signal?.aborted) {
          reject(new ChannelError(ErrorCode.DIAL_FAILED, `dial ${address} aborted`));
          return;
        }
        // Our own TCP socket under the TLS one, to reset it on destroy().
        const tcp = net.connect({ host, port, allowHalfOpen: true });
        tcp.setNoDelay(o.noDelay);
        const servername = o.servername ?? (net.isIP(host) === 0 ? host : undefined);
        const socket = nodeTls.connect({
          socket: tcp,
          host,
          ...(servername !== undefined && { servername }),
          ...credentials,
          rejectUnauthorized: o.rejectUnauthorized,
        });
        let settled = false;
        const cleanup = (): void => {
          settled = true;
          signal?.removeEventListener('abort', onAbort);
          socket.off('error', onError);
          socket.off('end', onEnd);
          socket.off('close', onEnd);
          socket.off('data', onData);
        };
        const fail = (message: string, cause?: Error): void => {
          if (settled) return;
          cleanup();
          socket.on('error', ignore);
          tcp.on('error', ignore);
          tcp.destroy();
          socket.destroy();
          reject(new ChannelError(ErrorCode.DIAL_FAILED, `cannot dial ${address}: ${message}`, cause ? { cause } : undefined));
        };
        const onAbort = (): void => fail('aborted');
        const onError = (err: Error): void => fail(err.message, err);
        const onEnd = (): void => fail('the server closed the connection after the TLS handshake without accepting it (client certificate refused?)');
        const onData = (chunk: Buffer): void => {
          if (chunk[0] !== TLS_ACCEPT_BYTE) {
            fail(`the server sent 0x${chunk[0]?.toString(16)} instead of the accept byte (not a netchannel tls listener?)`);
            return;
          }
          cleanup();
          socket.pause();
          if (chunk.length > 1) socket.unshift(chunk.subarray(1));
          const { local, remote } = endpoints(socket);
          const channel = new TlsChannel(tcp, socket, channelOptions(dialOptions, local, remote));
          socket.resume();
          resolve(channel);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        socket.on('error', onError);
        socket.on('end', onEnd);
        socket.on('close', onEnd);
        socket.on('data', onData);
      });
    },

    async listen(address: string, onChannel: (channel: Channel) => void, listenOptions: ChannelOptions = {}): Promise<ChannelListener> {
      const { host, port } = parseHostPort(address, 'tls', true);
      if (o.key === undefined || o.cert === undefined) {
        throw new InvalidArgumentError(`cannot listen on ${address}: the tls transport needs options.key and options.cert to listen`);
      }
      let closed = false;
      // The TLS server never listens itself: our net server hands it each TCP socket
      // (tls.Server's documented 'connection' injection), so we keep the TCP socket of
      // every TLS connection. It is found again by its peer endpoint, unique while open.
      const secure = nodeTls.createServer({ ...credentials, requestCert: o.requestCert, rejectUnauthorized: o.rejectUnauthorized });
      const pending = new Map<string, net.Socket>();
      const key = (addr: string | undefined, p: number | undefined): string => `${addr}|${p}`;
      secure.on('tlsClientError', ignore); // the client's dial fails; nothing to do here
      secure.on('secureConnection', (socket: nodeTls.TLSSocket) => {
        const k = key(socket.remoteAddress, socket.remotePort);
        const tcp = pending.get(k);
        pending.delete(k);
        if (closed || tcp === undefined) {
          socket.on('error', ignore);
          socket.destroy();
          return;
        }
        socket.write(ACCEPT);
        const { local, remote } = endpoints(socket);
        onChannel(new TlsChannel(tcp, socket, channelOptions(listenOptions, local, remote)));
      });
      const server = net.createServer({ allowHalfOpen: true }, (tcp) => {
        tcp.setNoDelay(o.noDelay);
        const k = key(tcp.remoteAddress, tcp.remotePort);
        pending.set(k, tcp);
        tcp.once('close', () => {
          if (pending.get(k) === tcp) pending.delete(k);
        });
        secure.emit('connection', tcp);
      });
      return new Promise<ChannelListener>((resolve, reject) => {
        server.once('error', (err) => reject(new ChannelError(ErrorCode.DIAL_FAILED, `cannot listen on ${address}: ${err.message}`, { cause: err })));
        server.listen({ host, port }, () => {
          server.on('error', ignore); // accept errors after listening do not concern channels
          const a = server.address() as net.AddressInfo;
          let closing: Promise<void> | undefined;
          resolve({
            address: formatHostPort('tls', a.address, a.port),
            // Stops accepting at once (handshakes in flight are dropped); accepted
            // channels stay open and are not waited for.
            close: () =>
              (closing ??= new Promise<void>((done) => {
                closed = true;
                server.close();
                for (const tcp of pending.values()) tcp.destroy();
                pending.clear();
                setImmediate(done);
              })),
          });
        });
      });
    },
  };
}
