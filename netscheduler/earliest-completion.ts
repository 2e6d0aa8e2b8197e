/**
 * Earliest expected completion: each segment goes to the channel on which it would
 * arrive first, judged from what the channel already holds in flight, its measured
 * delivery rate and its path delay: `(inflight + bytes) / deliveryRate + minRtt` (the
 * queueing part of the RTT is already in `inflight / deliveryRate`). A channel at a
 * tenth of the others' rate therefore gets about a tenth of the bytes, and one that
 * stops making progress (its in-flight bytes stop draining) gets none. Channels with no
 * rate measured yet, or within `band` of the fastest, are taken as fast as the fastest; with no rate
 * known at all it degrades to shortest-queue (by bytes in flight). A socket stays on
 * its channel for up to `sticky` segments while that channel is within `slack` of the
 * best, which keeps batches large and reordering low between equal channels.
 * @packageDocumentation
 */
import { InvalidArgumentError } from '../errors/index.js';
import { positiveInt } from '../errors/validate.js';
import { definePolicy, hasRoom, type ChannelView, type PolicyFactory } from './policy.js';

/** Options of {@link earliestCompletion}. */
export interface EarliestCompletionOptions {
  /** Segments a socket keeps on a channel before moving to the next tie (as `roundRobin`). @default 6 */
  sticky?: number;
  /** Relative margin (0–1) within which a channel's expected completion counts as a tie with the best. @default 0.25 */
  slack?: number;
  /** Queued bytes above which a channel is skipped (besides its high-water mark). @default Infinity */
  threshold?: number;
  /**
   * A channel's own rate is used only when the fastest channel is more than `band`
   * times faster; closer rates count as equal. @default 3
   */
  band?: number;
}

/** Per-socket state: the rotation cursor and the segments left on the current channel. */
interface Stick {
  next: number;
  left: number;
}

/**
 * Bytes of slack added to the tie margin: about what channel-level acknowledgements
 * lag by (one ACK interval), so that ack timing alone never separates equal channels.
 */
const TIE_BYTES = 512 * 1024;

/**
 * Expected completion of `bytes` on `c` (seconds when a rate is known, else bytes in
 * flight). Rates within `band` of the fastest count as equal to it: on a shared core
 * (loopback, one event loop) every channel's measured rate is partly its offered load,
 * and treating near-equal channels as equal keeps them equal instead of letting the
 * busiest one win ever more.
 */
function completion(c: ChannelView, bytes: number, fastest: number, band: number): number {
  const rate = c.deliveryRate > 0 && c.deliveryRate * band < fastest ? c.deliveryRate : fastest;
  const ahead = c.inflightBytes + bytes;
  return rate > 0 ? ahead / rate + c.minRtt : ahead;
}

/** The earliest-completion policy factory (the default for the throughput class). */
export function earliestCompletion(options: EarliestCompletionOptions = {}): PolicyFactory {
  const sticky = positiveInt('sticky', options.sticky, 6);
  const threshold = positiveInt('threshold', options.threshold, Infinity);
  const slack = options.slack ?? 0.25;
  if (typeof slack !== 'number' || !(slack >= 0 && slack <= 1)) {
    throw new InvalidArgumentError(`options.slack must be a number in [0, 1], got ${JSON.stringify(options.slack)}`);
  }
  const band = options.band ?? 3;
  if (typeof band !== 'number' || !(band >= 1) || !Number.isFinite(band)) {
    throw new InvalidArgumentError(`options.band must be a finite number >= 1, got ${JSON.stringify(options.band)}`);
  }
  return definePolicy<Stick>('earliest-completion', () => ({
    createFlowState: () => ({ next: 0, left: 0 }),
    select(segment, channels) {
      if (segment.kind === 'control') return undefined; // the stack's default: least queued
      let fastest = 0;
      for (const c of channels) if (c.deliveryRate > fastest) fastest = c.deliveryRate;
      let bestAt = Infinity;
      for (const c of channels) {
        if (!hasRoom(c, threshold)) continue;
        const at = completion(c, segment.bytes, fastest, band);
        if (at < bestAt) bestAt = at;
      }
      if (bestAt === Infinity) return undefined;
      // Channels within the margin of the best are ties: rotate over them (sticky), so
      // equal channels share equally; clearly slower or stalled ones fall outside.
      const limit = bestAt * (1 + slack) + (fastest > 0 ? TIE_BYTES / fastest : TIE_BYTES);
      const stick = segment.state ?? { next: 0, left: 0 };
      const n = channels.length;
      const bytes = segment.bytes;
      const here = channels[stick.next % n]!;
      if (stick.left > 0 && hasRoom(here, threshold) && completion(here, bytes, fastest, band) <= limit) {
        stick.left--;
        return here;
      }
      for (let k = 1; k <= n; k++) {
        const i = (stick.next + k) % n;
        const c = channels[i]!;
        if (hasRoom(c, threshold) && completion(c, bytes, fastest, band) <= limit) {
          stick.next = i;
          stick.left = sticky - 1;
          return c;
        }
      }
      return undefined;
    },
  }));
}
