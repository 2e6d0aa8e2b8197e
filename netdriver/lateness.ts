/**
 * Lateness between the channels of one class, RACK-style (RFC 8985, applied across
 * channels instead of across packets): a channel is **late** when bytes sent on
 * another channel of its class *after* its oldest unacknowledged byte have been
 * acknowledged, and that oldest byte has been waiting for more than
 * `LATE_FACTOR × (the other channel's delivery delay) + the reordering allowance + its path's min RTT`
 * — without the first term once no other channel of the class is backlogged.
 *
 * A late channel holds up every socket whose next in-order byte it carries (the
 * receiver cannot deliver past it, and the sender's window fills), typically a
 * channel much slower than the others before its rate is measured. The device skips
 * it and the sockets reinject what it holds on the others (MPTCP's opportunistic
 * retransmission); it is used again once it has acknowledged everything it held when
 * found late. Unlike staleness this needs no silence: a channel that still trickles
 * is late as soon as the others have clearly overtaken it.
 * @packageDocumentation
 */
import type { AppClass } from './channel.js';
import { BACKLOG_BYTES, type ACK_DELAY_MS, type ChannelFeedback } from './feedback.js';

/**
 * Smallest reordering allowance, milliseconds: well above the delayed-ACK period
 * ({@link ACK_DELAY_MS}) and the 5–12 ms by which a busy receiver (a GC pause between
 * reading two channels) makes equal loopback channels lag one another.
 */
export const MIN_REORDER_MS = 15;
/** Largest reordering allowance, milliseconds. */
export const MAX_REORDER_MS = 250;

/** How many of the quickest other channel's delivery delays a channel's oldest byte may wait. */
export const LATE_FACTOR = 3;

/** What the check reads of a channel. */
export interface LatenessSubject {
  readonly appClass: AppClass;
  /** False once the channel no longer takes new frames. */
  readonly usable: boolean;
  /** Smallest recent RTT sample, seconds (0 before the first). */
  readonly minRtt: number;
  /** Address the channel was dialed at (undefined for accepted channels): channels with the same path share its delay. */
  readonly path?: string | undefined;
  readonly feedback: ChannelFeedback;
}

/**
 * Finds late channels. Its reordering allowance adapts as RACK's does: it starts at
 * {@link MIN_REORDER_MS}, doubles (up to {@link MAX_REORDER_MS}) whenever a late
 * channel turns out to have had a hiccup (a loaded event loop on either side), not to
 * be slow — see {@link LatenessDetector.caughtUp} — and decays back by 1/32 per
 * control tick.
 */
export class LatenessDetector {
  /** The current reordering allowance, milliseconds. */
  reorderMs = MIN_REORDER_MS;

  /**
   * Appends to `out` the channels of `channels` that are late at `now` (ms) and not
   * yet marked late or stale; returns the earliest time (ms) at which another one may
   * become late without any further ACK (Infinity when none can), for a timer.
   */
  find<C extends LatenessSubject>(channels: readonly C[], now: number, out: C[]): number {
    let next = Infinity;
    for (const c of channels) {
      const fb = c.feedback;
      // Control frames count too: a CREDIT stuck on a channel holds up the peer's sender.
      if (!c.usable || fb.late || fb.stale || fb.inflightBytes === 0) continue;
      const oldest = fb.clock.oldestUnackedAt;
      let allowance = Infinity;
      let othersIdle = true;
      // The path's delay: the smallest RTT measured on its channels (a channel's own probes queue behind its data).
      let pathRtt = Infinity;
      for (const d of channels) {
        if (d.appClass !== c.appClass || !d.usable) continue;
        if (d.path === c.path && d.minRtt > 0 && d.minRtt < pathRtt) pathRtt = d.minRtt;
        if (d === c) continue;
        const clock = d.feedback.clock;
        if (clock.newestAckedSentAt > oldest) allowance = Math.min(allowance, LATE_FACTOR * clock.ackDelay);
        if (d.feedback.inflightBytes >= BACKLOG_BYTES) othersIdle = false;
      }
      if (allowance === Infinity) continue;
      // Once no other channel is backlogged the sender waits on this one alone: only the allowance applies.
      const deadline = oldest + (othersIdle ? 0 : allowance) + this.reorderMs + (pathRtt === Infinity ? 0 : pathRtt * 1000);
      if (now >= deadline) out.push(c);
      else if (deadline < next) next = deadline;
    }
    return next;
  }

  /**
   * A late channel caught up `lateForMs` after it was found late, having delivered
   * `delivered` bytes meanwhile while the other channels of its class delivered
   * `othersDelivered` each on average. A hiccup, not a slow channel, when it caught up
   * sooner than the allowance, or delivered at least a {@link LATE_FACTOR}th of what
   * the others did (a pause of either event loop holds up every channel alike).
   */
  caughtUp(lateForMs: number, delivered: number, othersDelivered: number): void {
    if (lateForMs < this.reorderMs || delivered * LATE_FACTOR >= othersDelivered) this.reorderMs = Math.min(MAX_REORDER_MS, 2 * this.reorderMs);
  }

  /** Bytes acknowledged on the other usable channels of `c`'s class, per channel on average (0 when there are none). */
  othersAcked<C extends LatenessSubject>(c: C, channels: readonly C[]): number {
    let sum = 0;
    let n = 0;
    for (const d of channels) {
      if (d === c || d.appClass !== c.appClass || !d.usable) continue;
      sum += d.feedback.dataAcked;
      n++;
    }
    return n > 0 ? sum / n : 0;
  }

  /** Control tick: the allowance decays towards its minimum. */
  tick(): void {
    this.reorderMs = Math.max(MIN_REORDER_MS, this.reorderMs * (31 / 32));
  }
}
