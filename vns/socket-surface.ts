/**
 * The part of `net.Socket`'s surface that does not depend on the protocol: ready
 * state, the inactivity timer, `destroySoon`, and the calls that are no-ops for a
 * virtual socket. {@link VirtualSocket} extends it.
 * @packageDocumentation
 */
import { Duplex, type DuplexOptions } from 'node:stream';

/** net.Socket-compatible basics over a Duplex. */
export abstract class SocketSurface extends Duplex {
  private idleTimer: NodeJS.Timeout | null = null;
  private idleMs = 0;

  constructor(options: DuplexOptions) {
    super(options);
  }

  /** True until the handshake completes. */
  abstract get connecting(): boolean;

  /** Same as {@link connecting} (net.Socket compatibility). */
  get pending(): boolean {
    return this.connecting;
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

  /** Always `'netchannel'`. */
  get remoteFamily(): string {
    return 'netchannel';
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
