/**
 * The stack-wide memory budget for what peers make us hold: send retention (sent
 * DATA kept until acknowledged) and reorder buffers (out-of-order DATA). Per-socket
 * and per-peer caps bound each peer; this bounds their sum, whatever the number of
 * peers (host ids are free without `auth`).
 *
 * When a charge takes a total over its limit, the peer holding the most of it (the
 * most over its fair share `limit / peers holding memory`; on a tie the newest peer)
 * pays: a reorder charge by that very peer is refused (its socket is reset at once);
 * otherwise that peer's largest sockets are reset (RST LIMIT) in a microtask until the
 * total fits again. A peer under its fair share is never the one reset.
 * @packageDocumentation
 */
import type { LimitName } from '../events/index.js';

/** What the budget sees of one peer. */
export interface BudgetAccount {
  /** Send-retention plus reorder bytes charged to the peer. */
  budgetBytes: number;
  /** Reorder bytes charged to the peer. */
  budgetReorderBytes: number;
  /** Creation order (larger = newer). */
  readonly budgetSeq: number;
  /** Resets the peer's largest socket for `limit` (RST LIMIT); false when it has none to reset. */
  shed(limit: LimitName): boolean;
}

/** Totals and limits shared by every peer session of one stack. */
export class MemoryBudget {
  /** Send-retention plus reorder bytes held, all peers. */
  used = 0;
  /** Reorder bytes held, all peers. */
  reorderUsed = 0;
  private readonly accounts = new Set<BudgetAccount>();
  private shedQueued = false;
  private nextSeq = 0;

  constructor(
    /** Limit of {@link used}, bytes (`memoryBudget`). */
    readonly maxBytes: number,
    /** Limit of {@link reorderUsed}, bytes (`maxReorderBytes`). */
    readonly maxReorderBytes: number,
  ) {}

  /** A sequence number for a new account (newest = largest). */
  seq(): number {
    return this.nextSeq++;
  }

  /** Starts tracking a peer. */
  add(a: BudgetAccount): void {
    this.accounts.add(a);
  }

  /** Stops tracking a peer (its charges must have been returned). */
  remove(a: BudgetAccount): void {
    this.accounts.delete(a);
  }

  /**
   * Charges `delta` reorder bytes to `a` (negative: returns them). Returns the limit
   * that refuses the charge, or undefined when it was taken.
   */
  reserveReorder(a: BudgetAccount, delta: number): LimitName | undefined {
    if (delta > 0) {
      const limit = this.reorderUsed + delta > this.maxReorderBytes ? 'maxReorderBytes' : this.used + delta > this.maxBytes ? 'memoryBudget' : undefined;
      if (limit !== undefined && this.victim(limit, a, delta) === a) return limit;
      this.charge(a, delta, delta);
      if (limit !== undefined) this.queueShed();
      return undefined;
    }
    this.charge(a, delta, delta);
    return undefined;
  }

  /** Charges `delta` send-retention bytes to `a` (negative: returns them). */
  retain(a: BudgetAccount, delta: number): void {
    this.charge(a, delta, 0);
    if (delta > 0 && this.used > this.maxBytes) this.queueShed();
  }

  /** True while a total is over its limit. */
  get over(): LimitName | undefined {
    if (this.reorderUsed > this.maxReorderBytes) return 'maxReorderBytes';
    return this.used > this.maxBytes ? 'memoryBudget' : undefined;
  }

  private charge(a: BudgetAccount, delta: number, reorder: number): void {
    a.budgetBytes += delta;
    a.budgetReorderBytes += reorder;
    this.used += delta;
    this.reorderUsed += reorder;
  }

  /** The peer most over its share of `limit` (counting `extra` for `with`); ties: the newest. */
  private victim(limit: LimitName, withAcc?: BudgetAccount, extra = 0): BudgetAccount | undefined {
    let best: BudgetAccount | undefined;
    let bestBytes = 0;
    for (const a of this.accounts) {
      const held = (limit === 'maxReorderBytes' ? a.budgetReorderBytes : a.budgetBytes) + (a === withAcc ? extra : 0);
      if (held > bestBytes || (held === bestBytes && held > 0 && best !== undefined && a.budgetSeq > best.budgetSeq)) {
        best = a;
        bestBytes = held;
      }
    }
    return best;
  }

  private queueShed(): void {
    if (this.shedQueued) return;
    this.shedQueued = true;
    queueMicrotask(this.runQueuedShed);
  }

  private readonly runQueuedShed = (): void => {
    this.shedQueued = false;
    this.shed();
  };

  /** Resets sockets of the most-over-share peers until every total fits (bounded). */
  shed(): void {
    for (let i = 0; i < 10_000; i++) {
      const limit = this.over;
      if (limit === undefined) return;
      const v = this.victim(limit);
      if (v === undefined || !v.shed(limit)) return;
    }
  }
}
