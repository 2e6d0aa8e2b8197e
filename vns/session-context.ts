/**
 * What a peer session needs from its stack (`SessionContext`), the socket settings it
 * applies (`SessionSocketDefaults`), and its events.
 * @packageDocumentation
 */
import type { EventSink } from '../events/index.js';
import type { AppClass } from '../netdriver/channel.js';
import type { RxScheduler } from '../netdriver/net-device.js';
import type { SegmentTrace } from '../netdriver/segment-trace.js';
import type { RouterContext } from './channel-router.js';
import type { PortAllocator } from './port-allocator.js';
import type { SessionLimits } from './session-limits.js';
import type { VirtualServer } from './virtual-server.js';
import type { VirtualSocketInit } from './socket-init.js';

/** Socket settings a session applies to every socket it makes. */
export interface SessionSocketDefaults {
  /** Receive window per socket, bytes. */
  window: number;
  /** Largest DATA payload, bytes. */
  maxSegment: number;
  /** Keep the writable side open after the peer ends. */
  allowHalfOpen: boolean;
  /** Connect handshake timeout, ms. */
  connectTimeout: number;
  /** Extra window while a reader stalls (HoL); 0 disables HoL handling. */
  holExpansion: number;
  /** Destroy a socket idle this long (ms); 0 = never. */
  idleTimeout: number;
  /** Retain written Buffers without copying (caller must not modify them). */
  zeroCopy: boolean;
  /** Unsent plus unacknowledged bytes a socket holds before `write()` waits for acks. */
  sendBuffer: number;
  /** The latency trace latency-class sockets record into, or null when it is off. */
  trace: SegmentTrace | null;
}

/** What a session needs from its stack. */
export interface SessionContext extends RouterContext {
  readonly localHostId: string;
  readonly ports: PortAllocator;
  readonly socketDefaults: SessionSocketDefaults;
  /** The stack's receive scheduler, shared by every device. */
  readonly rx: RxScheduler;
  /** Publishes events on the stack's `events$`. */
  readonly emit: EventSink;
  /** How long sockets survive with no channel to the peer before failing, ms. */
  readonly peerTimeout: number;
  /** How long a closed socket keeps unacknowledged data for retransmission, ms. */
  readonly lingerTimeout: number;
  /** Sockets allowed per peer. */
  readonly maxSockets: number;
  /** Out-of-order bytes allowed across the peer's sockets. */
  readonly maxReorderBytes: number;
  /** Stack-wide limits: socket slots (total, per IP) and the memory budget. */
  readonly limits: SessionLimits;
  /** The server listening on a virtual port, if any. */
  server(port: number): VirtualServer | undefined;
}

/** Events of a {@link PeerSession}. */
export interface PeerSessionEvents {
  /** Every channel to the peer is gone; the session is dead. */
  down: [Error | undefined];
}

/** Construction settings of a socket of class `appClass` (not bound to a session yet). */
export function socketInit(d: SessionSocketDefaults, appClass: AppClass, sendBuffer = d.sendBuffer): VirtualSocketInit {
  return { appClass, window: d.window, maxSegment: d.maxSegment, allowHalfOpen: d.allowHalfOpen, holExpansion: d.holExpansion, zeroCopy: d.zeroCopy, sendBuffer, trace: appClass === 'latency' ? d.trace : null };
}

