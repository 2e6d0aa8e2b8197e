/**
 * The channel-selection contract: given one segment and the candidate channels,
 * pick the channel that carries it — or none, which makes the socket wait.
 * @packageDocumentation
 */
import type { AppClass } from '../netdriver/channel.js';
import { definePlugin, hasBrand, type PluginComponents, type PluginFactory } from './plugin.js';

export type { PluginComponents } from './plugin.js';

/** A channel as a policy sees it: class, index, occupancy and measured feedback. */
export interface ChannelView {
  /** Process-unique channel id. */
  readonly id: number;
  /** Index within its class, as negotiated in the HELLO. */
  readonly index: number;
  /** Channel class. */
  readonly appClass: AppClass;
  /** Bytes queued for transmission in the channel (user space), bytes. */
  readonly txQueuedBytes: number;
  /** The channel's transmit high-water mark, bytes. */
  readonly txHighWaterMark: number;
  /** Total bytes sent so far. */
  readonly bytesSent: number;
  /** Bytes per second sent over the last control tick. */
  readonly throughput: number;
  /**
   * Smoothed round-trip time in seconds, measured by PING/PONG on this channel (so it
   * includes queueing ahead of the peer); 0 before the first sample.
   */
  readonly srtt: number;
  /** Smallest recent RTT sample in seconds: the path's delay without queueing; 0 before the first sample. */
  readonly minRtt: number;
  /**
   * Delivery rate in bytes per second: DATA bytes the peer acknowledged on this channel
   * (channel-level ACKs): the max of the recent control-tick samples taken while the
   * channel was backlogged (samples expire after 10 s); 0 while unknown (fewer than 3 samples).
   */
  readonly deliveryRate: number;
  /** DATA payload bytes handed to this channel (queued or on the wire) and not yet acknowledged, bytes. */
  readonly inflightBytes: number;
  /** `performance.now()` (milliseconds) of the last acknowledgement progress on this channel. */
  readonly lastProgressAt: number;
  /**
   * True while the channel holds unacknowledged data and made no progress for
   * `max(4 × srtt, staleAfter)`. Stale channels are left out of the candidates unless
   * every channel of the class is stale.
   */
  readonly stale: boolean;
  /**
   * True while this end has received bytes on the channel that it has not acknowledged
   * yet: the next frame sent on it carries the channel-level ACK along (same write), which
   * saves the peer a wake-up for a separate ACK. Undefined where unknown.
   */
  readonly ackPending?: boolean;
  /** `performance.now()` (milliseconds) when a frame last arrived on the channel. Undefined where unknown. */
  readonly lastRxAt?: number;
}

/** What is being placed: a DATA segment, or a control frame (SYNC, CREDIT, FIN, RST). */
export type SegmentKind = 'data' | 'control';

/** One segment waiting for a channel. */
export interface SegmentContext<S = unknown> {
  /** `data` for payload segments; `control` for control frames, which are never refused. */
  readonly kind: SegmentKind;
  /** Payload bytes of the segment (0 for control frames). */
  readonly bytes: number;
  /** Class of the virtual socket that sends it. */
  readonly appClass: AppClass;
  /** The socket's local virtual port (0 for a frame that belongs to no socket). */
  readonly localPort: number;
  /** The socket's remote virtual port (0 for a frame that belongs to no socket). */
  readonly remotePort: number;
  /**
   * The socket's send window: the most bytes the peer lets it have unacknowledged (its
   * latest grant), bytes. A segment that arrives late holds up the whole window, so a
   * policy may keep a slow channel for segments it delivers before the others could
   * send a window's worth (BLEST). Undefined for control frames, or when unknown.
   */
  readonly sendWindow?: number;
  /**
   * Per-socket state the policy created with {@link SchedulingPolicy.createFlowState};
   * undefined for control frames that belong to no socket, or when the policy keeps none.
   */
  readonly state: S;
}

/**
 * A channel-selection policy. One instance serves one class of one stack; it must be
 * cheap (it runs once per segment) and should not allocate on the hot path.
 */
export interface SchedulingPolicy<S = unknown> {
  /** Short name for metrics and events (set from the factory's name). */
  readonly name: string;
  /** Creates the per-socket state handed back in every {@link SegmentContext}. Optional. */
  createFlowState?(localPort: number, remotePort: number): S;
  /**
   * Picks one of `channels` (never empty) for `segment`, or returns `undefined` when
   * every acceptable channel is full: the socket then waits for a channel to become
   * writable and asks again. Never drop. For a `control` segment, `undefined` means
   * "no preference": the stack then uses the least-queued channel (control frames
   * are never held back).
   */
  select(segment: SegmentContext<S>, channels: readonly ChannelView[]): ChannelView | undefined;
}

/** What a stack hands to policy factories. */
export type PolicyComponents = PluginComponents;

/** Brand marking a function as a policy factory. */
export const POLICY_FACTORY: unique symbol = Symbol.for('netchannel.policy-factory');

/** A policy plug-in: `createStack({ scheduler: { throughput: roundRobin() } })`. */
export type PolicyFactory = PluginFactory<SchedulingPolicy, typeof POLICY_FACTORY>;

/**
 * Brands `create` as a policy factory named `name`; built-in and third-party policies
 * both use it. The instances get `name` from here.
 */
export function definePolicy<S>(name: string, create: (components: PolicyComponents) => Omit<SchedulingPolicy<S>, 'name'>): PolicyFactory {
  return definePlugin(POLICY_FACTORY, 'policy', name, create as (components: PolicyComponents) => SchedulingPolicy);
}

/** True when `value` was made by {@link definePolicy}. */
export function isPolicyFactory(value: unknown): value is PolicyFactory {
  return hasBrand(value, POLICY_FACTORY);
}

/**
 * The least-queued of `channels` (never empty): where control frames go by default.
 * Ties (on loopback every user-space queue is usually empty) go to the channel with
 * the fewest bytes in flight (a channel that stopped delivering keeps its in-flight
 * bytes and stops getting control frames too), then to one with an ACK pending, the
 * most recently heard from first (the frame carries the ACK along, and a reply goes
 * back on the channel the request came in on), then to the first.
 */
export function leastQueued<C extends ChannelView>(channels: readonly C[]): C {
  let best = channels[0]!;
  for (let i = 1; i < channels.length; i++) {
    if (lessQueued(channels[i]!, best)) best = channels[i]!;
  }
  return best;
}

/**
 * True when `a` is less queued than `b`: fewer bytes queued; or as many and fewer in
 * flight; or as many of both and `a` has an ACK pending where `b` has none, or both
 * have and a frame arrived on `a` more recently.
 */
export function lessQueued(a: ChannelView, b: ChannelView): boolean {
  if (a.txQueuedBytes !== b.txQueuedBytes) return a.txQueuedBytes < b.txQueuedBytes;
  if (a.inflightBytes !== b.inflightBytes) return a.inflightBytes < b.inflightBytes;
  if (a.ackPending !== true) return false;
  return b.ackPending !== true || (a.lastRxAt ?? 0) > (b.lastRxAt ?? 0);
}

/** True when `channel` has transmit room below `threshold` and its high-water mark. */
export function hasRoom(channel: ChannelView, threshold = Infinity): boolean {
  return channel.txQueuedBytes < Math.min(threshold, channel.txHighWaterMark);
}
