/**
 * Stack: one NetChannel endpoint. It listens for channels, dials peers (opening the
 * configured channels of each class), and hands out virtual sockets and servers.
 * @packageDocumentation
 */
import { AddressError, ChannelError, ErrorCode, InvalidArgumentError, NetChannelError } from '../errors/index.js';
import { splitAddress } from '../netdriver/address.js';
import type { AppClass, Channel } from '../netdriver/channel.js';
import type { ChannelDriver, ChannelListener, ChannelOptions } from '../netdriver/driver.js';
import { helloAsAcceptor, helloAsDialer } from '../netdriver/hello.js';
import { NetDevice, type DeviceChannel } from '../netdriver/net-device.js';
import { ScalingController } from '../netscheduler/controller.js';
import type { StackEvent } from '../netscheduler/events.js';
import type { SchedulingPolicy } from '../netscheduler/policy.js';
import { RxPriorityQueue } from '../netscheduler/rx-priority.js';
import { TxSlicer } from '../netscheduler/tx-slicer.js';
import { Registry } from 'prom-client';
import { Subject, type Observable } from 'rxjs';
import { serveMetrics, withDefaultMetrics, type MetricsServer, type ServeMetricsOptions } from '../metrics/serve.js';
import { StackMetrics } from '../metrics/stack-metrics.js';
import { rpcConnect, rpcListen, type RequestHandler, type RpcClient, type RpcConnectOptions, type RpcListenOptions, type RpcServer } from '../rpc/index.js';
import { PeerSession, type SessionContext } from '../vns/peer-session.js';
import type { PortAllocator } from '../vns/port-allocator.js';
import { VirtualServer } from '../vns/virtual-server.js';
import type { VirtualSocket } from '../vns/virtual-socket.js';
import { attachDiagnostics } from './diagnostics.js';
import type { ResolvedStackOptions } from './options.js';
import type { CopyPool, WorkerRuntime } from '../workers/index.js';

/** Options of {@link Stack.connect}. */
export interface ConnectOptions {
  /** Traffic class of the socket. @default 'throughput' */
  appClass?: AppClass;
}

/** Options of {@link Stack.listen}. */
export interface ListenOptions {
  /** Class forced on accepted sockets. @default the class each connector asked for */
  appClass?: AppClass;
}

function checkClass(where: string, value: unknown): AppClass | undefined {
  if (value === undefined || value === 'latency' || value === 'throughput') return value;
  throw new InvalidArgumentError(`${where}.appClass must be 'latency' or 'throughput', got ${JSON.stringify(value)}`);
}

/** One NetChannel endpoint; made by {@link createStack}. */
export class Stack {
  /** Host id sent in every HELLO. */
  readonly hostId: string;
  /** Bound listen addresses, with real ports. */
  readonly addresses: string[] = [];
  private readonly listeners: ChannelListener[] = [];
  private readonly servers = new Map<number, VirtualServer>();
  private readonly sessions = new Map<string, PeerSession>();
  private readonly dialing = new Map<string, Promise<PeerSession>>();
  private readonly handshaking = new Set<Channel>();
  private readonly ctx: SessionContext;
  private state: 'open' | 'closing' | 'closed' = 'open';
  private closing: Promise<void> | null = null;
  private readonly events = new Subject<StackEvent>();
  private readonly rx: RxPriorityQueue<DeviceChannel>;
  private readonly controller: ScalingController;

  /**
   * Everything the stack and its scheduler do, as an rxjs stream: channels added and
   * removed, sockets opened/closed/refused/remapped, HoL detected/resolved, scaling.
   * Completes when the stack closes.
   */
  readonly events$: Observable<StackEvent> = this.events.asObservable();

  /** This stack's Prometheus registry (its own unless `options.metrics.registry` was given). */
  readonly registry: Registry;
  private readonly metrics: StackMetrics | null;
  private readonly metricServers = new Set<MetricsServer>();

  /** @internal Use {@link createStack}. */
  constructor(
    private readonly options: ResolvedStackOptions,
    private readonly drivers: ReadonlyMap<string, ChannelDriver>,
    policies: Readonly<Record<AppClass, SchedulingPolicy>>,
    ports: PortAllocator,
    private readonly workers: WorkerRuntime | null = null,
  ) {
    this.hostId = options.hostId;
    this.ctx = {
      localHostId: options.hostId,
      ports,
      policies,
      socketDefaults: {
        window: options.window,
        maxSegment: options.maxSegmentSize,
        allowHalfOpen: options.allowHalfOpen,
        connectTimeout: options.connectTimeout,
        holExpansion: options.scheduler.holExpansion,
        idleTimeout: options.idleTimeout,
        zeroCopy: options.zeroCopyWrites,
      },
      isolation: options.scheduler.isolation,
      txSlicer: options.scheduler.isolation && options.scheduler.txSliceBytes > 0 ? new TxSlicer(options.scheduler.txSliceBytes) : null,
      peerTimeout: options.peerTimeout,
      lingerTimeout: options.lingerTimeout,
      maxSockets: options.maxSocketsPerPeer,
      maxReorderBytes: options.maxReorderBytesPerPeer,
      emit: (e) => this.events.next(e),
      server: (port) => this.servers.get(port),
    };
    this.rx = new RxPriorityQueue<DeviceChannel>(
      (f, dc) => dc.device.onFrame(f, dc),
      () => {
        if (!this.rx.congested) for (const s of this.sessions.values()) s.device.resumeRx();
      },
      { sliceBytes: options.scheduler.rxSliceBytes },
    );
    this.controller = new ScalingController(
      {
        peers: () => this.sessions.values(),
        addChannel: (peer, appClass) => this.addChannel(peer as PeerSession, appClass),
        removeChannel: (peer, dc) => this.removeChannel(peer as PeerSession, dc),
        emit: this.ctx.emit,
        keepalive: { intervalMs: options.keepaliveInterval, timeoutMs: options.keepaliveTimeout },
        tickWorkers: () => void this.workers?.tick(),
      },
      { intervalMs: options.scheduler.interval, scaling: options.scheduler.scaling, bounds: options.scheduler.elastic },
    );
    attachDiagnostics(this.hostId, this.events$);
    this.registry = options.metrics.registry ?? new Registry();
    if (options.metrics.defaultMetrics) withDefaultMetrics(this.registry, options.metrics.defaultMetrics.prefix);
    this.metrics = options.metrics.enabled
      ? new StackMetrics(this, this.registry, { policies: { throughput: policies.throughput.name, latency: policies.latency.name }, scalingPolicy: options.scheduler.scaling.policyName })
      : null;
  }

  /**
   * Serves this stack's metrics in the Prometheus text format over HTTP
   * (default `http://127.0.0.1:9464/metrics`). Closed with the stack.
   */
  async serveMetrics(options?: ServeMetricsOptions): Promise<MetricsServer> {
    this.assertOpen('serve metrics');
    const server = await serveMetrics(this.registry, options);
    this.metricServers.add(server);
    return server;
  }

  /**
   * The message interface beside streams: request/response with ids and message
   * boundaries, riding the same channels and scheduler (see docs/rpc.md).
   * `stack.rpc.listen(port, handler)` and `stack.rpc.connect(address, port)`.
   */
  get rpc(): {
    listen(port: number, handler: RequestHandler, options?: RpcListenOptions): Promise<RpcServer>;
    connect(address: string, port: number, options?: RpcConnectOptions): Promise<RpcClient>;
  } {
    return {
      listen: (port, handler, options) => rpcListen(this, port, handler, options),
      connect: (address, port, options) => rpcConnect(this, address, port, options),
    };
  }

  /** The copy-worker pool of `options.workers.copy`, or null. */
  get copyPool(): CopyPool | null {
    return this.workers?.copyPool ?? null;
  }

  /** The control loop (exposed for tests and tools that drive ticks by hand). */
  get control(): ScalingController {
    return this.controller;
  }

  /** Peer sessions by peer host id (read-only view for tools and tests). */
  get peers(): ReadonlyMap<string, PeerSession> {
    return this.sessions;
  }

  /** @internal Binds the configured listen addresses. */
  async start(): Promise<void> {
    for (const address of this.options.listen) {
      const driver = this.driverFor(address);
      const listener = await driver.listen(address, (ch) => this.onAccepted(ch), this.channelOptions());
      this.listeners.push(listener);
      this.addresses.push(listener.address);
    }
  }

  /** Listens on virtual port `port` (1–65535, or 0 for any free one). */
  async listen(port: number, options: ListenOptions = {}): Promise<VirtualServer> {
    this.assertOpen('listen');
    const appClass = checkClass('listen options', options?.appClass);
    const bound = this.ctx.ports.listen(port);
    const server = new VirtualServer(bound, appClass, this.hostId, (s) => {
      this.servers.delete(s.port);
      this.ctx.ports.unlisten(s.port);
    });
    this.servers.set(bound, server);
    return server;
  }

  /**
   * Opens a virtual socket to `port` at the stack listening on `address`. The first
   * connect to an address dials the configured channels; later ones reuse them.
   * @throws AddressError before dialing when the address or scheme is bad.
   * @throws SocketError `NETCHANNEL_ERR_CONNECTION_REFUSED` when nobody listens on `port`.
   */
  async connect(address: string, port: number, options: ConnectOptions = {}): Promise<VirtualSocket> {
    this.assertOpen('connect');
    const appClass = checkClass('connect options', options?.appClass) ?? 'throughput';
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 0xffff) {
      throw new InvalidArgumentError(`virtual port must be an integer 1-65535, got ${JSON.stringify(port)}`);
    }
    this.driverFor(address).validate(address);
    const session = await this.sessionTo(address).catch((err: Error & { code?: string }) => {
      this.events.next({ type: 'socket-refused', at: Date.now(), peer: '', appClass, remotePort: port, code: err.code ?? 'UNKNOWN' });
      throw err;
    });
    return session.open(port, appClass);
  }

  /**
   * Graceful close: stop accepting, end every virtual socket, wait (up to
   * `closeTimeout`) until their data left the channels, then close the channels.
   * Idempotent: later calls return the same promise.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /** Immediate close: every socket and channel is aborted. Idempotent. */
  destroy(err?: Error): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.controller.stop();
    for (const s of this.servers.values()) void s.close();
    for (const l of this.listeners) void l.close();
    for (const ch of this.handshaking) ch.destroy(err);
    for (const session of this.sessions.values()) {
      for (const sock of [...session.sockets.values()]) {
        if (err) sock.destroy(err);
        else sock.abandon();
      }
      session.abort(err);
      session.device.destroy(err);
    }
    this.closing ??= Promise.resolve();
    this.events.complete();
    for (const s of this.metricServers) void s.close();
    // A registry the user shared with us outlives the stack: take our metrics off it.
    if (this.options.metrics.registry) this.metrics?.dispose();
    // Drivers own resources (channel-worker pools): release them with the stack.
    void Promise.allSettled([...[...this.drivers.values()].map((d) => d.close?.()), this.workers?.close()]);
  }

  private async shutdown(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'closing';
    await Promise.all([...this.servers.values()].map((s) => void s.close()));
    await Promise.all(this.listeners.map((l) => l.close()));
    await Promise.allSettled([...this.dialing.values()]);
    const sockets = [...this.sessions.values()].flatMap((s) => [...s.sockets.values()]);
    const flushed = sockets.map(
      (sock) =>
        new Promise<void>((resolve) => {
          if (sock.writableFinished || sock.destroyed) return resolve();
          sock.once('finish', resolve);
          sock.once('close', resolve);
          sock.end();
        }),
    );
    await withTimeout(Promise.all(flushed), this.options.closeTimeout);
    for (const sock of sockets) if (!sock.destroyed && !sock.readableEnded) sock.abandon();
    const devices = [...this.sessions.values()].map((s) => s.device);
    await withTimeout(Promise.all(devices.map((d) => d.close())), this.options.closeTimeout);
    this.destroy();
  }

  private assertOpen(op: string): void {
    if (this.state !== 'open') throw new NetChannelError(ErrorCode.CLOSED, `cannot ${op}: stack ${this.hostId} is ${this.state}`);
  }

  private driverFor(address: string): ChannelDriver {
    const { scheme } = splitAddress(address);
    const driver = this.drivers.get(scheme);
    if (!driver) {
      const known = [...this.drivers.keys()].join(', ');
      throw new AddressError(ErrorCode.UNKNOWN_SCHEME, address, `no transport registered for scheme '${scheme}' in ${JSON.stringify(address)} (registered: ${known})`);
    }
    return driver;
  }

  private channelOptions(): ChannelOptions {
    return {
      txHighWaterMark: this.options.channelTxHighWaterMark,
      rxHighWaterMark: this.options.channelRxHighWaterMark,
      maxPayload: this.options.maxFramePayload,
      splitData: true,
    };
  }

  private sessionTo(address: string): Promise<PeerSession> {
    let p = this.dialing.get(address);
    if (!p) {
      p = this.dialPeer(address);
      this.dialing.set(address, p);
      p.catch(() => this.dialing.delete(address));
    }
    return p;
  }

  private async dialPeer(address: string): Promise<PeerSession> {
    const driver = this.driverFor(address);
    const plan: Array<[AppClass, number]> = [];
    for (let i = 0; i < this.options.channels.throughput; i++) plan.push(['throughput', i]);
    for (let i = 0; i < this.options.channels.latency; i++) plan.push(['latency', i]);
    if (plan.length === 0) plan.push(['throughput', 0]);
    const results = await Promise.allSettled(
      plan.map(async ([appClass, index]) => {
        const ch = await driver.dial(address, { ...this.channelOptions(), workerHint: appClass });
        const peer = await helloAsDialer(ch, { hostId: this.hostId, appClass, index }, this.options.handshakeTimeout, this.options.authKey);
        return { ch, peer, appClass, index };
      }),
    );
    const ok = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    const hosts = new Set(ok.map((r) => r.peer.hostId));
    if (failed || hosts.size !== 1 || this.state !== 'open') {
      for (const r of ok) r.ch.destroy();
      if (failed) throw failed.reason;
      if (this.state !== 'open') throw new NetChannelError(ErrorCode.CLOSED, `stack ${this.hostId} closed while dialing ${address}`);
      throw new ChannelError(ErrorCode.HANDSHAKE, `channels to ${address} reached ${hosts.size} different hosts`);
    }
    const session = this.sessionFor(ok[0]!.peer.hostId, address);
    session.dialAddress = address;
    for (const r of ok) session.device.add(r.ch, r.appClass, r.index);
    return session;
  }

  /** Dials one more channel of `appClass` to a peer this stack dialed (elastic scaling). */
  private async addChannel(session: PeerSession, appClass: AppClass, fixedIndex?: number): Promise<void> {
    const address = session.dialAddress;
    if (!address || this.state !== 'open') return;
    const index = fixedIndex ?? session.device.channels.reduce((m, c) => (c.appClass === appClass ? Math.max(m, c.index + 1) : m), 0);
    const ch = await this.driverFor(address).dial(address, { ...this.channelOptions(), workerHint: appClass });
    const peer = await helloAsDialer(ch, { hostId: this.hostId, appClass, index }, this.options.handshakeTimeout, this.options.authKey);
    if (peer.hostId !== session.remoteHostId || this.state !== 'open' || session.isDown) {
      ch.destroy();
      return;
    }
    session.device.add(ch, appClass, index);
  }

  /** Stops scheduling onto a channel, lets it drain, then closes it (no byte lost). */
  private async removeChannel(session: PeerSession, dc: DeviceChannel): Promise<void> {
    await session.device.closeChannel(dc);
  }

  /**
   * Re-dials a failed channel (same class and index) with exponential backoff and
   * jitter, until it is back, the session gives up (peerTimeout) or the stack closes.
   */
  private async redial(session: PeerSession, appClass: AppClass, index: number): Promise<void> {
    const { initial, max } = this.options.redialBackoff;
    for (let attempt = 0; this.state === 'open' && !session.isDown; attempt++) {
      const delay = Math.min(max, initial * 2 ** attempt) * (0.5 + Math.random() / 2);
      await new Promise((r) => setTimeout(r, delay).unref());
      if (this.state !== 'open' || session.isDown) return;
      try {
        await this.addChannel(session, appClass, index);
        return;
      } catch {
        // keep trying until peerTimeout fails the session
      }
    }
  }

  private sessionFor(peerHostId: string, remoteAddress: string): PeerSession {
    let session = this.sessions.get(peerHostId);
    if (!session) {
      const s = new PeerSession(new NetDevice(peerHostId, this.rx), remoteAddress, this.ctx);
      this.sessions.set(peerHostId, s);
      this.controller.start();
      s.device.on('channel-removed', (dc, err) => {
        if (err && s.scalable && this.state === 'open') void this.redial(s, dc.appClass, dc.index);
      });
      s.once('down', () => {
        if (this.sessions.get(peerHostId) === s) this.sessions.delete(peerHostId);
        if (this.sessions.size === 0) this.controller.stop();
        for (const [addr, p] of this.dialing) {
          void p.then((x) => x === s && this.dialing.get(addr) === p && this.dialing.delete(addr), () => {});
        }
      });
      session = s;
    }
    return session;
  }

  private onAccepted(ch: Channel): void {
    if (this.state !== 'open') {
      ch.destroy();
      return;
    }
    if (this.handshaking.size >= this.options.maxPendingHandshakes) {
      this.reject(ch, new ChannelError(ErrorCode.LIMIT, `more than ${this.options.maxPendingHandshakes} channels are in their HELLO; refusing ${ch.remoteAddress}`));
      return;
    }
    this.handshaking.add(ch);
    helloAsAcceptor(ch, this.hostId, this.options.handshakeTimeout, this.options.authKey).then(
      (peer) => {
        this.handshaking.delete(ch);
        if (this.state !== 'open') {
          ch.destroy();
          return;
        }
        this.sessionFor(peer.hostId, ch.remoteAddress).device.add(ch, peer.appClass, peer.index);
      },
      (err: Error) => {
        this.handshaking.delete(ch);
        this.reject(ch, err);
      },
    );
  }

  /** Refuses an inbound channel and records why (events$, metrics). */
  private reject(ch: Channel, err: Error & { code?: string }): void {
    ch.destroy(err);
    this.events.next({ type: 'channel-rejected', at: Date.now(), peer: '', transport: ch.scheme, remoteAddress: ch.remoteAddress, code: err.code ?? 'UNKNOWN', error: err.message });
  }
}

/** Resolves after `p` or after `ms`, whichever comes first. */
function withTimeout(p: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    p.then(
      () => {
        clearTimeout(t);
        resolve();
      },
      () => {
        clearTimeout(t);
        resolve();
      },
    );
  });
}

