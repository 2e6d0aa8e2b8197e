/**
 * Sticky round-robin: a socket's segments rotate over all channels of its class,
 * staying on one channel for `sticky` segments, skipping channels above the queue
 * threshold. The reference module's default stickiness is 6 segments.
 * @packageDocumentation
 */
import { positiveInt } from '../errors/validate.js';
import { definePolicy, type PolicyFactory } from './policy.js';

/** Options of {@link roundRobin}. */
export interface RoundRobinOptions {
  /**
   * Segments sent on one channel before moving to the next.
   * @default 6
   */
  sticky?: number;
  /**
   * A channel whose transmit queue holds this many bytes or more is skipped.
   * @default each channel's txHighWaterMark (2 MiB unless configured)
   */
  threshold?: number;
}

/** Per-socket round-robin position. */
interface Cursor {
  next: number;
  left: number;
}

/** The sticky round-robin policy factory. */
export function roundRobin(options: RoundRobinOptions = {}): PolicyFactory {
  const sticky = positiveInt('sticky', options.sticky, 6);
  const threshold = positiveInt('threshold', options.threshold, Infinity);
  return definePolicy<Cursor>('round-robin', () => ({
    createFlowState: () => ({ next: 0, left: sticky }),
    select(segment, channels) {
      if (segment.kind === 'control') return undefined; // the stack's default: least queued
      const cur = segment.state;
      const n = channels.length;
      let i = cur.next % n;
      if (cur.left > 0) {
        const ch = channels[i]!;
        if (ch.txQueuedBytes < Math.min(threshold, ch.txHighWaterMark)) {
          cur.left--;
          return ch;
        }
      }
      for (let k = 1; k <= n; k++) {
        i = (cur.next + k) % n;
        const ch = channels[i]!;
        if (ch.txQueuedBytes < Math.min(threshold, ch.txHighWaterMark)) {
          cur.next = i;
          cur.left = sticky - 1;
          return ch;
        }
      }
      return undefined;
    },
  }));
}
