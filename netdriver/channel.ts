/**
 * The channel contract (thesis Table 3.2): a reliable, ordered pipe of frames to one
 * peer. Drivers create channels; the stack enqueues frames on them and dequeues what
 * arrives. A channel knows nothing about virtual sockets.
 * @packageDocumentation
 */
import type { Frame } from './frame.js';

/** Traffic class of a channel or a virtual socket. */
export type AppClass = 'latency' | 'throughput';

/** All traffic classes, in priority order. */
export const APP_CLASSES: readonly AppClass[] = ['latency', 'throughput'];

/** Events of a {@link Channel}. */
export interface ChannelEvents {
  /** Frames arrived; call {@link Channel.dequeue} until it returns an empty array. */
  readable: [];
  /** The transmit queue fell below the low-water mark after an `enqueue` returned false. */
  writable: [];
  /** The peer half-closed: no more frames will arrive (after queued ones are dequeued). */
  end: [];
  /** The channel is closed in both directions; `err` is set when it failed. Emitted once. */
  close: [err?: Error];
}

/** Occupancy counters of a channel, read by schedulers and metrics. */
export interface ChannelStats {
  /** Wire bytes (24-byte header + payload per frame) accepted by `enqueue` but not yet handed to the OS or peer. */
  readonly txQueuedBytes: number;
  /** Wire bytes (header + payload per frame) received and decoded but not yet dequeued. */
  readonly rxQueuedBytes: number;
  /** Total frame bytes (header + payload) handed to the transport. */
  readonly bytesSent: number;
  /** Total frame bytes (header + payload) received from the transport. */
  readonly bytesReceived: number;
  /** Frames handed to the transport. */
  readonly framesSent: number;
  /** Frames received from the transport. */
  readonly framesReceived: number;
}

/** A reliable, ordered, bidirectional pipe of frames to one peer. */
export interface Channel extends ChannelStats {
  /** Process-unique channel id. */
  readonly id: number;
  /** Address scheme of the driver that made the channel, e.g. `tcp`. */
  readonly scheme: string;
  /** Local endpoint, in the driver's address syntax. */
  readonly localAddress: string;
  /** Remote endpoint, in the driver's address syntax. */
  readonly remoteAddress: string;
  /** `enqueue` returns false once `txQueuedBytes` reaches this. */
  readonly txHighWaterMark: number;
  /** True once `destroy` was called or the channel closed. */
  readonly destroyed: boolean;

  /**
   * Queues frames for transmission, in order. Returns false when the transmit queue is
   * at or above `txHighWaterMark`: the frames are still queued, but the caller should
   * wait for `'writable'` before enqueueing more.
   *
   * `written`, when given, is called once the transport accepted these frames' bytes
   * (for a socket: the write callback). It feeds the latency trace; a driver that
   * cannot tell may never call it.
   * @throws ChannelError `NETCHANNEL_ERR_CLOSED` after `end`/`destroy`.
   */
  enqueue(frames: Frame | readonly Frame[], written?: () => void): boolean;
  /** Removes and returns received frames, at least one and up to about `maxBytes` wire bytes (default: all). */
  dequeue(maxBytes?: number): Frame[];
  /** Half-close: flush queued frames, then tell the peer no more frames follow. Idempotent. */
  end(): void;
  /** Abort at once, dropping queued frames; the peer sees the channel close. Idempotent. */
  destroy(err?: Error): void;
  /** Graceful close: `end`, then resolve once the channel has closed. Idempotent. */
  close(): Promise<void>;
  /**
   * Optional: transport-specific counters and gauges of this channel (e.g. udp's
   * retransmits, RTO, srtt, drops by reason), exported by the metrics as
   * `netchannel_channel_transport_*` with the key as the `stat` label. Keys must be a
   * fixed, small set per driver (they become label values); keys ending in `_total` are
   * monotonic counters, the others gauges. Drivers without such state omit it.
   */
  transportStats?(): Readonly<Record<string, number>>;

  on<E extends keyof ChannelEvents>(event: E, listener: (...args: ChannelEvents[E]) => void): this;
  once<E extends keyof ChannelEvents>(event: E, listener: (...args: ChannelEvents[E]) => void): this;
  off<E extends keyof ChannelEvents>(event: E, listener: (...args: ChannelEvents[E]) => void): this;
}
