/**
 * Construction parameters and defaults of a virtual socket.
 * @packageDocumentation
 */
import type { AppClass } from '../netdriver/channel.js';
import type { SegmentTrace } from '../netdriver/segment-trace.js';
import type { SocketBinding } from './socket-link.js';

/** Default receive window (credit) per socket: 4 MiB. */
export const DEFAULT_WINDOW = 4 * 1024 * 1024;
/** Default largest DATA payload: 64 KiB. */
export const DEFAULT_MAX_SEGMENT = 64 * 1024;

/** Construction parameters (internal: sockets are made by stacks). */
export interface VirtualSocketInit extends Partial<SocketBinding> {
  appClass: AppClass;
  /** Receive window granted to the peer, in bytes. */
  window: number;
  /** Largest DATA payload sent. */
  maxSegment: number;
  /** Keep the writable side open after the peer ends (like net.Socket). */
  allowHalfOpen: boolean;
  /** Already established (acceptor side), with the peer's initial grant. */
  peerGrant?: number;
  /** Extra receive window granted while the reader stalls (HoL), bytes. */
  holExpansion: number;
  /**
   * Retain the caller's Buffers (no copy) for retransmission: the caller must not
   * modify a Buffer after writing it, even after the write callback.
   */
  zeroCopy: boolean;
  /** Unsent plus unacknowledged bytes held before the write callback waits for acks (SO_SNDBUF). */
  sendBuffer: number;
  /** Latency trace to record this socket's segments into (null: not traced). */
  trace?: SegmentTrace | null;
}
