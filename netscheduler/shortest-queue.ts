/**
 * Shortest-queue-first: each segment goes to the channel with the fewest queued
 * bytes (ties: lowest index), skipping channels over the threshold.
 * @packageDocumentation
 */
import { definePolicy, positiveInt, type PolicyFactory } from './policy.js';

/** Options of {@link shortestQueue}. */
export interface ShortestQueueOptions {
  /**
   * Channels whose transmit queue holds this many bytes or more are skipped.
   * @default 2097152
   */
  threshold?: number;
}

/** The shortest-queue-first policy factory. */
export function shortestQueue(options: ShortestQueueOptions = {}): PolicyFactory {
  const threshold = positiveInt('threshold', options.threshold, 2 * 1024 * 1024);
  return definePolicy<null>('shortest-queue', () => ({
    name: 'shortest-queue',
    createFlowState: () => null,
    select(_segment, channels) {
      let best = channels[0]!;
      for (let i = 1; i < channels.length; i++) {
        const c = channels[i]!;
        if (c.txQueuedBytes < best.txQueuedBytes) best = c;
      }
      return best.txQueuedBytes < threshold ? best : undefined;
    },
  }));
}
