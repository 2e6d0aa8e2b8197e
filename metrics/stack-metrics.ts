/**
 * StackMetrics: Prometheus metrics (prom-client) of one stack, registered on a
 * caller-supplied registry. Gauges and per-channel counters are read from the live
 * channels and sockets when the registry is scraped (`collect()`); event counters are
 * fed by `stack.events$`. Nothing runs on the per-segment path.
 * See docs/metrics.md for every metric.
 * @packageDocumentation
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Subscription } from 'rxjs';
import { InvalidArgumentError } from '../errors/index.js';
import { APP_CLASSES, type AppClass } from '../netdriver/channel.js';
import { LIMIT_NAMES, type StackEvent } from '../events/index.js';
import { checkRegistry, type MetricsRegistry } from './registry.js';
import type { DeviceChannelLike, MetricsSource, SocketLike } from './source.js';

export type { ChannelLike, DeviceChannelLike, MetricsSource, PeerLike, SocketLike } from './source.js';
export { HANDSHAKE_BUCKETS, MAX_ERROR_CODES, METRIC_NAMES } from './metric-names.js';
import { HANDSHAKE_BUCKETS, MAX_ERROR_CODES, METRIC_NAMES } from './metric-names.js';

/** Options of {@link StackMetrics}. */
export interface StackMetricsOptions {
  /**
   * Name of the channel-selection policy of each class (e.g. `round-robin`,
   * `dedicated`): the `policy` label of `netchannel_scheduler_decisions_total`.
   */
  policies: Readonly<Record<AppClass, string>>;
  /**
   * Name of the channel-scaling policy (the `policy` label of
   * `netchannel_scaling_actions_total`, whose series start at zero for every class and
   * direction under this name).
   * @default 'saturation'
   */
  scalingPolicy?: string;
}

const CHANNEL_LABELS = ['peer', 'channel', 'class', 'transport'] as const;
type ChannelLabel = (typeof CHANNEL_LABELS)[number];
type ChannelLabels = Record<ChannelLabel, string>;
/** Sets one series of a lazily collected metric. */
type Emit<L extends string> = (labels: Record<L, string>, value: number) => void;
/** Emits every series of a lazily collected metric. */
type Fill<L extends string> = (emit: Emit<L>) => void;

/** Most `stat` label values one channel contributes (bounds driver-defined keys). */
const MAX_TRANSPORT_STATS = 32;

/** Live per-class sums over the connection tables. */
interface ClassSums {
  open: number;
  read: number;
  written: number;
  stalls: number;
}

/** Totals of sockets that closed, per class. */
interface ClosedTotals {
  read: number;
  written: number;
  stalls: number;
}

/**
 * Prometheus metrics of one stack. Create one per stack and registry; call
 * {@link StackMetrics.dispose} to unregister (the stack closing only stops the event
 * counters: its last values stay exposed until dispose).
 */
export class StackMetrics {
  private readonly subscription: Subscription;
  private disposed = false;
  /** Sockets in head-of-line state: `peer|localPort|remotePort`. */
  private readonly holActive = new Set<string>();
  private readonly closed: Record<AppClass, ClosedTotals> = {
    latency: { read: 0, written: 0, stalls: 0 },
    throughput: { read: 0, written: 0, stalls: 0 },
  };
  /** Last value exposed per class-level total, so a `_total` never goes down. */
  private readonly reported = new Map<string, number>();
  private readonly errorCodes = new Set<string>();

  private readonly socketOpens: Counter<'class' | 'side'>;
  private readonly socketCloses: Counter<'class'>;
  private readonly socketRefusals: Counter<'class' | 'code'>;
  private readonly handshake: Histogram<'class'>;
  private readonly channelOpens: Counter<'class' | 'transport'>;
  private readonly channelCloses: Counter<'class' | 'transport' | 'reason'>;
  private readonly holEvents: Counter<'event'>;
  private readonly remaps: Counter<'mapping'>;
  private readonly scaling: Counter<'class' | 'policy' | 'direction'>;
  private readonly workerScaling: Counter<'kind' | 'action'>;
  private readonly staleEvents: Counter<'class' | 'event'>;
  private readonly errors: Counter<'code'>;
  private readonly limitHits: Counter<'limit'>;

  /**
   * Registers every metric on `registry` (never on prom-client's global registry) and
   * subscribes to `source.events$`.
   * @throws InvalidArgumentError when an argument is malformed or `registry` already
   * holds a `netchannel_*` metric of the same name (use one registry per stack).
   */
  constructor(
    private readonly source: MetricsSource,
    private readonly registry: MetricsRegistry,
    options: StackMetricsOptions,
  ) {
    if (source === null || typeof source !== 'object' || !source.peers || !source.events$) {
      throw new InvalidArgumentError('source must be a stack (hostId, peers, events$)');
    }
    checkRegistry(registry, 'registry');
    const given: Partial<Record<AppClass, unknown>> | undefined = options?.policies;
    for (const cls of APP_CLASSES) {
      const name = given?.[cls];
      if (typeof name !== 'string' || name.length === 0) {
        throw new InvalidArgumentError(`options.policies.${cls} must be a non-empty string, got ${JSON.stringify(name)}`);
      }
    }
    const policies = { ...options.policies } as Readonly<Record<AppClass, string>>;
    const scalingPolicy = options.scalingPolicy ?? 'saturation';
    if (typeof scalingPolicy !== 'string' || scalingPolicy.length === 0) {
      throw new InvalidArgumentError(`options.scalingPolicy must be a non-empty string, got ${JSON.stringify(scalingPolicy)}`);
    }
    for (const name of METRIC_NAMES) {
      if (registry.getSingleMetric(name)) {
        throw new InvalidArgumentError(`registry already has a metric named ${name}: use one registry per stack`);
      }
    }
    const registers = [registry as unknown as Registry];
    const live = <L extends string>(kind: 'gauge' | 'counter', name: string, help: string, labelNames: readonly L[], fill: Fill<L>): void =>
      liveMetric(kind, { name, help, labelNames, registers }, fill);
    const perChannel = (kind: 'gauge' | 'counter', name: string, help: string, read: (dc: DeviceChannelLike) => number): void =>
      live(kind, name, help, CHANNEL_LABELS, (emit) => this.eachChannel((labels, dc) => emit(labels, read(dc))));

    // ---- per channel: read from the live channels at scrape time -------------------
    const queuedHelp = 'Wire bytes queued in a channel: tx = accepted by enqueue, not yet handed to the transport; rx = received, not yet dequeued';
    live('gauge', 'netchannel_channel_queued_bytes', queuedHelp, [...CHANNEL_LABELS, 'direction'], (emit) =>
      this.eachChannel((labels, dc) => {
        emit({ ...labels, direction: 'tx' }, dc.channel.txQueuedBytes);
        emit({ ...labels, direction: 'rx' }, dc.channel.rxQueuedBytes);
      }),
    );
    perChannel('counter', 'netchannel_channel_sent_bytes_total', 'Frame bytes (header + payload) a channel handed to its transport', (dc) => dc.channel.bytesSent);
    perChannel('counter', 'netchannel_channel_received_bytes_total', 'Frame bytes (header + payload) a channel received from its transport', (dc) => dc.channel.bytesReceived);
    perChannel('counter', 'netchannel_channel_sent_frames_total', 'Frames a channel handed to its transport', (dc) => dc.channel.framesSent);
    perChannel('counter', 'netchannel_channel_received_frames_total', 'Frames a channel received from its transport', (dc) => dc.channel.framesReceived);
    perChannel('gauge', 'netchannel_channel_busy_ratio', 'Fraction of recent control ticks in which the channel had bytes queued or sent (EWMA, 0-1)', (dc) => dc.busyRatio);
    perChannel('gauge', 'netchannel_channel_up', '1 while the scheduler may place segments on the channel, 0 while it drains', (dc) => (dc.usable ? 1 : 0));
    perChannel('gauge', 'netchannel_channel_throughput_bytes_per_second', 'Bytes per second the channel sent over the last control tick', (dc) => dc.throughput);
    perChannel('gauge', 'netchannel_channel_srtt_seconds', 'Smoothed round-trip time of the channel (PING/PONG, queueing included), seconds; 0 before the first sample', (dc) => dc.srtt);
    perChannel('gauge', 'netchannel_channel_delivery_rate_bytes_per_second', 'DATA bytes per second the peer acknowledged on the channel (max over the last second); 0 while unknown', (dc) => dc.deliveryRate);
    perChannel('gauge', 'netchannel_channel_inflight_bytes', 'DATA bytes handed to the channel and not yet acknowledged by the peer', (dc) => dc.inflightBytes);
    perChannel('gauge', 'netchannel_channel_stale', '1 while the channel holds unacknowledged data without progress (skipped by the scheduler), else 0', (dc) => (dc.stale ? 1 : 0));
    // Driver-defined stats (Channel.transportStats): `_total` keys are counters, the rest gauges.
    const transport = (counters: boolean): Fill<ChannelLabel | 'stat'> => (emit) =>
      this.eachChannel((labels, dc) => {
        const stats = dc.channel.transportStats?.();
        if (stats === undefined) return;
        let n = 0;
        for (const key in stats) {
          if (n++ >= MAX_TRANSPORT_STATS) break;
          if (key.endsWith('_total') !== counters) continue;
          emit({ ...labels, stat: counters ? key.slice(0, -6) : key }, stats[key]!);
        }
      });
    const statLabels = [...CHANNEL_LABELS, 'stat'] as const;
    live('counter', 'netchannel_channel_transport_events_total', "Transport counters of a channel (Channel.transportStats keys ending in _total, e.g. udp's retransmits)", statLabels, transport(true));
    live('gauge', 'netchannel_channel_transport_value', "Transport gauges of a channel (other Channel.transportStats keys, e.g. udp's srtt_ms, rto_ms)", statLabels, transport(false));
    live('counter', 'netchannel_scheduler_decisions_total', 'Segments the channel-selection policy placed on a channel', ['policy', 'peer', 'channel'], (emit) =>
      this.eachChannel((l, dc) => emit({ policy: policies[dc.appClass], peer: l.peer, channel: l.channel }, dc.decisions)),
    );

    // ---- per class: live sockets at scrape time, plus closed sockets -----------------
    live('gauge', 'netchannel_sockets_open', 'Virtual sockets not yet destroyed (connecting, open or half-closed)', ['class'], (emit) => {
      const sums = this.socketSums();
      for (const cls of APP_CLASSES) emit({ class: cls }, sums[cls].open);
    });
    live('counter', 'netchannel_socket_bytes_total', 'Payload bytes read from / written to virtual sockets (live sockets plus closed ones)', ['class', 'direction'], (emit) => {
      const sums = this.socketSums();
      for (const cls of APP_CLASSES) {
        emit({ class: cls, direction: 'read' }, this.monotonic(`${cls}|read`, sums[cls].read + this.closed[cls].read));
        emit({ class: cls, direction: 'written' }, this.monotonic(`${cls}|written`, sums[cls].written + this.closed[cls].written));
      }
    });
    live('counter', 'netchannel_flow_control_stalls_total', 'Times a sending socket ran out of credit (live sockets plus closed ones)', ['class'], (emit) => {
      const sums = this.socketSums();
      for (const cls of APP_CLASSES) emit({ class: cls }, this.monotonic(`${cls}|stalls`, sums[cls].stalls + this.closed[cls].stalls));
    });
    live('gauge', 'netchannel_hol_active', 'Receiving sockets currently in head-of-line state (detected, not yet resolved or closed)', [], (emit) => emit({}, this.holActive.size));

    // ---- counted from stack.events$ ---------------------------------------------------
    this.channelOpens = new Counter({ name: 'netchannel_channel_opens_total', help: 'Channels that joined a peer device', labelNames: ['class', 'transport'] as const, registers });
    this.channelCloses = new Counter({
      name: 'netchannel_channel_closes_total',
      help: 'Channels that left a peer device; reason = closed (graceful) or failed',
      labelNames: ['class', 'transport', 'reason'] as const,
      registers,
    });
    this.socketOpens = new Counter({ name: 'netchannel_socket_opens_total', help: 'Virtual sockets opened; side = connect or accept', labelNames: ['class', 'side'] as const, registers });
    this.socketCloses = new Counter({ name: 'netchannel_socket_closes_total', help: 'Opened virtual sockets that closed', labelNames: ['class'] as const, registers });
    this.socketRefusals = new Counter({
      name: 'netchannel_socket_refusals_total',
      help: 'Connects that failed before the socket opened, by error code',
      labelNames: ['class', 'code'] as const,
      registers,
    });
    this.handshake = new Histogram({
      name: 'netchannel_socket_handshake_seconds',
      help: 'Connect side: time from SYNC to SYNC_ACK',
      labelNames: ['class'] as const,
      buckets: [...HANDSHAKE_BUCKETS],
      registers,
    });
    this.holEvents = new Counter({ name: 'netchannel_hol_events_total', help: 'Head-of-line blocking detected / resolved on receiving sockets', labelNames: ['event'] as const, registers });
    this.remaps = new Counter({
      name: 'netchannel_socket_remaps_total',
      help: 'Sockets pinned to one channel (HoL) or returned to the shared class policy',
      labelNames: ['mapping'] as const,
      registers,
    });
    this.scaling = new Counter({
      name: 'netchannel_scaling_actions_total',
      help: 'Channel-count changes decided by the scaling policy',
      labelNames: ['class', 'policy', 'direction'] as const,
      registers,
    });
    this.workerScaling = new Counter({
      name: 'netchannel_worker_scaling_total',
      help: 'Decisions of the elastic worker controllers that changed something: a worker added, removed (drained) or parked, by pool kind',
      labelNames: ['kind', 'action'] as const,
      registers,
    });
    for (const kind of ['channel', 'copy']) for (const action of ['add', 'remove', 'park']) this.workerScaling.inc({ kind, action }, 0);
    this.staleEvents = new Counter({
      name: 'netchannel_channel_stale_events_total',
      help: 'Channels that went stale (no progress with data in flight; their segments reinjected), recovered, or were found late (overtaken by the others of their class; their segments reinjected)',
      labelNames: ['class', 'event'] as const,
      registers,
    });
    // Present from the start (at 0): an event must not add series to a running scrape.
    for (const cls of ['latency', 'throughput']) for (const event of ['stale', 'recovered', 'late']) this.staleEvents.inc({ class: cls, event }, 0);
    this.errors = new Counter({
      name: 'netchannel_errors_total',
      help: 'Failed channels, refused connects and sockets closed with an error, by error code',
      labelNames: ['code'] as const,
      registers,
    });

    this.limitHits = new Counter({
      name: 'netchannel_limit_hits_total',
      help: 'Limits hit by peers (handshake slots, socket counts, memory budgets), by limit name',
      labelNames: ['limit'] as const,
      registers,
    });
    for (const limit of LIMIT_NAMES) this.limitHits.inc({ limit }, 0);

    // Series that exist from the start, so dashboards show zeros instead of gaps.
    for (const cls of APP_CLASSES) {
      this.socketOpens.inc({ class: cls, side: 'connect' }, 0);
      this.socketOpens.inc({ class: cls, side: 'accept' }, 0);
      this.socketCloses.inc({ class: cls }, 0);
      this.handshake.zero({ class: cls });
      this.scaling.inc({ class: cls, policy: scalingPolicy, direction: 'up' }, 0);
      this.scaling.inc({ class: cls, policy: scalingPolicy, direction: 'down' }, 0);
    }
    this.holEvents.inc({ event: 'detected' }, 0);
    this.holEvents.inc({ event: 'resolved' }, 0);
    this.remaps.inc({ mapping: 'pinned' }, 0);
    this.remaps.inc({ mapping: 'shared' }, 0);

    this.subscription = source.events$.subscribe({
      next: (e) => this.onEvent(e),
      complete: () => this.holActive.clear(),
    });
  }

  /** Unsubscribes from the stack's events and removes every metric from the registry. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.subscription.unsubscribe();
    for (const name of METRIC_NAMES) this.registry.removeSingleMetric(name);
    this.holActive.clear();
  }

  private eachChannel(fn: (labels: ChannelLabels, dc: DeviceChannelLike) => void): void {
    for (const session of this.source.peers) {
      const peer = session.remoteHostId;
      for (const dc of session.device.channels) {
        fn({ peer, channel: String(dc.id), class: dc.appClass, transport: dc.channel.scheme }, dc);
      }
    }
  }

  private socketSums(): Record<AppClass, ClassSums> {
    const sums: Record<AppClass, ClassSums> = {
      latency: { open: 0, read: 0, written: 0, stalls: 0 },
      throughput: { open: 0, read: 0, written: 0, stalls: 0 },
    };
    for (const session of this.source.peers) {
      for (const s of session.sockets.values()) if (!s.destroyed) add(sums, s);
    }
    return sums;
  }

  /**
   * Never lets a class-level `_total` go down. A socket leaves the connection table a
   * moment before its `socket-closed` event adds its final counts to the closed
   * totals, and `bytesWritten` drops the unsent tail of a destroyed socket; in both
   * cases the previous value is kept until the sum catches up.
   */
  private monotonic(key: string, value: number): number {
    const last = this.reported.get(key) ?? 0;
    const v = Math.max(last, value);
    this.reported.set(key, v);
    return v;
  }

  private onEvent(e: StackEvent): void {
    switch (e.type) {
      case 'channel-added':
        this.channelOpens.inc({ class: e.appClass, transport: e.transport });
        break;
      case 'channel-removed':
        this.channelCloses.inc({ class: e.appClass, transport: e.transport, reason: e.reason });
        if (e.code !== undefined) this.error(e.code);
        break;
      case 'socket-opened':
        this.socketOpens.inc({ class: e.appClass, side: e.side });
        if (e.handshakeMs !== undefined) this.handshake.observe({ class: e.appClass }, e.handshakeMs / 1000);
        break;
      case 'socket-closed': {
        this.socketCloses.inc({ class: e.appClass });
        const t = this.closed[e.appClass];
        t.read += e.bytesRead;
        t.written += e.bytesWritten;
        t.stalls += e.creditStalls;
        this.holActive.delete(holKey(e.peer, e.localPort, e.remotePort));
        if (e.code !== undefined) this.error(e.code);
        break;
      }
      case 'socket-refused':
        this.socketRefusals.inc({ class: e.appClass, code: this.codeLabel(e.code) });
        this.error(e.code);
        break;
      case 'socket-remapped':
        this.remaps.inc({ mapping: e.mapping });
        break;
      case 'hol-detected':
        this.holEvents.inc({ event: 'detected' });
        this.holActive.add(holKey(e.peer, e.localPort, e.remotePort));
        break;
      case 'hol-resolved':
        this.holEvents.inc({ event: 'resolved' });
        this.holActive.delete(holKey(e.peer, e.localPort, e.remotePort));
        break;
      case 'scaling':
        this.scaling.inc({ class: e.appClass, policy: e.policy, direction: e.direction });
        break;
      case 'worker-scaling':
        this.workerScaling.inc({ kind: e.kind, action: e.action });
        break;
      case 'channel-rejected':
        this.error(e.code);
        break;
      case 'channel-stale':
      case 'channel-recovered':
      case 'channel-late':
        this.staleEvents.inc({ class: e.appClass, event: e.type.slice('channel-'.length) });
        break;
      case 'limit-hit':
        this.limitHits.inc({ limit: e.limit });
        break;
    }
  }

  private error(code: string): void {
    this.errors.inc({ code: this.codeLabel(code) });
  }

  /** Bounds the `code` label: the first {@link MAX_ERROR_CODES} distinct codes, then `OTHER`. */
  private codeLabel(code: string): string {
    if (this.errorCodes.has(code)) return code;
    if (this.errorCodes.size >= MAX_ERROR_CODES) return 'OTHER';
    this.errorCodes.add(code);
    return code;
  }
}

/**
 * A metric whose series are rebuilt from live objects on every collect: `reset()` then
 * one set/inc per live object. A series whose object is gone (a removed channel) is
 * therefore absent from the next scrape (the effect of `metric.remove(labels)`, with no
 * bookkeeping and no chance of leaking series); the values themselves are the objects'
 * own monotonic counters, so a counter series never decreases while it exists.
 */
function liveMetric<L extends string>(
  kind: 'gauge' | 'counter',
  config: { name: string; help: string; labelNames: readonly L[]; registers: Registry[] },
  fill: Fill<L>,
): void {
  if (kind === 'gauge') {
    new Gauge<L>({
      ...config,
      collect() {
        this.reset();
        fill((labels, value) => this.set(labels, value));
      },
    });
  } else {
    new Counter<L>({
      ...config,
      collect() {
        this.reset();
        fill((labels, value) => this.inc(labels, value));
      },
    });
  }
}

function add(sums: Record<AppClass, ClassSums>, s: SocketLike): void {
  const c = sums[s.appClass];
  c.open++;
  c.read += s.bytesRead;
  c.written += s.bytesWritten;
  c.stalls += s.creditStalls;
}

function holKey(peer: string, localPort: number, remotePort: number): string {
  return `${peer}|${localPort}|${remotePort}`;
}
