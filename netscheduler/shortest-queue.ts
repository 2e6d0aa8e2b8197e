/**
 * Shortest-queue-first: each segment goes to the channel with the fewest queued
 * bytes (ties: lowest index), skipping channels over the threshold.
 * @packageDocumentation
 */
import { positiveInt } from '../errors/validate.js';
import { definePolicy, type PolicyFactory } from './policy.js';

/** Options of {@link shortestQueue}. */
export interface ShortestQueueOptions {
  /**
   * Channels whose transmit queue holds this many bytes or more are skipped.
   * @default each channel's txHighWaterMark
   */
  threshold?: number;
}

/** The shortest-queue-first policy factory. */
export function shortestQueue(options: ShortestQueueOptions = {}): PolicyFactory {
  const threshold = positiveInt('threshold', options.threshold, Infinity);
  return definePolicy<null>('shortest-queue', () => ({
    createFlowState: () => null,
    select(_segment, channels) {
      let best = channels[0]!;
      for (let i = 1; i < channels.length; i++) {
        const c = channels[i]!;
        if (c.txQueuedBytes < best.txQueuedBytes) best = c;
      }
      return best.txQueuedBytes < Math.min(threshold, best.txHighWaterMark) ? best : undefined;
    },
  }));
}
