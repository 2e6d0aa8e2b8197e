/**
 * PeerSession: the virtual sockets to one peer host. It owns the connection table,
 * routes frames from the peer's NetDevice to sockets, asks the class's scheduling
 * policy for a channel for every outgoing segment, and publishes socket events.
 * @packageDocumentation
 */
import { EventEmitter } from 'node:events';
import { ErrorCode, SocketError, type NetChannelError } from '../errors/index.js';
import type { AppClass } from '../netdriver/channel.js';
import { controlFrame, FrameFlag, FrameType, MAX_LISTEN_PORT, ResetReason, type Frame } from '../netdriver/frame.js';
import type { DeviceChannel, NetDevice } from '../netdriver/net-device.js';
import type { ControlledPeer } from '../netscheduler/controller.js';
import type { EventSink } from '../netscheduler/events.js';
import type { TxSlicer } from '../netscheduler/tx-slicer.js';
import type { SchedulingPolicy } from '../netscheduler/policy.js';
import type { PortAllocator } from './port-allocator.js';
import type { LinkedSocket, SocketLink } from './socket-link.js';
import type { VirtualServer } from './virtual-server.js';
import { VirtualSocket } from './virtual-socket.js';

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
}

/** What a session needs from its stack. */
export interface SessionContext {
  readonly localHostId: string;
  readonly ports: PortAllocator;
  readonly policies: Readonly<Record<AppClass, SchedulingPolicy>>;
  readonly socketDefaults: SessionSocketDefaults;
  /** Throughput sockets never use latency channels (latency ones fall back if they have none). */
  readonly isolation: boolean;
  /** Publishes events on the stack's `events$`. */
  readonly emit: EventSink;
  /** Per-turn budget for throughput transmission (send-side isolation); null = unlimited. */
  readonly txSlicer: TxSlicer | null;
  /** How long sockets survive with no channel to the peer before failing, ms. */
  readonly peerTimeout: number;
  /** How long a closed socket keeps unacknowledged data for retransmission, ms. */
  readonly lingerTimeout: number;
  /** Sockets allowed per peer. */
  readonly maxSockets: number;
  /** Out-of-order bytes allowed across the peer's sockets. */
  readonly maxReorderBytes: number;
  /** The server listening on a virtual port, if any. */
  server(port: number): VirtualServer | undefined;
}

/** Events of a {@link PeerSession}. */
export interface PeerSessionEvents {
  /** Every channel to the peer is gone; the session is dead. */
  down: [Error | undefined];
}

/** Most control frames kept while no channel is usable. */
const MAX_PENDING_CONTROL = 65536;

/** Connection-table key: the ephemeral end of a connection identifies it within a peer. */
function keyOf(localPort: number, remotePort: number): number {
  return localPort > MAX_LISTEN_PORT ? localPort : -remotePort;
}

/** All virtual sockets between this stack and one peer host. */
export class PeerSession extends EventEmitter<PeerSessionEvents> implements SocketLink, ControlledPeer {
  /** Open sockets by connection key. */
  readonly sockets = new Map<number, VirtualSocket>();
  /** Segments that found every channel of their class full, per class, since the last tick. */
  readonly blockedWaits: Record<AppClass, number> = { latency: 0, throughput: 0 };
  /** Address the peer was dialed at (for elastic channels), if this stack dialed it. */
  dialAddress: string | undefined;

  /** True when this stack dialed the peer and may add or remove channels. */
  get scalable(): boolean {
    return this.dialAddress !== undefined;
  }
  private readonly blocked = new Set<LinkedSocket>();
  /** Control frames waiting for a channel (none was usable when they were sent). */
  private pendingControl: Array<{ appClass: AppClass; frame: Frame }> = [];
  private readonly lingerers = new Map<LinkedSocket, NodeJS.Timeout>();
  private reconnectTimer: NodeJS.Timeout | null = null;
  private readonly segment = { bytes: 0, appClass: 'throughput' as AppClass, localPort: 0, remotePort: 0, state: undefined as unknown };
  private dead = false;

  constructor(
    /** The peer's device (its channels). */
    readonly device: NetDevice,
    /** Address the peer was dialed at, or the first channel's remote address. */
    readonly remoteAddress: string,
    private readonly ctx: SessionContext,
  ) {
    super();
    device.onFrame = (f, dc) => this.onFrame(f, dc);
    device.on('writable', () => this.unblock());
    device.on('channel-added', (dc) => {
      this.ctx.emit({ type: 'channel-added', at: Date.now(), peer: device.peerHostId, channelId: dc.id, appClass: dc.appClass, index: dc.index, transport: dc.channel.scheme });
      if (this.reconnectTimer) {
        clearTimeout(this.reconnectTimer);
        this.reconnectTimer = null;
      }
      this.flushControl();
      this.unblock();
    });
    device.on('channel-removed', (dc, err) => {
      const e = err as (Error & { code?: string }) | undefined;
      this.ctx.emit({
        type: 'channel-removed',
        at: Date.now(),
        peer: device.peerHostId,
        channelId: dc.id,
        appClass: dc.appClass,
        index: dc.index,
        transport: dc.channel.scheme,
        reason: e ? 'failed' : 'closed',
        ...(e && { error: e.message, code: e.code ?? 'UNKNOWN' }),
      });
      this.onChannelLost(dc, err);
    });
    device.on('down', (err) => this.onDown(err));
  }

  get remoteHostId(): string {
    return this.device.peerHostId;
  }
  get localHostId(): string {
    return this.ctx.localHostId;
  }
  /** True once the peer's last channel is gone. */
  get isDown(): boolean {
    return this.dead;
  }

  /** Opens a virtual socket to `port` on the peer; resolves once SYNC_ACK arrives. */
  open(port: number, appClass: AppClass): Promise<VirtualSocket> {
    if (this.dead) return Promise.reject(new SocketError(ErrorCode.PEER_UNREACHABLE, `peer ${this.remoteAddress} is unreachable`));
    if (this.sockets.size >= this.ctx.maxSockets) {
      return Promise.reject(new SocketError(ErrorCode.LIMIT, `${this.sockets.size} virtual sockets to ${this.remoteAddress} already open (maxSocketsPerPeer ${this.ctx.maxSockets})`));
    }
    const sock = this.createSocket(appClass, this.ctx.ports.ephemeralPort(), port, undefined);
    const timeoutMs = this.ctx.socketDefaults.connectTimeout;
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        sock.destroy(new SocketError(ErrorCode.TIMEOUT, `connect to virtual port ${port} at ${this.remoteAddress} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      const settle = (): void => {
        clearTimeout(timer);
        sock.off('connect', onConnect);
        sock.off('error', onError);
      };
      const onConnect = (): void => {
        settle();
        this.publishOpened(sock, 'connect', performance.now() - started);
        resolve(sock);
      };
      const onError = (err: Error & { code?: string }): void => {
        settle();
        this.ctx.emit({ type: 'socket-refused', at: Date.now(), peer: this.remoteHostId, appClass, remotePort: port, code: err.code ?? 'UNKNOWN' });
        reject(err);
      };
      sock.once('connect', onConnect);
      sock.once('error', onError);
      this.control(appClass, sock.syncFrame());
    });
  }

  /** Control tick: lets every socket check for head-of-line blocking. */
  tick(): void {
    for (const s of this.sockets.values()) s.checkHol();
  }

  // ---- SocketLink ----------------------------------------------------------------

  select(sock: LinkedSocket, bytes: number): DeviceChannel | undefined {
    const candidates = this.candidates(sock.appClass);
    if (candidates.length === 0) return this.wait(sock);
    const slicer = this.ctx.txSlicer;
    if (slicer !== null && sock.appClass === 'throughput' && bytes > 0 && !slicer.take(bytes)) {
      this.blocked.add(sock);
      slicer.wait(this.unblockFn);
      return undefined;
    }
    const pinned = (sock as VirtualSocket).pinnedTo;
    let ch: DeviceChannel | undefined;
    if (pinned !== null && pinned !== undefined) {
      ch = this.pinnedChannel(sock as VirtualSocket, pinned, candidates);
    } else {
      const seg = this.segment;
      seg.bytes = bytes;
      seg.appClass = sock.appClass;
      seg.localPort = sock.localPort;
      seg.remotePort = sock.remotePort;
      seg.state = sock.flowState;
      ch = this.ctx.policies[sock.appClass].select(seg, candidates) as DeviceChannel | undefined;
    }
    if (ch === undefined) return this.wait(sock);
    if (ch.channel.destroyed) {
      // Closed under us (its 'close' event is still pending): stop using it and ask again.
      this.device.retire(ch);
      return this.select(sock, bytes);
    }
    ch.decisions++;
    return ch;
  }

  control(appClass: AppClass, frame: Frame): void {
    let best: DeviceChannel | undefined;
    for (const c of this.candidates(appClass)) {
      if (!c.channel.destroyed && (best === undefined || c.txQueuedBytes < best.txQueuedBytes)) best = c;
    }
    if (best) best.channel.enqueue(frame);
    else if (!this.dead && this.pendingControl.length < MAX_PENDING_CONTROL) this.pendingControl.push({ appClass, frame });
  }

  detach(sock: LinkedSocket): void {
    const key = keyOf(sock.localPort, sock.remotePort);
    if (this.sockets.get(key) === sock) this.sockets.delete(key);
    if (sock.localPort > MAX_LISTEN_PORT) this.ctx.ports.release(sock.localPort);
    this.blocked.delete(sock);
    const t = this.lingerers.get(sock);
    if (t) {
      clearTimeout(t);
      this.lingerers.delete(sock);
    }
  }

  /** Out-of-order bytes currently held across this peer's sockets. */
  reorderBytes = 0;

  reserveReorder(delta: number): boolean {
    if (delta > 0 && this.reorderBytes + delta > this.ctx.maxReorderBytes) return false;
    this.reorderBytes += delta;
    return true;
  }

  linger(sock: LinkedSocket): void {
    if (this.dead) {
      this.detach(sock);
      return;
    }
    const t = setTimeout(() => this.detach(sock), this.ctx.lingerTimeout);
    t.unref();
    this.lingerers.set(sock, t);
  }

  private flushControl(): void {
    const list = this.pendingControl;
    this.pendingControl = [];
    for (const { appClass, frame } of list) this.control(appClass, frame);
  }

  // ---- inbound -------------------------------------------------------------------

  private onFrame(f: Frame, from: DeviceChannel): void {
    const sock = this.sockets.get(keyOf(f.dst, f.src));
    if (sock !== undefined) {
      if (f.type !== FrameType.SYNC) sock.onFrame(f);
      else if (f.dst <= MAX_LISTEN_PORT && !sock.destroyed) this.control(sock.appClass, sock.synAckFrame()); // SYNC_ACK may have been lost
      return;
    }
    if (f.type === FrameType.SYNC) this.onSync(f, from);
    else if (f.type === FrameType.DATA) this.reset(from.appClass, f, ResetReason.UNKNOWN);
  }

  private onSync(f: Frame, from: DeviceChannel): void {
    const requested: AppClass = (f.flags & FrameFlag.LATENCY) !== 0 ? 'latency' : 'throughput';
    if (f.src <= MAX_LISTEN_PORT || f.dst > MAX_LISTEN_PORT) {
      this.reset(requested, f, ResetReason.PROTOCOL);
      return;
    }
    const server = this.ctx.server(f.dst);
    if (!server || !server.listening) {
      this.reset(from.appClass, f, ResetReason.REFUSED);
      return;
    }
    if (this.sockets.size >= this.ctx.maxSockets) {
      this.reset(from.appClass, f, ResetReason.LIMIT);
      return;
    }
    const sock = this.createSocket(server.appClass ?? requested, f.dst, f.src, f.ack);
    this.control(sock.appClass, sock.synAckFrame());
    this.publishOpened(sock, 'accept');
    server.accept(sock);
  }

  private createSocket(appClass: AppClass, localPort: number, remotePort: number, peerGrant: number | undefined): VirtualSocket {
    const d = this.ctx.socketDefaults;
    const sock = new VirtualSocket({
      link: this,
      appClass,
      localPort,
      remotePort,
      flowState: this.ctx.policies[appClass].createFlowState(localPort, remotePort),
      window: d.window,
      maxSegment: d.maxSegment,
      allowHalfOpen: d.allowHalfOpen,
      holExpansion: d.holExpansion,
      zeroCopy: d.zeroCopy,
      ...(peerGrant !== undefined && { peerGrant }),
    });
    if (d.idleTimeout > 0) {
      sock.setTimeout(d.idleTimeout, () => sock.destroy(new SocketError(ErrorCode.TIMEOUT, `virtual socket ${localPort}->${remotePort} idle for ${d.idleTimeout} ms (idleTimeout)`)));
    }
    this.sockets.set(keyOf(localPort, remotePort), sock);
    return sock;
  }

  notify(sock: LinkedSocket, kind: 'hol-detected' | 'hol-resolved' | 'pinned' | 'shared', windowBytes: number): void {
    const base = { at: Date.now(), peer: this.remoteHostId, localPort: sock.localPort, remotePort: sock.remotePort };
    if (kind === 'hol-detected' || kind === 'hol-resolved') this.ctx.emit({ ...base, type: kind, windowBytes });
    else this.ctx.emit({ ...base, type: 'socket-remapped', mapping: kind });
  }

  closed(s: LinkedSocket, error: Error | null): void {
    const sock = s as VirtualSocket;
    if (!sock.announced) return; // never opened: a refused or failed connect
    const { appClass, localPort, remotePort } = sock;
    const peer = this.remoteHostId;
    {
      const err = error as (Error & { code?: string }) | null;
      const code = err ? (err.code ?? 'UNKNOWN') : undefined;
      this.ctx.emit({
        type: 'socket-closed',
        at: Date.now(),
        peer,
        appClass,
        localPort,
        remotePort,
        bytesRead: sock.bytesRead,
        bytesWritten: sock.bytesWritten,
        creditStalls: sock.creditStalls,
        ...(code !== undefined && { code }),
      });
    }
  }

  private publishOpened(sock: VirtualSocket, side: 'connect' | 'accept', handshakeMs?: number): void {
    const { appClass, localPort, remotePort } = sock;
    sock.announced = true;
    this.ctx.emit({ type: 'socket-opened', at: Date.now(), peer: this.remoteHostId, appClass, localPort, remotePort, side, ...(handshakeMs !== undefined && { handshakeMs }) });
  }

  private reset(appClass: AppClass, f: Frame, reason: number): void {
    this.control(appClass, controlFrame(FrameType.RST, f.dst, f.src, 0, reason));
  }

  private candidates(appClass: AppClass): readonly DeviceChannel[] {
    const own = this.device.channelsOf(appClass);
    if (own.length > 0 || (this.ctx.isolation && appClass === 'throughput')) return own;
    return this.device.channelsOf(appClass === 'latency' ? 'throughput' : 'latency');
  }

  /** A pinned socket stays on one channel: the least loaded when it was pinned. */
  private pinnedChannel(sock: VirtualSocket, pinnedTo: number, candidates: readonly DeviceChannel[]): DeviceChannel | undefined {
    let ch = candidates.find((c) => c.id === pinnedTo);
    if (!ch) {
      for (const c of candidates) if (!ch || c.txQueuedBytes < ch.txQueuedBytes) ch = c;
      sock.pinnedTo = ch!.id;
    }
    return ch!.txQueuedBytes < ch!.txHighWaterMark ? ch : undefined;
  }

  private wait(sock: LinkedSocket): undefined {
    this.blocked.add(sock);
    this.blockedWaits[sock.appClass]++;
    return undefined;
  }

  private readonly unblockFn = (): void => this.unblock();

  private unblock(): void {
    if (this.blocked.size === 0) return;
    const list = [...this.blocked];
    this.blocked.clear();
    for (const s of list) s.pump();
  }

  /**
   * A channel failed and may have taken frames with it: every socket re-sends what the
   * peer has not acknowledged on the channels that remain (the receiver drops
   * duplicates). If none remain, they wait for a channel to come back.
   */
  private onChannelLost(_dc: DeviceChannel, err: Error | undefined): void {
    if (err && !this.dead) for (const s of [...this.sockets.values()]) s.retransmit();
    this.unblock();
  }

  /** The last channel is gone: after a failure, wait `peerTimeout` for one to return. */
  private onDown(err: Error | undefined): void {
    if (this.dead || this.reconnectTimer) return;
    if (err && this.ctx.peerTimeout > 0) {
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = null;
        if (this.device.channels.length === 0) this.fail(new SocketError(ErrorCode.PEER_UNREACHABLE, `no channel to ${this.remoteAddress} came back within ${this.ctx.peerTimeout} ms (last error: ${err.message})`), err);
      }, this.ctx.peerTimeout);
      return;
    }
    this.fail(new SocketError(ErrorCode.PEER_UNREACHABLE, `every channel to ${this.remoteAddress} is closed${err ? `: ${err.message}` : ''}`), err);
  }

  /** Ends the session at once (stack destroy): no reconnect wait. */
  abort(err?: Error): void {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.fail(new SocketError(ErrorCode.PEER_UNREACHABLE, `session to ${this.remoteAddress} aborted`), err);
  }

  private fail(error: SocketError, err: Error | undefined): void {
    if (this.dead) return;
    this.dead = true;
    this.pendingControl = [];
    for (const s of [...this.sockets.values()]) {
      // After a graceful close, a socket that already has the peer's FIN keeps its unread data.
      if (!err && s.peerFinished) continue;
      s.onReset(ResetReason.RESET, error as NetChannelError);
    }
    for (const s of [...this.lingerers.keys()]) this.detach(s);
    this.emit('down', err);
  }
}
