/**
 * Stack-wide limits above the peer: socket slots (total and per remote IP), peer
 * sessions per remote IP, and the memory budget. Host ids are free without `auth`,
 * so per-peer caps alone multiply with fresh host ids; these do not.
 * @packageDocumentation
 */
import type { LimitName } from '../events/index.js';
import { MemoryBudget } from '../vns/memory-budget.js';
import type { SessionLimits } from '../vns/session-limits.js';
import type { ResolvedStackOptions } from './options.js';

type LimitOptions = Pick<ResolvedStackOptions, 'maxPeers' | 'maxSessionsPerIp' | 'maxSockets' | 'maxSocketsPerIp' | 'maxReorderBytes' | 'memoryBudget'>;

/** Counters and limits of one stack. */
export class StackLimits implements SessionLimits {
  readonly budget: MemoryBudget;
  /** Sockets in every connection table. */
  sockets = 0;
  private readonly socketsByIp = new Map<string, number>();
  private readonly sessionsByIp = new Map<string, number>();

  constructor(private readonly o: LimitOptions) {
    this.budget = new MemoryBudget(o.memoryBudget, o.maxReorderBytes);
  }

  admitSocket(ip: string | undefined): LimitName | undefined {
    if (this.sockets >= this.o.maxSockets) return 'maxSockets';
    if (ip !== undefined && (this.socketsByIp.get(ip) ?? 0) >= this.o.maxSocketsPerIp) return 'maxSocketsPerIp';
    return undefined;
  }

  socketAdded(ip: string | undefined): void {
    this.sockets++;
    if (ip !== undefined) bump(this.socketsByIp, ip, 1);
  }

  socketRemoved(ip: string | undefined): void {
    this.sockets--;
    if (ip !== undefined) bump(this.socketsByIp, ip, -1);
  }

  /** Whether a new peer session may be accepted from `ip` with `peers` sessions open; the limit that refuses it, if any. */
  admitSession(ip: string | undefined, peers: number): LimitName | undefined {
    if (peers >= this.o.maxPeers) return 'maxPeers';
    if (ip !== undefined && (this.sessionsByIp.get(ip) ?? 0) >= this.o.maxSessionsPerIp) return 'maxSessionsPerIp';
    return undefined;
  }

  /** An accepted session from `ip` started (+1) or ended (-1). */
  sessionCount(ip: string | undefined, delta: 1 | -1): void {
    if (ip !== undefined) bump(this.sessionsByIp, ip, delta);
  }

  /** Accepted sockets from `ip` (for tests and diagnostics). */
  socketsFrom(ip: string): number {
    return this.socketsByIp.get(ip) ?? 0;
  }
}

function bump(map: Map<string, number>, key: string, delta: number): void {
  const n = (map.get(key) ?? 0) + delta;
  if (n <= 0) map.delete(key);
  else map.set(key, n);
}
