/**
 * `ws://host:port[/path]` transport: one WebSocket connection per channel, one frame per
 * binary message (see {@link WsChannel} for the exact mapping and the emulated
 * half-close). Built only on the public driver contract, as a third-party transport
 * would be: it imports `netdriver/index.js` and `errors/index.js`, nothing else of the
 * stack.
 *
 * Addresses: `ws://host:port/path`, IPv6 hosts in brackets. The path is part of the
 * address; when it is left out, the driver's {@link WsOptions.path} is used. A listener
 * reports its address with the real port and the path, e.g.
 * `ws://127.0.0.1:41234/netchannel`, so it can be dialed as reported.
 * @packageDocumentation
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { AddressError, ChannelError, ErrorCode, InvalidArgumentError } from '../../errors/index.js';
import {
  boolOption,
  channelSettings,
  DEFAULT_MAX_PAYLOAD,
  defineDriver,
  formatHostPort,
  HEADER_SIZE,
  intOption,
  MAX_CONTROL_PAYLOAD,
  parseHostPort,
  splitAddress,
  type Channel,
  type ChannelDriver,
  type ChannelListener,
  type ChannelOptions,
  type DriverFactory,
} from '../../netdriver/index.js';
import { WsChannel, type WsChannelOptions } from './ws-channel.js';

export { WsChannel, WS_CLOSE_NORMAL, wsChannelError, type WsChannelOptions } from './ws-channel.js';

/** Options of the ws transport. */
export interface WsOptions {
  /**
   * HTTP path of the WebSocket endpoint, used when an address has no path of its own.
   * @default '/netchannel'
   */
  path?: string;
  /**
   * Largest WebSocket message accepted, in bytes; passed through to `ws` as its
   * `maxPayload`, which fails the connection before buffering a larger message.
   * Must fit one frame: at least 24 bytes of header plus the largest payload expected
   * (with `perMessageDeflate`, plus deflate's expansion of incompressible data).
   * @default one frame: 24 + max(ChannelOptions.maxPayload, 256), i.e. 1048600 by
   * default; with `perMessageDeflate` about 0.03 % + 1 KiB more
   */
  maxPayload?: number;
  /**
   * Negotiate permessage-deflate compression (costs CPU; frames are usually already
   * compact or incompressible).
   * @default false
   */
  perMessageDeflate?: boolean;
  /**
   * Time allowed for the opening handshake of a dial (TCP connect + HTTP upgrade), ms.
   * @default 10000
   */
  handshakeTimeout?: number;
}

/** A parsed ws address. */
export interface WsAddress {
  /** Host name or IP literal, without IPv6 brackets. */
  host: string;
  /** Port 0–65535 (0 only when listening). */
  port: number;
  /** HTTP path, starting with `/`. */
  path: string;
}

const PATH_RE = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*$/;
const MAX_PATH = 1024;

function checkPath(path: string, what: string): void {
  if (path.length > MAX_PATH || !PATH_RE.test(path)) {
    throw new InvalidArgumentError(`${what} must be an absolute URL path like '/netchannel' (no query or fragment, at most ${MAX_PATH} characters), got ${JSON.stringify(path)}`);
  }
}

/**
 * Parses `ws://host:port[/path]`; a missing path becomes `defaultPath`.
 * @throws AddressError `NETCHANNEL_ERR_INVALID_ADDRESS` naming the address.
 */
export function parseWsAddress(address: string, allowZeroPort: boolean, defaultPath = '/netchannel'): WsAddress {
  const { scheme, rest } = splitAddress(address);
  if (scheme !== 'ws') throw new AddressError(ErrorCode.INVALID_ADDRESS, address, `address ${JSON.stringify(address)} is not a ws:// address`);
  const slash = rest.indexOf('/');
  const hostPort = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? defaultPath : rest.slice(slash);
  if (path.length > MAX_PATH || !PATH_RE.test(path)) {
    throw new AddressError(ErrorCode.INVALID_ADDRESS, address, `path ${JSON.stringify(path)} of ${JSON.stringify(address)} must be an absolute URL path without query or fragment, at most ${MAX_PATH} characters`);
  }
  let hp: { host: string; port: number };
  try {
    hp = parseHostPort(`ws://${hostPort}`, 'ws', allowZeroPort);
  } catch (err) {
    const detail = err instanceof Error ? `: ${err.message}` : '';
    throw new AddressError(ErrorCode.INVALID_ADDRESS, address, `address ${JSON.stringify(address)} must be ws://host:port[/path]${detail}`);
  }
  return { host: hp.host, port: hp.port, path };
}

/** Formats a {@link WsAddress} back into `ws://host:port/path`. */
export function formatWsAddress(a: WsAddress): string {
  return `${formatHostPort('ws', a.host, a.port)}${a.path}`;
}

function checkOptions(options: WsOptions): Required<Omit<WsOptions, 'maxPayload'>> & { maxPayload: number | undefined } {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError(`ws options must be an object, got ${JSON.stringify(options)}`);
  const path = options.path ?? '/netchannel';
  if (typeof path !== 'string') throw new InvalidArgumentError(`options.path must be a string, got ${JSON.stringify(path)}`);
  checkPath(path, 'options.path');
  const { maxPayload } = options;
  if (maxPayload !== undefined && (!Number.isInteger(maxPayload) || maxPayload < HEADER_SIZE + MAX_CONTROL_PAYLOAD)) {
    throw new InvalidArgumentError(`options.maxPayload must be an integer >= ${HEADER_SIZE + MAX_CONTROL_PAYLOAD} (one frame header plus a control payload), got ${JSON.stringify(maxPayload)}`);
  }
  const perMessageDeflate = boolOption('perMessageDeflate', options.perMessageDeflate, false);
  const handshakeTimeout = intOption('handshakeTimeout', options.handshakeTimeout, 10_000, 1, 2 ** 31 - 1);
  return { path, maxPayload, perMessageDeflate, handshakeTimeout };
}

function endpoint(scheme: string, host: string | undefined, port: number | undefined): string {
  return formatHostPort(scheme, host ?? '?', port ?? 0);
}

/** The ws transport plug-in for `createStack({ transports: [ws()] })`. */
export function ws(options: WsOptions = {}): DriverFactory {
  const o = checkOptions(options);
  return defineDriver('ws', () => createWsDriver(o));
}

function createWsDriver(o: ReturnType<typeof checkOptions>): ChannelDriver {
  /**
   * ws's message limit for channels made with `co`: one whole frame. ws applies it to
   * the compressed size too, and deflate can expand incompressible data (5 bytes per
   * stored block of up to 16 KiB), so compression adds slack; the frame decoder still
   * enforces the exact payload limit.
   */
  const messageLimit = (co: ChannelOptions): number => {
    if (o.maxPayload !== undefined) return o.maxPayload;
    const frame = HEADER_SIZE + Math.max(co.maxPayload ?? DEFAULT_MAX_PAYLOAD, MAX_CONTROL_PAYLOAD);
    return o.perMessageDeflate ? frame + Math.ceil(frame / 16_384) * 5 + 1024 : frame;
  };

  const channelOptions = (co: ChannelOptions, local: string, remote: string): WsChannelOptions => ({
    scheme: 'ws',
    localAddress: local,
    remoteAddress: remote,
    compress: o.perMessageDeflate,
    ...channelSettings(co), // splitData is ignored: a message always holds one whole frame
  });

  return {
    scheme: 'ws',
    validate: (address) => void parseWsAddress(address, true, o.path),

    async dial(address: string, dialOptions: ChannelOptions = {}): Promise<Channel> {
      const target = parseWsAddress(address, false, o.path);
      const url = formatWsAddress(target);
      return new Promise<Channel>((resolve, reject) => {
        const signal = dialOptions.signal;
        if (signal?.aborted) {
          reject(new ChannelError(ErrorCode.DIAL_FAILED, `dial ${address} aborted`));
          return;
        }
        const socket = new WebSocket(url, {
          perMessageDeflate: o.perMessageDeflate,
          maxPayload: messageLimit(dialOptions),
          handshakeTimeout: o.handshakeTimeout,
          followRedirects: false,
          skipUTF8Validation: true,
        });
        let settled = false;
        let net: Socket | undefined;
        const cleanup = (): void => {
          settled = true;
          signal?.removeEventListener('abort', onAbort);
          socket.off('error', onError);
          socket.off('close', onClose);
        };
        const fail = (err: ChannelError): void => {
          if (settled) return;
          cleanup();
          socket.on('error', () => {}); // late errors of the abandoned socket
          socket.terminate();
          reject(err);
        };
        const onAbort = (): void => fail(new ChannelError(ErrorCode.DIAL_FAILED, `dial ${address} aborted`));
        const onError = (err: Error): void => fail(new ChannelError(ErrorCode.DIAL_FAILED, `cannot dial ${url}: ${err.message}`, { cause: err }));
        const onClose = (code: number): void => fail(new ChannelError(ErrorCode.DIAL_FAILED, `cannot dial ${url}: WebSocket closed with code ${code} during the handshake`));
        signal?.addEventListener('abort', onAbort, { once: true });
        socket.on('error', onError);
        socket.on('close', onClose);
        socket.once('upgrade', (res: IncomingMessage) => {
          net = res.socket;
        });
        socket.once('open', () => {
          if (settled) return;
          cleanup();
          const local = endpoint('ws', net?.localAddress, net?.localPort);
          const remote = `${endpoint('ws', net?.remoteAddress ?? target.host, net?.remotePort ?? target.port)}${target.path}`;
          resolve(new WsChannel(socket, channelOptions(dialOptions, local, remote)));
        });
      });
    },

    async listen(address: string, onChannel: (channel: Channel) => void, listenOptions: ChannelOptions = {}): Promise<ChannelListener> {
      const target = parseWsAddress(address, true, o.path);
      let closed = false;
      const http = createServer((_req, res) => {
        res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket', connection: 'Upgrade' });
        res.end(`netchannel ws endpoint: use a WebSocket upgrade on ${target.path}\n`);
      });
      const wss = new WebSocketServer({
        server: http,
        path: target.path,
        perMessageDeflate: o.perMessageDeflate,
        maxPayload: messageLimit(listenOptions),
        clientTracking: false,
        skipUTF8Validation: true,
      });
      wss.on('error', () => {}); // the http server's errors: handled below
      wss.on('connection', (socket: WebSocket, req: IncomingMessage) => {
        if (closed) {
          socket.terminate();
          return;
        }
        const s = req.socket;
        const local = `${endpoint('ws', s.localAddress, s.localPort)}${target.path}`;
        const remote = endpoint('ws', s.remoteAddress, s.remotePort);
        onChannel(new WsChannel(socket, channelOptions(listenOptions, local, remote)));
      });
      return new Promise<ChannelListener>((resolve, reject) => {
        const onListenError = (err: Error): void => {
          wss.close();
          reject(new ChannelError(ErrorCode.DIAL_FAILED, `cannot listen on ${address}: ${err.message}`, { cause: err }));
        };
        http.once('error', onListenError);
        http.listen({ host: target.host, port: target.port }, () => {
          http.off('error', onListenError);
          http.on('error', () => {}); // accept errors after listening do not concern channels
          const bound = http.address() as AddressInfo;
          let closing: Promise<void> | undefined;
          resolve({
            address: formatWsAddress({ host: bound.address, port: bound.port, path: target.path }),
            // Stops accepting at once; accepted channels (upgraded sockets, which the
            // http server no longer tracks) stay open. Does not wait for them to close.
            close: () =>
              (closing ??= new Promise<void>((done) => {
                closed = true;
                wss.close();
                http.close();
                http.closeIdleConnections();
                setImmediate(done);
              })),
          });
        });
      });
    },
  };
}
