/**
 * The part of `net.Socket`'s surface that does not depend on the protocol: ready
 * state, the address view, `'close'` with `hadError`, the inactivity timer,
 * `destroySoon`, and the calls that are no-ops for a virtual socket.
 * {@link VirtualSocket} extends it.
 * @packageDocumentation
 */
import { Duplex, type DuplexOptions } from 'node:stream';
import { InvalidArgumentError } from '../errors/index.js';
import { SocketAddressView, type ChannelEndpoints, type SocketAddressInfo } from './socket-address.js';

/** net.Socket-compatible basics over a Duplex. */
export abstract class SocketSurface extends Duplex {
  private idleTimer: NodeJS.Timeout | null = null;
  private idleMs = 0;

  /** IP endpoints of the channel the socket was opened on. */
  protected readonly addressView = new SocketAddressView();
  /** `resetAndDestroy()` was called: the peer gets an RST. */
  protected resetRequested = false;
  /** Opens a socket of `stack.createSocket` (its `connect()`); null once used. */
  private opener: ((port: number) => void) | null = null;

  constructor(options: DuplexOptions) {
    // Like net.Socket: 'close' is emitted by the socket itself, with `hadError`.
    super({ ...options, emitClose: false });
  }

  /** True while the socket is being opened (after `connect`, before `'connect'`). */
  abstract get connecting(): boolean;

  /** Local virtual port (0 until the socket is opened). */
  abstract get localPort(): number;

  /** True while the socket is open (connected and not destroyed). */
  protected abstract get established(): boolean;

  /** True unless the socket is connected: before and while connecting, and after destroy (as net.Socket). */
  get pending(): boolean {
    return !this.established;
  }

  /** IP address of the peer end of the channel the socket was opened on; undefined for `unix://` and `memory://`. */
  get remoteAddress(): string | undefined {
    return this.addressView.remote?.address;
  }

  /** `'IPv4'` or `'IPv6'` of {@link remoteAddress}; undefined with it. */
  get remoteFamily(): string | undefined {
    return this.addressView.remote?.family;
  }

  /** IP address of the local end of the channel the socket was opened on; undefined for `unix://` and `memory://`. */
  get localAddress(): string | undefined {
    return this.addressView.local?.address;
  }

  /** `'IPv4'` or `'IPv6'` of {@link localAddress}; undefined with it. */
  get localFamily(): string | undefined {
    return this.addressView.local?.family;
  }

  /** `{ address, family, port }` of the local end, like net.Socket#address(); `{}` when not IP (as net for Unix sockets). */
  address(): SocketAddressInfo | Record<string, never> {
    return this.addressView.info(this.localPort);
  }

  /** @internal Records the channel the socket was opened on (its address view). */
  bindEndpoints(endpoints: ChannelEndpoints): void {
    this.addressView.bind(endpoints);
  }

  /** @internal Makes `connect()` open the socket through `open(port)` (`stack.createSocket`). */
  setOpener(open: (port: number) => void): void {
    this.opener = open;
  }

  /**
   * Opens a socket made by `stack.createSocket(address)`, like net.Socket#connect:
   * `connect(port[, host][, listener])` or `connect({ port }[, listener])`. `host` is
   * ignored: the socket goes to the stack address given to `createSocket`.
   * @throws InvalidArgumentError for a socket not made by `createSocket`, or already opened.
   */
  connect(port: number | string | { port: number | string }, ...rest: unknown[]): this {
    const listener = rest.find((a): a is () => void => typeof a === 'function');
    const open = this.opener;
    if (!open || this.destroyed) {
      throw new InvalidArgumentError(`connect() needs a socket made by stack.createSocket() and not opened yet (this one is ${this.destroyed ? 'destroyed' : this.connecting ? 'connecting' : 'open'})`);
    }
    const p = typeof port === 'object' && port !== null ? port.port : port;
    this.opener = null;
    open((typeof p === 'string' && /^\d+$/.test(p) ? Number(p) : p) as number);
    if (listener) this.once('connect', listener);
    return this;
  }

  /**
   * Destroys the socket and resets the connection: the peer fails with
   * `NETCHANNEL_ERR_CONNECTION_RESET` (as net's ECONNRESET). `err`, if given, is
   * emitted locally as with `destroy(err)`.
   */
  resetAndDestroy(err?: Error): this {
    if (!this.destroyed) this.resetRequested = true;
    return this.destroy(err);
  }

  /** Completes `_destroy` like net.Socket: `'error'` (if any) first, then `'close'` with `hadError`. */
  protected finishDestroy(err: Error | null, cb: (err?: Error | null) => void): void {
    cb(err);
    process.nextTick(emitClose, this, err != null);
  }

  /** `'opening' | 'open' | 'readOnly' | 'writeOnly' | 'closed'`, as on net.Socket. */
  get readyState(): string {
    if (this.connecting) return 'opening';
    if (this.destroyed) return 'closed';
    if (this.readable && this.writable) return 'open';
    if (this.readable) return 'readOnly';
    if (this.writable) return 'writeOnly';
    return 'closed';
  }

  /** Accepted for net.Socket compatibility; channels already disable Nagle. */
  setNoDelay(_noDelay?: boolean): this {
    return this;
  }

  /** Accepted for net.Socket compatibility; channels carry their own liveness. */
  setKeepAlive(_enable?: boolean, _delay?: number): this {
    return this;
  }

  /** No-op: a virtual socket holds no handle of its own (channels do). */
  ref(): this {
    return this;
  }

  /** No-op: a virtual socket holds no handle of its own (channels do). */
  unref(): this {
    return this;
  }

  /**
   * Emits `'timeout'` after `ms` of inactivity (no bytes either way), like
   * net.Socket; `0` disables. The socket is not closed automatically.
   */
  setTimeout(ms: number, callback?: () => void): this {
    if (callback) (ms === 0 ? this.off('timeout', callback) : this.once('timeout', callback));
    this.idleMs = ms;
    this.stopIdleTimer();
    if (ms > 0 && !this.destroyed) {
      this.idleTimer = setTimeout(() => this.emit('timeout'), ms);
      this.idleTimer.unref();
    }
    return this;
  }

  /** Ends the socket and destroys it once the FIN is sent (net.Socket compatibility). */
  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once('finish', () => this.destroy());
  }

  /** Restarts the inactivity timer (call on traffic). */
  protected touch(): void {
    if (this.idleTimer && this.idleMs > 0) this.idleTimer.refresh();
  }

  /** Cancels the inactivity timer (call on destroy). */
  protected stopIdleTimer(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }
}

function emitClose(sock: SocketSurface, hadError: boolean): void {
  sock.emit('close', hadError);
}
