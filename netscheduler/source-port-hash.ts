/**
 * Source-port hash: every segment of a socket rides the same channel, chosen by a
 * hash of its ports (the reference module's default). When that channel is over the
 * threshold the socket waits rather than moving, so its bytes never reorder.
 * @packageDocumentation
 */
import { positiveInt } from '../errors/validate.js';
import { definePolicy, type PolicyFactory } from './policy.js';

/** Options of {@link sourcePortHash}. */
export interface SourcePortHashOptions {
  /**
   * The socket waits while its channel's transmit queue holds this many bytes or more.
   * @default the channel's txHighWaterMark
   */
  threshold?: number;
}

/** 32-bit integer mix (Murmur3 finalizer) of the two ports. */
export function portHash(localPort: number, remotePort: number): number {
  let h = (Math.imul(localPort, 0x9e3779b1) ^ remotePort) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The source-port hash policy factory. */
export function sourcePortHash(options: SourcePortHashOptions = {}): PolicyFactory {
  const threshold = positiveInt('threshold', options.threshold, Infinity);
  return definePolicy<{ hash: number }>('source-port-hash', () => ({
    createFlowState: (localPort, remotePort) => ({ hash: portHash(localPort, remotePort) }),
    select(segment, channels) {
      if (segment.kind === 'control') return undefined; // the stack's default: least queued
      const ch = channels[segment.state.hash % channels.length]!;
      return ch.txQueuedBytes < Math.min(threshold, ch.txHighWaterMark) ? ch : undefined;
    },
  }));
}
