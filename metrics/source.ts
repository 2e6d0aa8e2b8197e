/**
 * What {@link StackMetrics} reads: minimal structural views of a stack, its peer
 * sessions, their channels and sockets. A real `Stack` satisfies {@link MetricsSource};
 * tests may pass plain objects.
 * @packageDocumentation
 */
import type { Observable } from 'rxjs';
import type { AppClass } from '../netdriver/channel.js';
import type { StackEvent } from '../events/index.js';

/** The counters of one channel that metrics read (a subset of `Channel`). */
export interface ChannelLike {
  /** Address scheme of the driver, e.g. `tcp`; the `transport` label. */
  readonly scheme: string;
  /** Total frame bytes (header + payload) handed to the transport. */
  readonly bytesSent: number;
  /** Total frame bytes (header + payload) received from the transport. */
  readonly bytesReceived: number;
  /** Frames handed to the transport. */
  readonly framesSent: number;
  /** Frames received from the transport. */
  readonly framesReceived: number;
  /** Wire bytes queued for transmission. */
  readonly txQueuedBytes: number;
  /** Optional transport counters and gauges (`Channel.transportStats`). */
  transportStats?(): Readonly<Record<string, number>>;
  /** Wire bytes received but not yet dequeued. */
  readonly rxQueuedBytes: number;
}

/** A channel registered in a peer device (a subset of `DeviceChannel`). */
export interface DeviceChannelLike {
  /** Process-unique channel id; the `channel` label. */
  readonly id: number;
  /** Class negotiated in the HELLO; the `class` label. */
  readonly appClass: AppClass;
  /** False once the channel is draining (retired, ended or closing). */
  readonly usable: boolean;
  /** Bytes per second sent over the last control tick. */
  readonly throughput: number;
  /** Segments the scheduler placed on the channel so far. */
  readonly decisions: number;
  /** Fraction of recent control ticks with bytes queued or sent (EWMA, 0–1). */
  readonly busyRatio: number;
  /** Smoothed RTT, seconds (0 before the first sample). */
  readonly srtt: number;
  /** Acknowledged DATA bytes per second (0 while unknown). */
  readonly deliveryRate: number;
  /** DATA bytes sent and not yet acknowledged. */
  readonly inflightBytes: number;
  /** True while the channel is stale. */
  readonly stale: boolean;
  /** The underlying channel. */
  readonly channel: ChannelLike;
}

/** The counters of one virtual socket that metrics read (a subset of `VirtualSocket`). */
export interface SocketLike {
  /** Traffic class; the `class` label. */
  readonly appClass: AppClass;
  /** Times the sender ran out of credit. */
  readonly creditStalls: number;
  /** Payload bytes delivered to the application. */
  readonly bytesRead: number;
  /** Payload bytes accepted by `write()`. */
  readonly bytesWritten: number;
  /**
   * True once the socket was destroyed. A destroyed socket may stay in the connection
   * table for a while (lingering until its data is acknowledged); metrics then count
   * it through its `socket-closed` event instead.
   */
  readonly destroyed: boolean;
}

/** One peer host (a subset of `PeerSession`). */
export interface PeerLike {
  /** Host id of the peer (the `peer` label). */
  readonly remoteHostId: string;
  /** The peer's channels. */
  readonly device: { readonly channels: readonly DeviceChannelLike[] };
  /** The connection table: sockets to the peer (destroyed ones may linger in it). */
  readonly sockets: ReadonlyMap<number, SocketLike>;
}

/** What {@link StackMetrics} observes; a `Stack` is one. */
export interface MetricsSource {
  /** Host id of the observed stack. */
  readonly hostId: string;
  /** Live peer sessions. */
  readonly peers: readonly PeerLike[];
  /** The stack's event stream; completes when the stack closes. */
  readonly events$: Observable<StackEvent>;
}
