/**
 * Stack: one NetChannel endpoint. It listens for channels, dials peers (opening the
 * configured channels of each class), and hands out virtual sockets and servers.
 * @packageDocumentation
 */
import { AddressError, ErrorCode, InvalidArgumentError, NetChannelError } from '../errors/index.js';
import { splitAddress } from '../netdriver/address.js';
import type { AppClass } from '../netdriver/channel.js';
import type { ChannelDriver, ChannelListener, ChannelOptions } from '../netdriver/driver.js';
import type { DeviceChannel } from '../netdriver/net-device.js';
import { ControlLoop } from '../netscheduler/control-loop.js';
import type { StackEvent } from '../events/index.js';
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
import type { ResolvedStackOptions } from './options.js';
import type { CopyPool, WorkerRuntime } from '../workers/index.js';
import { Admission } from './admission.js';
import { StackLimits } from './limits.js';
import { Dialer } from './dialer.js';
import { drainSessions } from './shutdown.js';
import type { ConnectOptions, ListenOptions } from './socket-options.js';

export type { ConnectOptions, ListenOptions } from './socket-options.js';

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
  private readonly dialer: Dialer;
  private readonly admission: Admission;
  private readonly ctx: SessionContext;
  private state: 'open' | 'closing' | 'closed' = 'open';
  private closing: Promise<void> | null = null;
  private readonly events = new Subject<StackEvent>();
  private readonly controller: ControlLoop<PeerSession>;

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
    /** @internal */
    readonly options: ResolvedStackOptions,
    private readonly drivers: ReadonlyMap<string, ChannelDriver>,
    policies: Readonly<Record<AppClass, SchedulingPolicy>>,
    ports: PortAllocator,
    private readonly workers: WorkerRuntime | null = null,
  ) {
    this.hostId = options.hostId;
    const limits = new StackLimits(options);
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
        sendBuffer: options.sendBuffer,
      },
      isolation: options.scheduler.isolation,
      txSlicer: options.scheduler.isolation && options.scheduler.txSliceBytes > 0 ? new TxSlicer(options.scheduler.txSliceBytes) : null,
      peerTimeout: options.peerTimeout,
      lingerTimeout: options.lingerTimeout,
      maxSockets: options.maxSocketsPerPeer,
      maxReorderBytes: options.maxReorderBytesPerPeer,
      limits,
      rx: new RxPriorityQueue<DeviceChannel>({ sliceBytes: options.scheduler.rxSliceBytes }),
      emit: (e) => this.events.next(e),
      server: (port) => this.servers.get(port),
    };
    const parts = {
      options,
      emit: this.ctx.emit,
      isOpen: () => this.state === 'open',
      driverFor: (address: string) => this.driverFor(address),
      channelOptions: (appClass?: AppClass) => this.channelOptions(appClass),
      sessionFor: (peerHostId: string, remoteAddress: string) => this.sessionFor(peerHostId, remoteAddress),
      limits,
      sessionOf: (peerHostId: string) => this.sessions.get(peerHostId),
      peerCount: () => this.sessions.size,
    };
    this.dialer = new Dialer(parts);
    this.admission = new Admission(parts);
    this.controller = new ControlLoop<PeerSession>(
      {
        peers: () => this.sessions.values(),
        addChannel: (peer, appClass) => this.dialer.addChannel(peer, appClass),
        removeChannel: (peer, dc) => peer.device.closeChannel(dc),
        emit: this.ctx.emit,
        keepalive: { intervalMs: options.keepaliveInterval, timeoutMs: options.keepaliveTimeout },
        tickWorkers: () => void this.workers?.tick(),
      },
      { intervalMs: options.scheduler.interval, scaling: options.scheduler.scaling, bounds: options.scheduler.elastic },
    );
    this.registry = options.metrics.registry ?? new Registry();
    if (options.metrics.defaultMetrics) withDefaultMetrics(this.registry);
    this.metrics = options.metrics.enabled
      ? new StackMetrics(this, this.registry, { policies: { throughput: policies.throughput.name, latency: policies.latency.name } })
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
  get control(): ControlLoop<PeerSession> {
    return this.controller;
  }

  /** The live peer sessions, in the order they were made (a snapshot, for tools and tests). */
  get peers(): readonly PeerSession[] {
    return [...this.sessions.values()];
  }

  /** @internal Binds the configured listen addresses. */
  async start(): Promise<void> {
    for (const address of this.options.listen) {
      const driver = this.driverFor(address);
      const listener = await driver.listen(address, (ch) => this.admission.accept(ch), this.channelOptions());
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
    const sendBuffer = options?.sendBuffer;
    if (sendBuffer !== undefined && (typeof sendBuffer !== 'number' || !Number.isInteger(sendBuffer) || sendBuffer < 1024 || sendBuffer > 2 ** 30)) {
      throw new InvalidArgumentError(`connect options.sendBuffer must be an integer 1024-${2 ** 30}, got ${JSON.stringify(sendBuffer)}`);
    }
    this.driverFor(address).validate(address);
    const session = await this.dialer.sessionTo(address);
    return session.open(port, appClass, sendBuffer);
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
    this.admission.destroy(err);
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
    await Promise.allSettled(this.dialer.pending());
    await drainSessions([...this.sessions.values()], this.options.closeTimeout);
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

  private channelOptions(appClass?: AppClass): ChannelOptions {
    return {
      txHighWaterMark: this.options.channelTxHighWaterMark,
      rxHighWaterMark: this.options.channelRxHighWaterMark,
      maxPayload: this.options.maxFramePayload,
      splitData: true,
      ...(appClass !== undefined && { workerHint: appClass }),
    };
  }

  private sessionFor(peerHostId: string, remoteAddress: string): PeerSession {
    let session = this.sessions.get(peerHostId);
    if (!session) {
      const s = new PeerSession(peerHostId, remoteAddress, this.ctx);
      this.sessions.set(peerHostId, s);
      this.controller.start();
      s.device.on('channel-removed', (dc, err) => {
        if (err && s.scalable && this.state === 'open') void this.dialer.redial(s, dc.appClass, dc.index);
      });
      s.once('down', () => {
        if (this.sessions.get(peerHostId) === s) this.sessions.delete(peerHostId);
        if (this.sessions.size === 0) this.controller.stop();
        this.dialer.forget(s);
      });
      session = s;
    }
    return session;
  }
}
