/**
 * VirtualServer: accepts virtual sockets on one virtual port, like `net.Server`.
 * @packageDocumentation
 */
import { EventEmitter } from 'node:events';
import type { AppClass } from '../netdriver/channel.js';
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
    private readonly hostId: string,
    private readonly onStop: (server: VirtualServer) => void,
  ) {
    super();
  }

  /** True until {@link close} is called. */
  get listening(): boolean {
    return this.accepting;
  }

  /** `{ address, port, family }`, like net.Server#address(). */
  address(): { address: string; port: number; family: string } {
    return { address: this.hostId, port: this.port, family: 'netchannel' };
  }

  /** Number of open accepted sockets, node-style callback (net.Server compatibility). */
  getConnections(cb: (err: Error | null, count: number) => void): this {
    process.nextTick(cb, null, this.connections.size);
    return this;
  }

  /**
   * Stops accepting new sockets (new SYNCs are refused). Resolves, and emits `'close'`,
   * once every accepted socket has closed — as `net.Server#close`. Idempotent.
   */
  close(callback?: (err?: Error) => void): Promise<void> {
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
    if (callback) this.closing.then(() => callback(), callback);
    return this.closing;
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
