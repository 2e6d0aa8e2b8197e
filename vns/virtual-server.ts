/**
 * VirtualServer: accepts virtual sockets on one virtual port, like `net.Server`.
 * @packageDocumentation
 */
import { EventEmitter } from 'node:events';
import { ErrorCode, NetChannelError } from '../errors/index.js';
import type { AppClass } from '../netdriver/channel.js';
import type { IpEndpoint, SocketAddressInfo } from './socket-address.js';
import type { VirtualSocket } from './virtual-socket.js';

/** Events of a {@link VirtualServer}. */
export interface VirtualServerEvents {
  /** A peer opened a virtual socket to this port. */
  connection: [VirtualSocket];
  /** The server stopped accepting and all its sockets closed. */
  close: [];
}

/** Listens on one virtual port of a stack. */
export class VirtualServer extends EventEmitter<VirtualServerEvents> {
  /** Open sockets accepted by this server. */
  readonly connections = new Set<VirtualSocket>();
  private accepting = true;
  private closing: Promise<void> | null = null;
  private onDrained: (() => void) | null = null;

  /** @internal Made by `stack.listen`. */
  constructor(
    /** The virtual port listened on. */
    readonly port: number,
    /** Class forced on accepted sockets; undefined keeps the class the connector asked for. */
    readonly appClass: AppClass | undefined,
    /** The stack's first IP listen address, for {@link address}. */
    private readonly endpoint: IpEndpoint | undefined,
    private readonly onStop: (server: VirtualServer) => void,
  ) {
    super();
  }

  /** True until {@link close} is called. */
  get listening(): boolean {
    return this.accepting;
  }

  /**
   * `{ address, family, port }` like net.Server#address(), null once closed. `port` is
   * the virtual port; `address`/`family` are those of the stack's first IP listen
   * address, or `''` when it has none (a `unix://`/`memory://` or dial-only stack).
   */
  address(): SocketAddressInfo | null {
    if (!this.accepting) return null;
    return { address: this.endpoint?.address ?? '', family: this.endpoint?.family ?? '', port: this.port };
  }

  /** Number of open accepted sockets, node-style callback (net.Server compatibility). */
  getConnections(cb: (err: Error | null, count: number) => void): this {
    process.nextTick(cb, null, this.connections.size);
    return this;
  }

  /**
   * Stops accepting new sockets (new SYNCs are refused); emits `'close'` once every
   * accepted socket has closed, as net.Server#close. `callback` runs on `'close'`, or
   * gets an error with code `ERR_SERVER_NOT_RUNNING` when the server is not listening
   * (as net's). For a promise, use {@link closeAsync}.
   */
  close(callback?: (err?: Error) => void): this {
    if (!this.accepting) {
      if (callback) process.nextTick(callback, new NetChannelError(ErrorCode.SERVER_NOT_RUNNING, `virtual server on port ${this.port} is not running`));
      return this;
    }
    if (callback) this.once('close', () => callback());
    void this.closeAsync();
    return this;
  }

  /**
   * Stops accepting; resolves once every accepted socket has closed (after `'close'`).
   * Idempotent: later calls return the same promise.
   */
  closeAsync(): Promise<void> {
    if (!this.closing) {
      this.accepting = false;
      this.onStop(this);
      this.closing = new Promise<void>((resolve) => {
        const done = (): void => {
          this.emit('close');
          resolve();
        };
        if (this.connections.size === 0) process.nextTick(done);
        else this.onDrained = done;
      });
    }
    return this.closing;
  }

  /** Graceful close for `await using`: same as {@link closeAsync}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.closeAsync();
  }

  /** No-op, returns the server: a virtual server holds no handle of its own (the stack's channels do). */
  ref(): this {
    return this;
  }

  /** No-op, returns the server: a virtual server holds no handle of its own (the stack's channels do). */
  unref(): this {
    return this;
  }

  /** @internal Hands an accepted socket to the application. */
  accept(sock: VirtualSocket): void {
    this.connections.add(sock);
    sock.once('close', this.onSocketClose);
    this.emit('connection', sock);
  }

  /** One listener shared by every accepted socket (`this` is the socket). */
  private readonly onSocketClose = ((server: VirtualServer) =>
    function (this: VirtualSocket): void {
      server.connections.delete(this);
      if (!server.accepting && server.connections.size === 0) server.onDrained?.();
    })(this);
}
