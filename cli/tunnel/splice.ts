/**
 * Joins two byte streams like a TCP proxy: bytes flow both ways with backpressure,
 * an end (FIN) on one side ends the other side's writable half (half-close), and an
 * abortive close (error, reset, destroy) on one side resets the other.
 * @packageDocumentation
 */
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { VirtualSocket } from '../../vns/virtual-socket.js';

/**
 * Resets a stream: a TCP socket is closed with RST and a virtual socket with
 * `resetAndDestroy()` (its peer sees NETCHANNEL_ERR_CONNECTION_RESET); anything else is destroyed.
 */
export function reset(s: Duplex): void {
  if (s.destroyed) return;
  if (s instanceof VirtualSocket || (s instanceof Socket && !s.connecting)) s.resetAndDestroy();
  else s.destroy();
}

/** True when `s` closed after both halves finished normally. */
function closedCleanly(s: Duplex): boolean {
  return s.readableEnded && s.writableFinished && !s.errored;
}

/** Options of {@link splice}. */
export interface SpliceOptions {
  /** `a` is already piped into `b` (e.g. bytes sent ahead of a handshake reply). @default false */
  aPipedToB?: boolean;
}

/**
 * Pipes `a` ↔ `b`. Both should be created with `allowHalfOpen: true` so that one
 * direction can keep flowing after the other ended. Resolves once both are closed.
 */
export function splice(a: Duplex, b: Duplex, options: SpliceOptions = {}): Promise<void> {
  const closed = (s: Duplex): Promise<void> => new Promise((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve())));
  const watch = (s: Duplex, other: Duplex): void => {
    // Errors are expected here (resets); they are turned into a reset of the other side.
    s.on('error', () => reset(other));
    s.once('close', () => {
      if (!closedCleanly(s)) reset(other);
    });
  };
  watch(a, b);
  watch(b, a);
  if (!options.aPipedToB) a.pipe(b);
  b.pipe(a);
  return Promise.all([closed(a), closed(b)]).then(() => undefined);
}
