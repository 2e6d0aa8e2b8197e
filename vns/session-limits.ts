/**
 * What a peer session asks its stack before it holds more for a peer: a socket slot
 * (stack-wide and per remote IP) and memory (the {@link MemoryBudget}). Limits hit are
 * reported as `limit-hit` events by the session.
 * @packageDocumentation
 */
import type { LimitName } from '../events/index.js';
import type { MemoryBudget } from './memory-budget.js';

/** Stack-wide limits a session consults. */
export interface SessionLimits {
  /** Memory budget for send retention and reorder buffers, all peers. */
  readonly budget: MemoryBudget;
  /**
   * Whether one more socket may open: `ip` is the peer's address key for an accepted
   * socket (undefined for a socket this stack connects). Returns the limit that
   * refuses it, or undefined.
   */
  admitSocket(ip: string | undefined): LimitName | undefined;
  /** A socket joined a connection table (`ip` as for {@link admitSocket}). */
  socketAdded(ip: string | undefined): void;
  /** A socket left a connection table (`ip` as it was added with). */
  socketRemoved(ip: string | undefined): void;
}

/**
 * The per-IP key of a remote address: the host of `scheme://host:port` (IPv6 without
 * brackets), or undefined for addresses without a host and port (unix, memory), which
 * per-IP limits do not apply to.
 */
export function ipKey(address: string): string | undefined {
  const m = /^[a-z][a-z0-9+.-]*:\/\/(?:\[([0-9a-f:.]+)\]|([^:/[\]]+)):\d{1,5}$/i.exec(address);
  return m ? (m[1] ?? m[2]!).toLowerCase() : undefined;
}
