/**
 * Events a stack publishes on `stack.events$` (an rxjs Observable): channels coming
 * and going, sockets opening and closing, remapping, head-of-line blocking and
 * scaling decisions with their inputs. Every layer publishes through an injected
 * {@link EventSink}; metrics and diagnostics subscribe to the stream (nothing in the
 * data path reads it).
 * @packageDocumentation
 */
import type { AppClass } from '../netdriver/channel.js';

/** Fields every event has. */
interface EventBase {
  /** `Date.now()` when it happened. */
  readonly at: number;
  /** Host id of the peer concerned. */
  readonly peer: string;
}

/** A channel joined a peer device. */
export interface ChannelAddedEvent extends EventBase {
  readonly type: 'channel-added';
  readonly channelId: number;
  readonly appClass: AppClass;
  readonly index: number;
  readonly transport: string;
}

/** A channel left a peer device. */
export interface ChannelRemovedEvent extends EventBase {
  readonly type: 'channel-removed';
  readonly channelId: number;
  readonly appClass: AppClass;
  readonly index: number;
  readonly transport: string;
  /** `closed`: graceful; `failed`: transport error (see `error`). */
  readonly reason: 'closed' | 'failed';
  readonly error?: string;
  /** Error code when failed. */
  readonly code?: string;
}

/**
 * A channel went stale (holds unacknowledged data and made no progress for
 * `max(4 × srtt, staleAfter)`: it is skipped and its segments are reinjected on the
 * others), recovered (made progress again), or was found late (other channels of its
 * class delivered bytes sent after its oldest unacknowledged one, which has waited
 * past the reordering allowance: it is skipped and its segments reinjected until it
 * catches up; see docs/scheduler.md).
 */
export interface ChannelStaleEvent extends EventBase {
  readonly type: 'channel-stale' | 'channel-recovered' | 'channel-late';
  readonly channelId: number;
  readonly appClass: AppClass;
  readonly index: number;
  readonly transport: string;
  /** DATA bytes sent on it and not acknowledged, bytes. */
  readonly inflightBytes: number;
  /** `channel-stale`: milliseconds without progress; `channel-late`: how long its oldest unacknowledged byte has waited; `channel-recovered`: 0. */
  readonly silentMs: number;
}

/** Multipath: an address the peer advertised was not used (unreachable, or another host behind it). */
export interface PathRejectedEvent extends EventBase {
  readonly type: 'path-rejected';
  readonly address: string;
  readonly code: string;
  readonly error: string;
}

/** An inbound channel was refused before joining a device (bad HELLO, auth, limits). */
export interface ChannelRejectedEvent extends EventBase {
  readonly type: 'channel-rejected';
  readonly transport: string;
  readonly remoteAddress: string;
  readonly code: string;
  readonly error: string;
}

/** A virtual socket opened (connected or accepted). */
export interface SocketOpenedEvent extends EventBase {
  readonly type: 'socket-opened';
  readonly appClass: AppClass;
  readonly localPort: number;
  readonly remotePort: number;
  /** `connect` or `accept`. */
  readonly side: 'connect' | 'accept';
  /** Connect side: milliseconds from SYNC to SYNC_ACK. */
  readonly handshakeMs?: number;
}

/** A virtual socket closed. */
export interface SocketClosedEvent extends EventBase {
  readonly type: 'socket-closed';
  readonly appClass: AppClass;
  readonly localPort: number;
  readonly remotePort: number;
  readonly bytesRead: number;
  readonly bytesWritten: number;
  /** Times the sender ran out of credit (flow-control stalls). */
  readonly creditStalls: number;
  /** Error code if it closed with an error. */
  readonly code?: string;
}

/** A connect was refused or failed before opening. */
export interface SocketRefusedEvent extends EventBase {
  readonly type: 'socket-refused';
  readonly appClass: AppClass;
  readonly remotePort: number;
  readonly code: string;
}

/** The scheduler changed how a socket is mapped onto channels. */
export interface SocketRemappedEvent extends EventBase {
  readonly type: 'socket-remapped';
  readonly localPort: number;
  readonly remotePort: number;
  /** `pinned`: confined to one channel; `shared`: back to the class policy. */
  readonly mapping: 'pinned' | 'shared';
  readonly channelId?: number;
}

/** Head-of-line blocking by a non-reading socket was detected or resolved. */
export interface HolEvent extends EventBase {
  readonly type: 'hol-detected' | 'hol-resolved';
  readonly localPort: number;
  readonly remotePort: number;
  /** Receive buffer (window) of the socket after the change, bytes. */
  readonly windowBytes: number;
}

/** The control loop's scaling step decided a channel count for a class. */
export interface ScalingEvent extends EventBase {
  readonly type: 'scaling';
  readonly appClass: AppClass;
  readonly policy: string;
  readonly from: number;
  readonly to: number;
  readonly direction: 'up' | 'down';
  /** What the decision was based on. */
  readonly inputs: { readonly blockedWaits: number; readonly meanOccupancy: number; readonly throughput: number };
}

/**
 * The elastic controller of a worker pool (channel workers or copy workers, see
 * docs/multicore.md) changed its active worker count or parked idle workers. Not about
 * one peer: `peer` is empty.
 */
export interface WorkerScalingEvent extends EventBase {
  readonly type: 'worker-scaling';
  readonly kind: 'channel' | 'copy';
  readonly action: 'add' | 'remove' | 'park';
  /** Active workers before and after. */
  readonly from: number;
  readonly to: number;
  /** Idle capacity of the active workers in the sample that decided it, in cores. */
  readonly idleCapacity: number;
  /** Workers parked by this decision (copy workers only). */
  readonly parked: number;
}

/**
 * Names of the limits a peer can run into (the `limit` of a {@link LimitHitEvent} and
 * the label of `netchannel_limit_hits_total`): a fixed set, so labels stay bounded.
 */
export const LIMIT_NAMES = [
  'maxPeers',
  'maxSessionsPerIp',
  'maxPendingHandshakes',
  'maxPendingHandshakesPerIp',
  'handshakeFirstByteTimeout',
  'helloTimeout',
  'maxSockets',
  'maxSocketsPerPeer',
  'maxSocketsPerIp',
  'maxReorderBytes',
  'maxReorderBytesPerPeer',
  'memoryBudget',
] as const;

/** One of {@link LIMIT_NAMES}. */
export type LimitName = (typeof LIMIT_NAMES)[number];

/**
 * A limit was hit: a channel refused or dropped in its HELLO, a SYNC refused, or a
 * socket reset (RST LIMIT) to keep memory within a budget. `peer` is empty when the
 * host id is not known yet (handshake limits).
 */
export interface LimitHitEvent extends EventBase {
  readonly type: 'limit-hit';
  readonly limit: LimitName;
  /** Remote address of the channel concerned, when known. */
  readonly remoteAddress?: string;
}

/** Every event on `stack.events$`. */
export type StackEvent =
  | ChannelAddedEvent
  | ChannelRemovedEvent
  | ChannelRejectedEvent
  | ChannelStaleEvent
  | PathRejectedEvent
  | SocketOpenedEvent
  | SocketClosedEvent
  | SocketRefusedEvent
  | SocketRemappedEvent
  | HolEvent
  | ScalingEvent
  | WorkerScalingEvent
  | LimitHitEvent;

/** Where components publish events (a Subject's `next`). */
export type EventSink = (event: StackEvent) => void;
