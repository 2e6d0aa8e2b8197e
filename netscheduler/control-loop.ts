/**
 * The stack's coarse-grained control loop (rxjs timer, default every 100 ms). Each
 * tick runs one small step per concern for every peer — keepalive, rate sampling,
 * channel feedback (acknowledgements, RTT probes, delivery rates, staleness),
 * head-of-line checks, channel scaling — and then one elastic-worker step.
 * @packageDocumentation
 */
import { interval, type Subscription } from 'rxjs';
import { APP_CLASSES, type AppClass } from '../netdriver/channel.js';
import type { DeviceChannel, NetDevice } from '../netdriver/net-device.js';
import type { EventSink } from '../events/index.js';
import type { ScalingFactory, ScalingPolicy } from './scaling.js';

/** Bounds of the channel count of one class. */
export interface ChannelBounds {
  /** Fewest channels. */
  min: number;
  /** Most channels. */
  max: number;
}

/** A peer the control loop looks after. */
export interface ControlledPeer {
  readonly device: NetDevice;
  /** Segments that waited for room per class since the last tick (reset by the loop). */
  readonly blockedWaits: Record<AppClass, number>;
  /** True when this stack dialed the peer and may add or remove channels. */
  readonly scalable: boolean;
  /** Per-socket checks (head-of-line). */
  tick(): void;
}

/** What the control loop needs from its stack. */
export interface ControlLoopHost<P extends ControlledPeer = ControlledPeer> {
  /** Peers to look after now. */
  peers(): Iterable<P>;
  /** Dials one more channel of `appClass` to the peer. */
  addChannel(peer: P, appClass: AppClass): Promise<void>;
  /** Drains and closes one channel. */
  removeChannel(peer: P, channel: DeviceChannel): Promise<void>;
  readonly emit: EventSink;
  /** Keepalive timing for every channel, and the staleness threshold (ms). */
  readonly keepalive: { intervalMs: number; timeoutMs: number; staleAfterMs: number };
  /** Elastic worker counts (multi-core data path): one step per tick. Optional. */
  tickWorkers?(): void;
}

/** Options of {@link ControlLoop}. */
export interface ControlLoopOptions {
  /** Tick length, ms. @default 100 */
  intervalMs: number;
  /** Scaling policy, or null for a fixed channel count. */
  scaling: ScalingFactory | null;
  /** Count bounds per class (only classes listed here are scaled). */
  bounds: Partial<Record<AppClass, ChannelBounds>>;
}

/** The control loop of one stack. */
export class ControlLoop<P extends ControlledPeer = ControlledPeer> {
  private sub: Subscription | null = null;
  private readonly policies = new WeakMap<P, Partial<Record<AppClass, ScalingPolicy>>>();
  private readonly busy = new WeakSet<P>();
  /** Ticks run so far. */
  ticks = 0;

  constructor(
    private readonly host: ControlLoopHost<P>,
    private readonly options: ControlLoopOptions,
  ) {}

  /** Starts ticking (idempotent). */
  start(): void {
    this.sub ??= interval(this.options.intervalMs).subscribe(() => this.tick());
  }

  /** Stops ticking (idempotent). */
  stop(): void {
    this.sub?.unsubscribe();
    this.sub = null;
  }

  /** True while the loop runs. */
  get running(): boolean {
    return this.sub !== null;
  }

  /** One control tick; public so tests can drive it without timers. */
  tick(): void {
    this.ticks++;
    const now = performance.now();
    for (const peer of this.host.peers()) {
      this.keepalive(peer, now);
      this.sampleRates(peer);
      peer.device.feedbackTick(now, this.host.keepalive.staleAfterMs); // acks, RTT probes, rates, staleness
      peer.tick(); // per-socket head-of-line checks
      if (this.options.scaling && peer.scalable && !this.busy.has(peer)) this.scale(peer);
      peer.blockedWaits.latency = 0;
      peer.blockedWaits.throughput = 0;
    }
    this.host.tickWorkers?.();
  }

  /** Keepalive step: PING silent channels, destroy dead ones. */
  private keepalive(peer: P, now: number): void {
    peer.device.keepalive(now, this.host.keepalive.intervalMs, this.host.keepalive.timeoutMs);
  }

  /** Rate-sampling step: each channel's send rate and busy ratio over the tick. */
  private sampleRates(peer: P): void {
    const seconds = this.options.intervalMs / 1000;
    for (const dc of peer.device.channels) {
      const sent = dc.channel.bytesSent;
      dc.throughput = (sent - dc.lastBytesSent) / seconds;
      dc.busyRatio = 0.8 * dc.busyRatio + 0.2 * (dc.txQueuedBytes > 0 || sent > dc.lastBytesSent ? 1 : 0);
      dc.lastBytesSent = sent;
    }
  }

  /** Scaling step: asks the scaling policy for each bounded class's channel count. */
  private scale(peer: P): void {
    let policies = this.policies.get(peer);
    if (!policies) this.policies.set(peer, (policies = {}));
    for (const appClass of APP_CLASSES) {
      const bounds = this.options.bounds[appClass];
      if (!bounds) continue;
      const policy = (policies[appClass] ??= this.options.scaling!({ appClass }));
      const channels = peer.device.channelsOf(appClass);
      const sample = {
        appClass,
        channels: channels.map((c) => ({ id: c.id, index: c.index, txQueuedBytes: c.txQueuedBytes, txHighWaterMark: c.txHighWaterMark, throughput: c.throughput })),
        blockedWaits: peer.blockedWaits[appClass],
        intervalMs: this.options.intervalMs,
        min: bounds.min,
        max: bounds.max,
      };
      const from = channels.length;
      const to = Math.max(bounds.min, Math.min(bounds.max, Math.round(policy.decide(sample))));
      if (to === from) continue;
      const occupancy = channels.reduce((a, c) => a + c.txQueuedBytes / c.txHighWaterMark, 0) / Math.max(1, from);
      const throughput = channels.reduce((a, c) => a + c.throughput, 0);
      this.host.emit({
        type: 'scaling',
        at: Date.now(),
        peer: peer.device.peerHostId,
        appClass,
        policy: policy.name,
        from,
        to,
        direction: to > from ? 'up' : 'down',
        inputs: { blockedWaits: sample.blockedWaits, meanOccupancy: occupancy, throughput },
      });
      const step =
        to > from
          ? this.host.addChannel(peer, appClass)
          : this.host.removeChannel(peer, channels.reduce((a, c) => (c.index > a.index ? c : a)));
      this.busy.add(peer);
      step.catch(() => {}).finally(() => this.busy.delete(peer));
      return; // one change per peer per tick
    }
  }
}
