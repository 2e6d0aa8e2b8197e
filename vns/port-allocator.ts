/**
 * Virtual port allocation of one stack. Listening ports are 1–65535 (like TCP);
 * connecting sockets get ephemeral ports above 65535, so a stack can hold far more
 * sockets than TCP's 16-bit port space allows.
 * @packageDocumentation
 */
import { ErrorCode, InvalidArgumentError, NetChannelError } from '../errors/index.js';
import { MAX_LISTEN_PORT } from '../netdriver/frame.js';

const FIRST_EPHEMERAL = MAX_LISTEN_PORT + 1;
const LAST_EPHEMERAL = 0xffffffff;
/** First port tried when `listen(0)` asks for any free listening port. */
const FIRST_DYNAMIC_LISTEN = 49152;

/** Allocates listening and ephemeral virtual ports. */
export class PortAllocator {
  private readonly listening = new Set<number>();
  private readonly ephemeral = new Set<number>();
  private nextEphemeral = FIRST_EPHEMERAL;

  /** Reserves listening port `port` (0 = any free one) and returns it. */
  listen(port: unknown): number {
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > MAX_LISTEN_PORT) {
      throw new InvalidArgumentError(`virtual port must be an integer 0-${MAX_LISTEN_PORT}, got ${JSON.stringify(port)}`);
    }
    if (port === 0) {
      for (let p = FIRST_DYNAMIC_LISTEN; p <= MAX_LISTEN_PORT; p++) {
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

  /** Returns a free ephemeral port (> 65535) and marks it used. */
  ephemeralPort(): number {
    for (let tries = 0; tries < 1_000_000; tries++) {
      const p = this.nextEphemeral;
      this.nextEphemeral = p === LAST_EPHEMERAL ? FIRST_EPHEMERAL : p + 1;
      if (!this.ephemeral.has(p)) {
        this.ephemeral.add(p);
        return p;
      }
    }
    throw new NetChannelError(ErrorCode.LIMIT, 'no free ephemeral virtual port found');
  }

  /** Frees an ephemeral port. */
  release(port: number): void {
    this.ephemeral.delete(port);
  }
}
