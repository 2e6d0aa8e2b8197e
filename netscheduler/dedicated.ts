/**
 * Dedicated latency channels: for the latency class. A latency socket is pinned to
 * one latency channel (spread by port hash) and never waits behind a queue
 * threshold — latency segments are small and must not be held back. The stack never
 * gives latency channels to throughput sockets while isolation is on.
 * @packageDocumentation
 */
import { definePolicy, type PolicyFactory } from './policy.js';
import { portHash } from './source-port-hash.js';

/** The dedicated-latency policy factory. */
export function dedicated(): PolicyFactory {
  return definePolicy<{ hash: number }>('dedicated', () => ({
    createFlowState: (localPort, remotePort) => ({ hash: portHash(localPort, remotePort) }),
    select(segment, channels) {
      if (segment.kind === 'control') return undefined; // the stack's default: least queued
      return channels[segment.state.hash % channels.length];
    },
  }));
}
