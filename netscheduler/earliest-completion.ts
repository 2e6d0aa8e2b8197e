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
 *
 * A channel at a tenth of the fastest or slower is also skipped when it would block
 * the socket's window (BLEST): when, by the time it delivers the segment, the other
 * channels could have sent more than the socket's send window — the receiver would
 * wait for that segment with a full window, and the whole socket with it.
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
  const rate = effectiveRate(c, fastest, band);
  const ahead = c.inflightBytes + bytes;
  return rate > 0 ? ahead / rate + c.minRtt : ahead;
}

/** The rate `c` is judged by: its own when clearly slower than the fastest, else the fastest's. */
function effectiveRate(c: ChannelView, fastest: number, band: number): number {
  return c.deliveryRate > 0 && c.deliveryRate * band < fastest ? c.deliveryRate : fastest;
}

/**
 * BLEST (blocking estimation): true when a much slower channel would deliver the
 * segment only after the other channels, at `total` bytes per second together, could
 * have sent the socket's whole window — the receiver would then wait for it with a
 * full window, and the socket stall. Channels judged at the fastest rate never block.
 */
function blocks(c: ChannelView, at: number, fastest: number, band: number, total: number, window: number): boolean {
  const rate = effectiveRate(c, fastest, band);
  return rate * BLEST_BAND < fastest && at * (total - rate) > window;
}

/**
 * BLEST skips only channels this many times slower than the fastest: a channel it
 * skips gets no data, so takes no new rate samples, and a rate misjudged by a few
 * times on a loaded machine (a busy event loop on either side) must not shut a
 * channel out for as long as its samples last.
 */
const BLEST_BAND = 10;

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
      const window = segment.sendWindow ?? Infinity;
      // The others' combined rate, for BLEST: only needed when the window is known.
      let total = 0;
      if (fastest > 0 && window !== Infinity) for (const c of channels) total += effectiveRate(c, fastest, band);
      let bestAt = Infinity;
      for (const c of channels) {
        const at = completion(c, segment.bytes, fastest, band);
        if (at < bestAt && hasRoom(c, threshold) && !blocks(c, at, fastest, band, total, window)) bestAt = at;
      }
      if (bestAt === Infinity) return undefined;
      // Channels within the margin of the best are ties: rotate over them (sticky), so
      // equal channels share equally; clearly slower or stalled ones fall outside.
      const limit = bestAt * (1 + slack) + (fastest > 0 ? TIE_BYTES / fastest : TIE_BYTES);
      const stick = segment.state ?? { next: 0, left: 0 };
      const n = channels.length;
      const bytes = segment.bytes;
      const here = channels[stick.next % n]!;
      let at = completion(here, bytes, fastest, band);
      if (stick.left > 0 && at <= limit && hasRoom(here, threshold) && !blocks(here, at, fastest, band, total, window)) {
        stick.left--;
        return here;
      }
      for (let k = 1; k <= n; k++) {
        const i = (stick.next + k) % n;
        const c = channels[i]!;
        at = completion(c, bytes, fastest, band);
        if (at <= limit && hasRoom(c, threshold) && !blocks(c, at, fastest, band, total, window)) {
          stick.next = i;
          stick.left = sticky - 1;
          return c;
        }
      }
      return undefined;
    },
  }));
}
