/**
 * PeerSession: the virtual sockets to one peer host. It owns the peer's NetDevice
 * (injecting itself as the device's frame sink) and the connection table: received
 * frames are demultiplexed to sockets here; everything sockets send goes down
 * through the session's {@link ChannelRouter} (the scheduler) to the device.
 * @packageDocumentation
 */
import { EventEmitter } from 'node:events';
import { ErrorCode, SocketError, type NetChannelError } from '../errors/index.js';
import type { AppClass } from '../netdriver/channel.js';
import { controlFrame, FrameFlag, FrameType, MAX_LISTEN_PORT, MAX_PORT, ResetReason, type Frame } from '../netdriver/frame.js';
import { NetDevice, type DeviceChannel, type FrameSink } from '../netdriver/net-device.js';
import type { ControlledPeer } from '../netscheduler/control-loop.js';
import type { ChannelStaleEvent, LimitName } from '../events/index.js';
import { ChannelRouter } from './channel-router.js';
import { EphemeralPorts, isEphemeralPort } from './port-allocator.js';
import type { BudgetAccount } from './memory-budget.js';
import { ipKey } from './session-limits.js';
import { MAX_GRANT } from './seq.js';
import type { LinkedSocket, SocketLink } from './socket-link.js';
import { VirtualSocket } from './virtual-socket.js';
import { socketInit, type PeerSessionEvents, type SessionContext } from './session-context.js';
import { leastUsedPath, pathCounts, type PathCount } from './session-paths.js';

export { socketInit, type PeerSessionEvents, type SessionContext, type SessionSocketDefaults } from './session-context.js';

/**
 * Connection-table key: the ephemeral end of a connection identifies it within a peer.
 * Ephemeral ports (49152–65535) never overlap listening ports (1–49151), so a port
 * above MAX_LISTEN_PORT is our own ephemeral end; otherwise the peer's is.
 */
function keyOf(localPort: number, remotePort: number): number {
  return localPort > MAX_LISTEN_PORT ? localPort : -remotePort;
}

/** True when both ports of a frame lie in 1–65535 (the u32 wire fields may carry more). */
function portsInRange(f: Frame): boolean {
  return f.src >= 1 && f.src <= MAX_PORT && f.dst >= 1 && f.dst <= MAX_PORT;
}

/** All virtual sockets between this stack and one peer host. */
export class PeerSession extends EventEmitter<PeerSessionEvents> implements SocketLink, FrameSink, ControlledPeer, BudgetAccount {
  /** Open sockets by connection key. */
  readonly sockets = new Map<number, VirtualSocket>();
  /** The peer's channels. */
  readonly device: NetDevice;
  /** Transmission: the scheduler's channel choice for every frame sent to the peer. */
  readonly router: ChannelRouter;
  /** Addresses of the peer this stack dialed channels to (its paths), in the order found; empty for an accepted peer. */
  readonly knownPaths: string[] = [];

  /**
   * The paths to the peer with their live channel counts: for a dialed peer, each
   * address dialed (a path with no channel left is listed with 0 while it is re-dialed);
   * for an accepted peer, the local address each channel arrived at.
   */
  get paths(): ReadonlyArray<PathCount> {
    return pathCounts(this.device, this.knownPaths);
  }

  /** The dialed path with the fewest channels of `appClass` (where an extra channel goes). */
  leastUsedPath(appClass: AppClass): string | undefined {
    return leastUsedPath(this.device, this.knownPaths, appClass);
  }

  /** True when this stack dialed the peer and may add or remove channels. */
  get scalable(): boolean {
    return this.knownPaths.length > 0;
  }
  /** Per-IP limit key of the peer's first address (undefined: not an IP transport). */
  readonly ip: string | undefined;
  /** @internal Memory-budget accounting (see MemoryBudget). */
  budgetBytes = 0;
  /** @internal */
  budgetReorderBytes = 0;
  /** @internal */
  readonly budgetSeq: number;
  private readonly lingerers = new Map<LinkedSocket, NodeJS.Timeout>();
  /** Ephemeral ports of the sockets this stack opened to the peer. */
  private readonly ephemeral = new EphemeralPorts();
  private reconnectTimer: NodeJS.Timeout | null = null;
  private dead = false;

  constructor(
    /** Host id of the peer (from its HELLO). */
    peerHostId: string,
    /** Address the peer was dialed at, or the first channel's remote address. */
    readonly remoteAddress: string,
    private readonly ctx: SessionContext,
  ) {
    super();
    this.ip = ipKey(remoteAddress);
    this.budgetSeq = ctx.limits.budget.seq();
    ctx.limits.budget.add(this);
    const device = (this.device = new NetDevice(peerHostId, this, ctx.rx, ctx.socketDefaults.trace));
    this.router = new ChannelRouter(device, ctx);
    device.on('writable', () => this.router.unblock());
    device.on('acked', () => this.router.unblock());
    device.on('channel-added', (dc) => {
      this.ctx.emit({ type: 'channel-added', at: Date.now(), peer: device.peerHostId, channelId: dc.id, appClass: dc.appClass, index: dc.index, transport: dc.channel.scheme });
      if (this.reconnectTimer) {
        clearTimeout(this.reconnectTimer);
        this.reconnectTimer = null;
      }
      this.router.flushControl();
      this.router.unblock();
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
    // A stale or late channel: skipped by the device; MPTCP-style reinjection sends what it holds on the others too.
    device.on('channel-stale', (dc, silentMs) => this.reinject('channel-stale', dc, silentMs));
    device.on('channel-late', (dc, waitedMs) => this.reinject('channel-late', dc, waitedMs));
    device.on('channel-recovered', (dc) => this.ctx.emit(this.progressEvent('channel-recovered', dc, 0)));
  }

  /** Publishes `type` for `dc`, then every socket re-sends what it last put on that channel. */
  private reinject(type: 'channel-stale' | 'channel-late', dc: DeviceChannel, ms: number): void {
    this.ctx.emit(this.progressEvent(type, dc, ms));
    for (const s of [...this.sockets.values()]) s.reinject(dc.id);
  }

  /** The `channel-stale` / `channel-late` / `channel-recovered` event of `dc`. */
  private progressEvent(type: ChannelStaleEvent['type'], dc: DeviceChannel, ms: number): ChannelStaleEvent {
    return { type, at: Date.now(), peer: this.device.peerHostId, channelId: dc.id, appClass: dc.appClass, index: dc.index, transport: dc.channel.scheme, inflightBytes: dc.inflightBytes, silentMs: Math.round(ms) };
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

  /**
   * Opens `sock` (made by the stack, not yet bound) to `port` on the peer: binds it to
   * a fresh ephemeral port and sends the SYNC. The socket emits `'connect'` on
   * SYNC_ACK, or is destroyed with the error (refused, limit, peer down).
   */
  open(sock: VirtualSocket, port: number): void {
    if (sock.destroyed) return;
    let err: SocketError | undefined;
    if (this.dead) err = new SocketError(ErrorCode.PEER_UNREACHABLE, `peer ${this.remoteAddress} is unreachable`);
    else {
      const limit = this.sockets.size >= this.ctx.maxSockets ? 'maxSocketsPerPeer' : this.ctx.limits.admitSocket(undefined);
      if (limit !== undefined) {
        this.limitHit(limit);
        err = new SocketError(ErrorCode.LIMIT, `cannot open another virtual socket to ${this.remoteAddress}: ${limit} reached (${this.sockets.size} open to this peer)`);
      }
    }
    let localPort = 0;
    try {
      if (!err) localPort = this.ephemeral.take(this.remoteAddress);
    } catch (e) {
      err = e as SocketError;
    }
    if (err) {
      sock.destroy(err);
      return;
    }
    this.bindSocket(sock, localPort, port);
    const dc = this.device.channelsOf(sock.appClass)[0] ?? this.device.channels[0];
    if (dc) sock.bindEndpoints(dc.channel);
    const started = performance.now();
    const onConnect = (): void => {
      sock.off('error', onError);
      this.publishOpened(sock, 'connect', performance.now() - started);
    };
    const onError = (e: Error & { code?: string }): void => {
      sock.off('connect', onConnect);
      this.ctx.emit({ type: 'socket-refused', at: Date.now(), peer: this.remoteHostId, appClass: sock.appClass, remotePort: port, code: e.code ?? 'UNKNOWN' });
    };
    sock.once('connect', onConnect);
    sock.once('error', onError);
    this.control(sock, sock.syncFrame());
  }

  /** Control tick: lets every socket check for head-of-line blocking. */
  tick(): void {
    for (const s of this.sockets.values()) s.checkHol();
  }

  /** Segments that found every channel of their class full, per class, since the last tick. */
  get blockedWaits(): Record<AppClass, number> {
    return this.router.blockedWaits;
  }

  /** Throughput segments that waited for `scheduler.throughputInflightCap` (latency traffic active), in total. */
  get capWaits(): number {
    return this.router.capWaits;
  }

  // ---- SocketLink ----------------------------------------------------------------

  sendData(sock: LinkedSocket, bytes: number): boolean {
    return this.router.sendData(sock, bytes);
  }

  resendData(sock: LinkedSocket, frame: Frame): number {
    return this.router.resendData(sock, frame);
  }

  control(sock: LinkedSocket, frame: Frame): void {
    if (!this.dead) this.router.control(sock.appClass, frame, sock.flowState);
  }

  detach(sock: LinkedSocket): void {
    const key = keyOf(sock.localPort, sock.remotePort);
    if (this.sockets.get(key) === sock) {
      this.sockets.delete(key);
      this.ctx.limits.socketRemoved(isEphemeralPort(sock.localPort) ? undefined : this.ip);
    }
    if (isEphemeralPort(sock.localPort)) this.ephemeral.release(sock.localPort);
    this.router.forget(sock);
    const t = this.lingerers.get(sock);
    if (t) {
      clearTimeout(t);
      this.lingerers.delete(sock);
    }
  }

  /** Out-of-order bytes currently held across this peer's sockets. */
  reorderBytes = 0;

  reserveReorder(delta: number): boolean {
    const limit = delta > 0 && this.reorderBytes + delta > this.ctx.maxReorderBytes ? 'maxReorderBytesPerPeer' : this.ctx.limits.budget.reserveReorder(this, delta);
    if (limit !== undefined) {
      this.limitHit(limit);
      return false;
    }
    this.reorderBytes += delta;
    return true;
  }

  retain(delta: number): void {
    this.ctx.limits.budget.retain(this, delta);
  }

  /** @internal Memory budget: resets this peer's socket holding the most for `limit`. */
  shed(limit: LimitName): boolean {
    let victim: VirtualSocket | undefined;
    let most = 0;
    for (const s of this.sockets.values()) {
      const held = limit === 'maxReorderBytes' ? s.reorderBytes : s.retainedBytes + s.reorderBytes;
      if (held > most) [victim, most] = [s, held];
    }
    if (victim === undefined) return false;
    this.limitHit(limit);
    victim.limitReset(`${limit} (${this.ctx.limits.budget.used} bytes held for all peers): the peer holding the most, ${this.remoteAddress}, loses its largest socket`);
    return true;
  }

  /** Publishes a `limit-hit` event for this peer. */
  limitHit(limit: LimitName): void {
    this.ctx.emit({ type: 'limit-hit', at: Date.now(), peer: this.remoteHostId, limit, remoteAddress: this.remoteAddress });
  }

  linger(sock: LinkedSocket): void {
    if (this.dead) {
      this.detach(sock);
      return;
    }
    const t = setTimeout(() => sock.lingerExpired(), this.ctx.lingerTimeout);
    t.unref();
    this.lingerers.set(sock, t);
  }

  // ---- inbound -------------------------------------------------------------------

  /** FrameSink: one frame from the device (after the receive scheduler). */
  onFrame(f: Frame, from: DeviceChannel): void {
    if (!portsInRange(f)) {
      // Ports outside 1–65535 name no connection: a protocol error of the peer.
      if (f.type === FrameType.DATA || f.type === FrameType.SYNC) this.reset(from.appClass, f, ResetReason.PROTOCOL);
      return;
    }
    const sock = this.sockets.get(keyOf(f.dst, f.src));
    if (sock !== undefined) {
      if (sock.appClass === 'latency') this.router.latencySeen();
      if (f.type === FrameType.SYNC_ACK && sock.connecting) sock.bindEndpoints(from.channel);
      if (f.type !== FrameType.SYNC) sock.onFrame(f);
      else if (f.dst <= MAX_LISTEN_PORT && !sock.destroyed) this.control(sock, sock.syncFrame(FrameType.SYNC_ACK)); // SYNC_ACK may have been lost
      return;
    }
    if (f.type === FrameType.SYNC) this.onSync(f, from);
    // A FIN for a connection we already forgot is answered like DATA: the peer takes
    // RST UNKNOWN after a clean close (both FINs) as "closed", otherwise as a reset.
    else if (f.type === FrameType.DATA || f.type === FrameType.FIN) this.reset(from.appClass, f, ResetReason.UNKNOWN);
  }

  private onSync(f: Frame, from: DeviceChannel): void {
    const requested: AppClass = (f.flags & FrameFlag.LATENCY) !== 0 ? 'latency' : 'throughput';
    if (!isEphemeralPort(f.src) || f.dst > MAX_LISTEN_PORT || f.dst === 0 || f.ack > MAX_GRANT) {
      this.reset(requested, f, ResetReason.PROTOCOL);
      return;
    }
    const server = this.ctx.server(f.dst);
    if (!server || !server.listening) {
      this.reset(from.appClass, f, ResetReason.REFUSED);
      return;
    }
    const limit = this.sockets.size >= this.ctx.maxSockets ? 'maxSocketsPerPeer' : this.ctx.limits.admitSocket(this.ip);
    if (limit !== undefined) {
      this.limitHit(limit);
      this.reset(from.appClass, f, ResetReason.LIMIT);
      return;
    }
    const sock = this.createSocket(server.appClass ?? requested, f.dst, f.src, f.ack);
    sock.bindEndpoints(from.channel);
    this.control(sock, sock.syncFrame(FrameType.SYNC_ACK));
    this.publishOpened(sock, 'accept');
    server.accept(sock);
  }

  /** An accepted socket, established with the peer's initial grant. */
  private createSocket(appClass: AppClass, localPort: number, remotePort: number, peerGrant: number): VirtualSocket {
    const sock = new VirtualSocket({ ...socketInit(this.ctx.socketDefaults, appClass), peerGrant });
    this.bindSocket(sock, localPort, remotePort);
    return sock;
  }

  /** Binds `sock` to this session and ports, and enters it in the connection table. */
  private bindSocket(sock: VirtualSocket, localPort: number, remotePort: number): void {
    sock.bind({ link: this, localPort, remotePort, flowState: this.ctx.policies[sock.appClass].createFlowState?.(localPort, remotePort) });
    const idle = this.ctx.socketDefaults.idleTimeout;
    if (idle > 0) {
      sock.setTimeout(idle, () => sock.destroy(new SocketError(ErrorCode.TIMEOUT, `virtual socket ${localPort}->${remotePort} idle for ${idle} ms (idleTimeout)`)));
    }
    this.sockets.set(keyOf(localPort, remotePort), sock);
    this.ctx.limits.socketAdded(isEphemeralPort(localPort) ? undefined : this.ip);
  }

  notify(sock: LinkedSocket, kind: 'hol-detected' | 'hol-resolved' | 'pinned' | 'shared', windowBytes: number): void {
    const base = { at: Date.now(), peer: this.remoteHostId, localPort: sock.localPort, remotePort: sock.remotePort };
    if (kind === 'hol-detected' || kind === 'hol-resolved') this.ctx.emit({ ...base, type: kind, windowBytes });
    else this.ctx.emit({ ...base, type: 'socket-remapped', mapping: kind });
  }

  closed(sock: LinkedSocket, error: Error | null): void {
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
    if (!this.dead) this.router.control(appClass, controlFrame(FrameType.RST, f.dst, f.src, 0, reason), undefined);
  }

  /**
   * A channel failed and may have taken frames with it: every socket re-sends what the
   * peer has not acknowledged on the channels that remain (the receiver drops
   * duplicates). If none remain, they wait for a channel to come back.
   */
  private onChannelLost(_dc: DeviceChannel, err: Error | undefined): void {
    if (err && !this.dead) for (const s of [...this.sockets.values()]) s.retransmit();
    this.router.unblock();
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
    this.router.clear();
    for (const s of [...this.sockets.values()]) {
      // After a graceful close, a socket that already has the peer's FIN keeps its unread data.
      if (!err && s.peerFinished) continue;
      s.onReset(ResetReason.RESET, error as NetChannelError);
    }
    for (const s of [...this.lingerers.keys()]) this.detach(s);
    this.ctx.limits.budget.remove(this);
    this.emit('down', err);
  }
}
