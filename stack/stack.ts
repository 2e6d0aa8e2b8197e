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
import { disabledTrace, SegmentTrace, type LatencyTraceSnapshot } from '../netdriver/segment-trace.js';
import { RxPriorityQueue } from '../netscheduler/rx-priority.js';
import { TxSlicer } from '../netscheduler/tx-slicer.js';
import { Registry } from 'prom-client';
import { Subject, type Observable } from 'rxjs';
import { serveMetrics, withDefaultMetrics, type MetricsServer, type ServeMetricsOptions } from '../metrics/serve.js';
import { StackMetrics } from '../metrics/stack-metrics.js';
import { rpcConnect, rpcListen, type RequestHandler, type RpcClient, type RpcConnectOptions, type RpcListenOptions, type RpcServer } from '../rpc/index.js';
import { PeerSession, socketInit, type SessionContext } from '../vns/peer-session.js';
import type { PortAllocator } from '../vns/port-allocator.js';
import { ipEndpoint } from '../vns/socket-address.js';
import { VirtualServer } from '../vns/virtual-server.js';
import { VirtualSocket } from '../vns/virtual-socket.js';
import { attachDiagnostics } from './diagnostics.js';
import type { ResolvedStackOptions } from './options.js';
import type { CopyPool, WorkerRuntime } from '../workers/index.js';
import { Admission } from './admission.js';
import { StackLimits } from './limits.js';
import { Dialer } from './dialer.js';
import { drainSessions } from './shutdown.js';
import type { ConnectOptions, ListenOptions } from './socket-options.js';
import { abortError, checkConnectPort, guardOpen, resolveConnectOptions, resolveListenOptions, type ResolvedConnectOptions } from './connect-options.js';

export type { ConnectOptions, ListenOptions } from './socket-options.js';

/** One NetChannel endpoint; made by {@link createStack}. */
export class Stack {
  /** Host id sent in every HELLO. */
  readonly hostId: string;
  /** Bound listen addresses, with real ports. */
  readonly addresses: string[] = [];
  private readonly listeners: ChannelListener[] = [];
  private readonly servers = new Map<number, VirtualServer>();
  private readonly sessions = new Map<string, PeerSession>();
  /** Sockets between `connect` and their session's SYNC (dialing the peer). */
  private readonly dialingSockets = new Set<VirtualSocket>();
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
  private readonly trace: SegmentTrace | null;

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
    // Latency sockets travel on throughput channels only without isolation or latency channels.
    this.trace = options.latencyTrace ? new SegmentTrace(undefined, !options.scheduler.isolation || options.channels.latency === 0) : null;
    const trace = this.trace;
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
        trace: this.trace,
      },
      isolation: options.scheduler.isolation,
      throughputInflightCap: options.scheduler.isolation ? options.scheduler.throughputInflightCap : 0,
      latencyActiveMs: options.scheduler.latencyActiveMs,
      txSlicer: options.scheduler.isolation && options.scheduler.txSliceBytes > 0 ? new TxSlicer(options.scheduler.txSliceBytes) : null,
      peerTimeout: options.peerTimeout,
      lingerTimeout: options.lingerTimeout,
      maxSockets: options.maxSocketsPerPeer,
      maxReorderBytes: options.maxReorderBytesPerPeer,
      limits,
      rx: new RxPriorityQueue<DeviceChannel>({ sliceBytes: options.scheduler.rxSliceBytes, sliceMs: options.scheduler.rxSliceMs, ...(trace && { onSlice: (ms: number) => trace.slice(ms) }) }),
      emit: (e) => this.events.next(e),
      server: (port) => this.servers.get(port),
    };
    const parts = {
      options,
      emit: this.ctx.emit,
      isOpen: () => this.state === 'open',
      driverFor: (address: string) => this.driverFor(address),
      channelOptions: (appClass?: AppClass) => this.channelOptions(appClass),
      pathManager: options.scheduler.paths({ appClass: 'throughput' }),
      canDial: (address: string) => {
        try {
          this.driverFor(address).validate(address);
          return true;
        } catch {
          return false;
        }
      },
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
        keepalive: { intervalMs: options.keepaliveInterval, timeoutMs: options.keepaliveTimeout, staleAfterMs: options.staleAfter },
        tickWorkers: () => this.tickWorkers(),
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
  get control(): ControlLoop<PeerSession> {
    return this.controller;
  }

  /** The live peer sessions, in the order they were made (a snapshot, for tools and tests). */
  /**
   * The latency trace (`latencyTrace: true`): per-stage timestamps of the DATA segments
   * latency-class sockets sent and received, oldest first; `clear` starts over. Join a
   * sender's and its peer's with `joinLatencyTrace`. `enabled` is false (and the lists
   * empty) without the option.
   */
  latencyTrace(options: { clear?: boolean } = {}): LatencyTraceSnapshot {
    return this.trace === null ? disabledTrace() : this.trace.snapshot(options.clear === true);
  }

  get peers(): readonly PeerSession[] {
    return [...this.sessions.values()];
  }

  /** @internal Binds the configured listen addresses. */
  async start(): Promise<void> {
    for (const address of this.options.advertise) this.driverFor(address).validate(address);
    for (const address of this.options.listen) {
      const driver = this.driverFor(address);
      const listener = await driver.listen(address, (ch) => this.admission.accept(ch), this.channelOptions());
      this.listeners.push(listener);
      this.addresses.push(listener.address);
      // An advertised address written as one of the listen addresses (e.g. port 0) means its bound address.
      const i = this.options.advertise.indexOf(address);
      if (i >= 0) this.options.advertise[i] = listener.address;
    }
  }

  /**
   * Listens on virtual port `port` (1–49151, or 0 for any free one). An aborted
   * `options.signal` closes the server (rejects with an `AbortError` if already aborted).
   */
  async listen(port: number, options?: ListenOptions): Promise<VirtualServer> {
    this.assertOpen('listen');
    const { appClass, signal, timeout } = resolveListenOptions(options);
    if (signal?.aborted) throw abortError(signal, `listen on virtual port ${port}`);
    const bound = this.ctx.ports.listen(port);
    const ip = this.addresses.map((a) => ipEndpoint(a)).find((e) => e !== undefined);
    const server = new VirtualServer(bound, appClass, ip, (s) => {
      this.servers.delete(s.port);
      this.ctx.ports.unlisten(s.port);
    });
    this.servers.set(bound, server);
    if (timeout !== undefined) server.on('connection', (sock: VirtualSocket) => sock.setTimeout(timeout));
    if (signal) {
      const onAbort = (): void => void server.closeAsync();
      signal.addEventListener('abort', onAbort, { once: true });
      server.once('close', () => signal.removeEventListener('abort', onAbort));
    }
    return server;
  }

  /**
   * Opens a virtual socket to `port` at the stack listening on `address`; resolves once
   * it is connected. The promise form of {@link createConnection}. The first connect to
   * an address dials the configured channels; later ones reuse them. Given several
   * addresses of the same peer (multipath), the channels are spread over them by the
   * path manager; each must reach the same host id.
   * @throws AddressError before dialing when an address or scheme is bad.
   * @throws ChannelError `NETCHANNEL_ERR_HANDSHAKE` naming the address when the addresses reach different hosts.
   * @throws SocketError `NETCHANNEL_ERR_CONNECTION_REFUSED` when nobody listens on `port`.
   */
  async connect(address: string | readonly string[], port: number, options?: ConnectOptions): Promise<VirtualSocket> {
    const sock = this.createConnection(address, port, options);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        sock.off('connect', onConnect);
        reject(err);
      };
      const onConnect = (): void => {
        sock.off('error', onError);
        resolve();
      };
      sock.once('connect', onConnect);
      sock.once('error', onError);
    });
    return sock;
  }

  /**
   * Like `net.createConnection`: returns a socket at once, connecting (`pending`,
   * `connecting`) until it emits `'connect'` and `'ready'`, or `'error'` then `'close'`.
   * `connectListener` is added as a `'connect'` listener.
   * @throws InvalidArgumentError / AddressError for bad arguments (before any I/O).
   */
  createConnection(address: string | readonly string[], port: number, options?: ConnectOptions, connectListener?: () => void): VirtualSocket {
    const o = resolveConnectOptions(options);
    const sock = this.createSocketFor(address, o);
    checkConnectPort(port);
    if (connectListener) sock.once('connect', connectListener);
    this.openSocket(sock, address, port, o);
    return sock;
  }

  /**
   * Like `new net.Socket()`: an unconnected socket to the stack at `address`, opened by
   * its `connect(port[, host][, listener])` (the `host` argument is ignored), so a
   * library that takes a socket factory (e.g. pg's `stream` option) can use it.
   * @throws InvalidArgumentError / AddressError for bad arguments.
   */
  createSocket(address: string | readonly string[], options?: ConnectOptions): VirtualSocket {
    const o = resolveConnectOptions(options);
    const sock = this.createSocketFor(address, o);
    sock.setOpener((port) => this.openSocket(sock, address, checkConnectPort(port), o));
    return sock;
  }

  private createSocketFor(address: string | readonly string[], o: ResolvedConnectOptions): VirtualSocket {
    this.assertOpen('connect');
    this.addressList(address);
    return new VirtualSocket(socketInit(this.ctx.socketDefaults, o.appClass, o.sendBuffer));
  }

  /** Control tick of the worker pools: every decision that changed something becomes a `worker-scaling` event. */
  private tickWorkers(): void {
    for (const d of this.workers?.tick() ?? []) {
      if (d.action === 'hold') continue;
      this.ctx.emit({ type: 'worker-scaling', at: Date.now(), peer: '', kind: d.kind, action: d.action, from: d.from, to: d.target, idleCapacity: d.idleCapacity, parked: d.parked.length });
    }
  }

  /** One address or 1-16 distinct ones, each valid for a registered driver. */
  private addressList(addresses: string | readonly string[]): readonly string[] {
    const list = typeof addresses === 'string' ? [addresses] : addresses;
    if (!Array.isArray(list) || list.length === 0 || list.length > 16 || new Set(list).size !== list.length) {
      throw new InvalidArgumentError(`addresses must be an address string or an array of 1-16 distinct address strings, got ${JSON.stringify(addresses)}`);
    }
    for (const address of list) {
      if (typeof address !== 'string') throw new InvalidArgumentError(`addresses must be strings, got ${JSON.stringify(address)}`);
      this.driverFor(address).validate(address);
    }
    return list;
  }

  /** The one open path of every connect form: guard, dial (or reuse) the peer, SYNC. */
  private openSocket(sock: VirtualSocket, address: string | readonly string[], port: number, o: ResolvedConnectOptions): void {
    this.assertOpen('connect');
    const list = this.addressList(address);
    sock.markConnecting();
    guardOpen(sock, o.timeout ?? this.options.connectTimeout, o.signal, `connect to virtual port ${port} at ${list.join(', ')}`);
    if (o.signal?.aborted) return; // nothing goes out; the guard destroys it on the next tick
    this.dialingSockets.add(sock);
    sock.once('close', () => this.dialingSockets.delete(sock));
    this.dialer.sessionTo(list).then(
      (session) => {
        this.dialingSockets.delete(sock);
        session.open(sock, port);
      },
      (err: Error & { code?: string }) => {
        // No session, so no session event: the stack reports the refused connect itself.
        this.events.next({ type: 'socket-refused', at: Date.now(), peer: '', appClass: o.appClass, remotePort: port, code: err.code ?? 'UNKNOWN' });
        sock.destroy(err);
      },
    );
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

  /** Graceful close for `await using`: same as {@link close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Immediate close: every socket and channel is aborted. Idempotent. */
  destroy(err?: Error): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.controller.stop();
    for (const s of this.servers.values()) void s.closeAsync();
    for (const s of [...this.dialingSockets]) s.destroy(err ?? new NetChannelError(ErrorCode.CLOSED, `stack ${this.hostId} closed while connecting`));
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
    await Promise.all([...this.servers.values()].map((s) => void s.closeAsync()));
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
      ...(appClass !== undefined && { appClass }),
    };
  }

  private sessionFor(peerHostId: string, remoteAddress: string): PeerSession {
    let session = this.sessions.get(peerHostId);
    if (!session) {
      const s = new PeerSession(peerHostId, remoteAddress, this.ctx);
      this.sessions.set(peerHostId, s);
      this.controller.start();
      s.device.on('channel-removed', (dc, err) => {
        if (err && s.scalable && this.state === 'open') void this.dialer.redial(s, dc.appClass, dc.index, dc.path);
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
