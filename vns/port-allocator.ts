/**
 * Virtual port allocation. Like TCP, every port fits 16 bits: listening ports are
 * 1–49151 (one set per stack), and connecting sockets get ephemeral ports 49152–65535
 * from one {@link EphemeralPorts} per peer session, so the two ranges never collide and
 * a stack may hold up to 16,384 outgoing sockets to each peer host.
 * @packageDocumentation
 */
import { ErrorCode, InvalidArgumentError, NetChannelError } from '../errors/index.js';
import { FIRST_EPHEMERAL_PORT, MAX_LISTEN_PORT, MAX_PORT } from '../netdriver/frame.js';

/** First port tried when `listen(0)` asks for any free listening port (then 1 upward). */
const FIRST_DYNAMIC_LISTEN = 32768;

/** Allocates a stack's listening virtual ports. */
export class PortAllocator {
  private readonly listening = new Set<number>();

  /** Reserves listening port `port` (0 = any free one) and returns it. */
  listen(port: unknown): number {
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > MAX_LISTEN_PORT) {
      throw new InvalidArgumentError(`virtual listening port must be an integer 0-${MAX_LISTEN_PORT}, got ${JSON.stringify(port)}`);
    }
    if (port === 0) {
      for (let i = 0; i < MAX_LISTEN_PORT; i++) {
        const p = ((FIRST_DYNAMIC_LISTEN - 1 + i) % MAX_LISTEN_PORT) + 1;
        if (!this.listening.has(p)) return this.listen(p);
      }
      throw new NetChannelError(ErrorCode.LIMIT, 'no free virtual listening port left');
    }
    if (this.listening.has(port)) throw new NetChannelError(ErrorCode.PORT_IN_USE, `virtual port ${port} is already listened on`);
    this.listening.add(port);
    return port;
  }

  /** Frees a listening port. */
  unlisten(port: number): void {
    this.listening.delete(port);
  }
}

/** True for a port connecting sockets use (49152–65535). */
export function isEphemeralPort(port: number): boolean {
  return port >= FIRST_EPHEMERAL_PORT && port <= MAX_PORT;
}

/**
 * Ephemeral ports of the sockets one stack opens to one peer host: handed out in
 * increasing order, wrapping around, skipping ports still in use (a lingering socket
 * keeps its port until it is detached).
 */
export class EphemeralPorts {
  private readonly used = new Set<number>();
  private next = FIRST_EPHEMERAL_PORT;

  /** Returns a free ephemeral port and marks it used. */
  take(peer: string): number {
    for (let tries = 0; tries <= MAX_PORT - FIRST_EPHEMERAL_PORT; tries++) {
      const p = this.next;
      this.next = p === MAX_PORT ? FIRST_EPHEMERAL_PORT : p + 1;
      if (!this.used.has(p)) {
        this.used.add(p);
        return p;
      }
    }
    throw new NetChannelError(ErrorCode.LIMIT, `all ${MAX_PORT - FIRST_EPHEMERAL_PORT + 1} ephemeral virtual ports to ${peer} are in use`);
  }

  /** Frees an ephemeral port. */
  release(port: number): void {
    this.used.delete(port);
  }

  /** Ports in use. */
  get size(): number {
    return this.used.size;
  }
}
