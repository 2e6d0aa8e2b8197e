/**
 * ChannelRouter: the transmit half of a peer session. Every frame a socket sends goes
 * through here: the class's scheduling policy picks one of the device's channels
 * (DATA and control frames alike), and the device transmits the frame on it. Sockets
 * that find every channel full wait here until a channel is writable again.
 * @packageDocumentation
 */
import type { AppClass } from '../netdriver/channel.js';
import type { Frame } from '../netdriver/frame.js';
import type { DeviceChannel, NetDevice } from '../netdriver/net-device.js';
import { leastQueued, lessQueued, type ChannelView, type SchedulingPolicy, type SegmentKind } from '../netscheduler/policy.js';
import type { TxSlicer } from '../netscheduler/tx-slicer.js';
import type { LinkedSocket } from './socket-link.js';

/** What a router needs from its stack. */
export interface RouterContext {
  /** The scheduling policy of each class. */
  readonly policies: Readonly<Record<AppClass, SchedulingPolicy>>;
  /** Throughput sockets never use latency channels (latency ones fall back if they have none). */
  readonly isolation: boolean;
  /** Per-turn budget for throughput transmission (send-side isolation); null = unlimited. */
  readonly txSlicer: TxSlicer | null;
  /**
   * While the peer's latency traffic is active, the throughput channels together may
   * hold at most this many bytes queued plus unacknowledged; 0 = no cap.
   */
  readonly throughputInflightCap: number;
  /** Latency traffic counts as active this long after its last frame either way, ms. */
  readonly latencyActiveMs: number;
}

/** Most control frames kept while no channel is usable. */
const MAX_PENDING_CONTROL = 65536;

/** The least-queued channel that is not destroyed (no allocation), or undefined; see {@link leastQueued}. */
function leastQueuedLive(candidates: readonly DeviceChannel[]): DeviceChannel | undefined {
  let best: DeviceChannel | undefined;
  for (const c of candidates) if (!c.channel.destroyed && (best === undefined || lessQueued(c, best))) best = c;
  return best;
}

/** Channel id returned by {@link ChannelRouter.resendData} when the socket must wait. */
export const NO_CHANNEL = -1;

/** Picks channels for one peer's frames and transmits them on its device. */
export class ChannelRouter {
  /** Segments that found every channel of their class full, per class, since the last tick. */
  readonly blockedWaits: Record<AppClass, number> = { latency: 0, throughput: 0 };
  /** Throughput segments that waited for the in-flight cap (latency traffic active), in total. */
  capWaits = 0;
  /** `performance.now()` of the peer's last latency frame sent or received. */
  private latencyAt = -Infinity;
  private readonly blocked = new Set<LinkedSocket>();
  /** Control frames waiting for a channel (none was usable when they were sent). */
  private pendingControl: Array<{ appClass: AppClass; frame: Frame; state: unknown }> = [];
  /** Reused for every selection (no object per segment). */
  private readonly segment = { kind: 'data' as SegmentKind, bytes: 0, appClass: 'throughput' as AppClass, localPort: 0, remotePort: 0, sendWindow: undefined as number | undefined, state: undefined as unknown };

  constructor(
    private readonly device: NetDevice,
    private readonly ctx: RouterContext,
  ) {}

  /**
   * Sends `bytes` of `sock`'s data: asks the policy for a channel, lets the socket
   * build the segment for it ({@link LinkedSocket.takeSegment}) and transmits it.
   * False when the socket must wait; it is pumped again once a channel has room.
   */
  sendData(sock: LinkedSocket, bytes: number): boolean {
    if (sock.appClass === 'latency') this.latencySeen();
    const dc = this.route(sock, bytes);
    if (dc === undefined) return false;
    this.device.transmit(dc, sock.takeSegment(bytes, dc.id));
    return true;
  }

  /** Re-sends an already built DATA frame of `sock`; the channel id used, or {@link NO_CHANNEL}. */
  resendData(sock: LinkedSocket, frame: Frame): number {
    const dc = this.route(sock, frame.payload.length);
    if (dc === undefined) return NO_CHANNEL;
    this.device.transmit(dc, frame);
    return dc.id;
  }

  /**
   * Sends a control frame of class `appClass` (`state`: the socket's flow state, if
   * it belongs to one). The policy may place it; otherwise it goes on the least-queued
   * channel. Control frames are never refused for lack of room; while no channel is
   * usable they are kept (bounded) and sent when one is added.
   */
  control(appClass: AppClass, frame: Frame, state: unknown, localPort = frame.src, remotePort = frame.dst): void {
    const candidates = this.candidates(appClass);
    let dc: DeviceChannel | undefined;
    if (candidates.length > 0) {
      const seg = this.segment;
      seg.kind = 'control';
      seg.bytes = 0;
      seg.sendWindow = undefined;
      seg.appClass = appClass;
      seg.localPort = localPort;
      seg.remotePort = remotePort;
      seg.state = state;
      dc = this.mapBack(this.ctx.policies[appClass].select(seg, candidates), candidates);
      if (dc === undefined || dc.channel.destroyed) dc = leastQueuedLive(candidates);
    }
    if (dc !== undefined) this.device.transmit(dc, frame);
    else if (this.pendingControl.length < MAX_PENDING_CONTROL) this.pendingControl.push({ appClass, frame, state });
  }

  /** Sends the control frames kept while no channel was usable (a channel was added). */
  flushControl(): void {
    const list = this.pendingControl;
    this.pendingControl = [];
    for (const { appClass, frame, state } of list) this.control(appClass, frame, state);
  }

  /** Forgets kept control frames and waiting sockets (the session is gone). */
  clear(): void {
    this.pendingControl = [];
    this.blocked.clear();
  }

  /** Stops waking `sock` (it left the connection table). */
  forget(sock: LinkedSocket): void {
    this.blocked.delete(sock);
  }

  /** A frame of a latency socket arrived: latency traffic is active. */
  latencySeen(): void {
    this.latencyAt = performance.now();
  }

  /**
   * True while latency traffic is active and the throughput channels hold `cap` bytes
   * or more queued plus unacknowledged: a throughput segment then waits (for an ACK).
   */
  private overCap(candidates: readonly DeviceChannel[]): boolean {
    const cap = this.ctx.throughputInflightCap;
    if (cap === 0 || this.latencyAt === -Infinity || performance.now() - this.latencyAt > this.ctx.latencyActiveMs) return false;
    let held = 0;
    for (const c of candidates) held += c.txQueuedBytes + c.inflightBytes;
    return held >= cap;
  }

  /** Pumps every waiting socket (a channel became writable, or one was added). */
  unblock(): void {
    if (this.blocked.size === 0) return;
    const list = [...this.blocked];
    this.blocked.clear();
    for (const s of list) s.pump();
  }

  private readonly unblockFn = (): void => this.unblock();

  /** The channel for `bytes` of `sock`'s data, or undefined (the socket then waits). */
  private route(sock: LinkedSocket, bytes: number): DeviceChannel | undefined {
    const candidates = this.candidates(sock.appClass);
    if (candidates.length === 0) return this.wait(sock);
    if (sock.appClass === 'throughput' && bytes > 0 && this.overCap(candidates)) {
      this.capWaits++;
      this.blocked.add(sock); // pumped again on the next ACK ('acked') or writable channel
      return undefined;
    }
    const slicer = this.ctx.txSlicer;
    if (slicer !== null && sock.appClass === 'throughput' && bytes > 0 && !slicer.take(bytes)) {
      this.blocked.add(sock);
      slicer.wait(this.unblockFn);
      return undefined;
    }
    let dc: DeviceChannel | undefined;
    if (sock.pinnedTo !== null) {
      dc = this.pinnedChannel(sock, candidates);
    } else {
      const seg = this.segment;
      seg.kind = 'data';
      seg.bytes = bytes;
      seg.sendWindow = sock.sendWindow;
      seg.appClass = sock.appClass;
      seg.localPort = sock.localPort;
      seg.remotePort = sock.remotePort;
      seg.state = sock.flowState;
      dc = this.mapBack(this.ctx.policies[sock.appClass].select(seg, candidates), candidates);
    }
    if (dc === undefined) return this.wait(sock);
    if (dc.channel.destroyed) {
      // Closed under us (its 'close' event is still pending): stop using it and ask again.
      this.device.retire(dc);
      return this.route(sock, bytes);
    }
    dc.decisions++;
    return dc;
  }

  /** The candidate the policy picked (by identity: a view that is not a candidate is no pick). */
  private mapBack(picked: ChannelView | undefined, candidates: readonly DeviceChannel[]): DeviceChannel | undefined {
    if (picked === undefined) return undefined;
    for (const c of candidates) if (c === picked) return c;
    return undefined;
  }

  private candidates(appClass: AppClass): readonly DeviceChannel[] {
    const own = this.device.channelsOf(appClass);
    if (own.length > 0 || (this.ctx.isolation && appClass === 'throughput')) return own;
    return this.device.channelsOf(appClass === 'latency' ? 'throughput' : 'latency');
  }

  /** A pinned socket stays on one channel: the least loaded when it was pinned. */
  private pinnedChannel(sock: LinkedSocket, candidates: readonly DeviceChannel[]): DeviceChannel | undefined {
    let dc = candidates.find((c) => c.id === sock.pinnedTo);
    if (!dc) {
      dc = leastQueued(candidates);
      sock.pinnedTo = dc.id;
    }
    return dc.txQueuedBytes < dc.txHighWaterMark ? dc : undefined;
  }

  private wait(sock: LinkedSocket): undefined {
    this.blocked.add(sock);
    this.blockedWaits[sock.appClass]++;
    return undefined;
  }
}
