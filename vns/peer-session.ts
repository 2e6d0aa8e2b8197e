/**
 * PeerSession: the virtual sockets to one peer host. It owns the connection table,
 * routes frames from the peer's NetDevice to sockets, and asks the class's scheduling
 * policy for a channel for every outgoing segment.
 * @packageDocumentation
 */
import { EventEmitter } from 'node:events';
import { ErrorCode, SocketError, type NetChannelError } from '../errors/index.js';
import type { AppClass } from '../netdriver/channel.js';
import { controlFrame, FrameFlag, FrameType, MAX_LISTEN_PORT, ResetReason, type Frame } from '../netdriver/frame.js';
import type { DeviceChannel, NetDevice } from '../netdriver/net-device.js';
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
}

/** What a session needs from its stack. */
export interface SessionContext {
  readonly localHostId: string;
  readonly ports: PortAllocator;
  readonly policies: Readonly<Record<AppClass, SchedulingPolicy>>;
  readonly socketDefaults: SessionSocketDefaults;
  /** The server listening on a virtual port, if any. */
  server(port: number): VirtualServer | undefined;
}

/** Events of a {@link PeerSession}. */
export interface PeerSessionEvents {
  /** Every channel to the peer is gone; the session is dead. */
  down: [Error | undefined];
}

/** Connection-table key: the ephemeral end of a connection identifies it within a peer. */
function keyOf(localPort: number, remotePort: number): number {
  return localPort > MAX_LISTEN_PORT ? localPort : -remotePort;
}

/** All virtual sockets between this stack and one peer host. */
export class PeerSession extends EventEmitter<PeerSessionEvents> implements SocketLink {
  /** Open sockets by connection key. */
  readonly sockets = new Map<number, VirtualSocket>();
  private readonly blocked = new Set<LinkedSocket>();
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
    device.on('channel-added', () => this.unblock());
    device.on('channel-removed', (dc, err) => this.onChannelLost(dc, err));
    device.on('down', (err) => this.onDown(err));
  }

  get remoteHostId(): string {
    return this.device.peerHostId;
  }
  get localHostId(): string {
    return this.ctx.localHostId;
  }

  /** Opens a virtual socket to `port` on the peer; resolves once SYNC_ACK arrives. */
  open(port: number, appClass: AppClass): Promise<VirtualSocket> {
    if (this.dead) return Promise.reject(new SocketError(ErrorCode.PEER_UNREACHABLE, `peer ${this.remoteAddress} is unreachable`));
    const d = this.ctx.socketDefaults;
    const localPort = this.ctx.ports.ephemeralPort();
    const policy = this.ctx.policies[appClass];
    const sock = new VirtualSocket({
      link: this,
      appClass,
      localPort,
      remotePort: port,
      flowState: policy.createFlowState(localPort, port),
      window: d.window,
      maxSegment: d.maxSegment,
      allowHalfOpen: d.allowHalfOpen,
    });
    this.sockets.set(keyOf(localPort, port), sock);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        sock.destroy(new SocketError(ErrorCode.TIMEOUT, `connect to virtual port ${port} at ${this.remoteAddress} timed out after ${d.connectTimeout} ms`));
      }, d.connectTimeout);
      const settle = (): void => {
        clearTimeout(timer);
        sock.off('connect', onConnect);
        sock.off('error', onError);
      };
      const onConnect = (): void => {
        settle();
        resolve(sock);
      };
      const onError = (err: Error): void => {
        settle();
        reject(err);
      };
      sock.once('connect', onConnect);
      sock.once('error', onError);
      this.control(appClass, sock.syncFrame());
    });
  }

  // ---- SocketLink ----------------------------------------------------------------

  select(sock: LinkedSocket, bytes: number): DeviceChannel | undefined {
    const candidates = this.candidates(sock.appClass);
    if (candidates.length === 0) {
      this.blocked.add(sock);
      return undefined;
    }
    const seg = this.segment;
    seg.bytes = bytes;
    seg.appClass = sock.appClass;
    seg.localPort = sock.localPort;
    seg.remotePort = sock.remotePort;
    seg.state = sock.flowState;
    const ch = this.ctx.policies[sock.appClass].select(seg, candidates) as DeviceChannel | undefined;
    if (ch === undefined) {
      this.blocked.add(sock);
      return undefined;
    }
    if (ch.channel.destroyed) {
      // Closed under us (its 'close' event is still pending): stop using it and ask again.
      this.device.retire(ch);
      return this.select(sock, bytes);
    }
    return ch;
  }

  control(appClass: AppClass, frame: Frame): void {
    const candidates = this.candidates(appClass);
    let best: DeviceChannel | undefined;
    for (const c of candidates) {
      if (!c.channel.destroyed && (best === undefined || c.txQueuedBytes < best.txQueuedBytes)) best = c;
    }
    if (best) best.channel.enqueue(frame);
  }

  detach(sock: LinkedSocket): void {
    const key = keyOf(sock.localPort, sock.remotePort);
    if (this.sockets.get(key) === sock) this.sockets.delete(key);
    if (sock.localPort > MAX_LISTEN_PORT) this.ctx.ports.release(sock.localPort);
    this.blocked.delete(sock);
  }

  // ---- inbound -------------------------------------------------------------------

  private onFrame(f: Frame, from: DeviceChannel): void {
    const sock = this.sockets.get(keyOf(f.dst, f.src));
    if (sock !== undefined) {
      if (f.type === FrameType.SYNC) return; // duplicate SYNC: ignore
      sock.onFrame(f);
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
    const appClass = server.appClass ?? requested;
    const d = this.ctx.socketDefaults;
    const sock = new VirtualSocket({
      link: this,
      appClass,
      localPort: f.dst,
      remotePort: f.src,
      flowState: this.ctx.policies[appClass].createFlowState(f.dst, f.src),
      window: d.window,
      maxSegment: d.maxSegment,
      allowHalfOpen: d.allowHalfOpen,
      peerGrant: f.ack,
    });
    this.sockets.set(keyOf(f.dst, f.src), sock);
    this.control(appClass, sock.synAckFrame());
    server.accept(sock);
  }

  private reset(appClass: AppClass, f: Frame, reason: number): void {
    this.control(appClass, controlFrame(FrameType.RST, f.dst, f.src, 0, reason));
  }

  private candidates(appClass: AppClass): readonly DeviceChannel[] {
    const own = this.device.channelsOf(appClass);
    if (own.length > 0) return own;
    return this.device.channelsOf(appClass === 'latency' ? 'throughput' : 'latency');
  }

  private unblock(): void {
    if (this.blocked.size === 0) return;
    const list = [...this.blocked];
    this.blocked.clear();
    for (const s of list) s.pump();
  }

  /** A channel that failed may have taken frames with it: its class's sockets fail. */
  private onChannelLost(dc: DeviceChannel, err: Error | undefined): void {
    if (!err || this.dead) {
      this.unblock();
      return;
    }
    const error = new SocketError(ErrorCode.PEER_UNREACHABLE, `channel ${dc.id} (${dc.appClass} #${dc.index}) to ${this.remoteAddress} failed: ${err.message}`);
    for (const s of [...this.sockets.values()]) {
      const couldUse = s.appClass === dc.appClass || this.device.channelsOf(s.appClass).length === 0;
      if (couldUse) s.onReset(ResetReason.RESET, error as NetChannelError);
    }
  }

  private onDown(err: Error | undefined): void {
    if (this.dead) return;
    this.dead = true;
    const error = new SocketError(ErrorCode.PEER_UNREACHABLE, `every channel to ${this.remoteAddress} is closed${err ? `: ${err.message}` : ''}`);
    for (const s of [...this.sockets.values()]) {
      // After a graceful close, a socket that already has the peer's FIN keeps its unread data.
      if (!err && s.peerFinished) continue;
      s.onReset(ResetReason.RESET, error);
    }
    this.emit('down', err);
  }

  /** True once the peer's last channel is gone. */
  get isDown(): boolean {
    return this.dead;
  }
}
