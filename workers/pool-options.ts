/**
 * Option and report types of a channel-worker pool: what `inWorkers` drivers accept on
 * dial, the validated pool settings, the per-worker snapshot and the pool's events.
 * @packageDocumentation
 */
import { DEFAULT_RX_HIGH_WATER_MARK } from '../netdriver/base-channel.js';
import type { ChannelOptions } from '../netdriver/driver.js';
import type { HandoffMode, WireChannelOptions, WorkerScheme } from './protocol.js';
import type { RingCopier } from './ring-writer.js';

/**
 * Dial options of an {@link inWorkers} driver: the generic {@link ChannelOptions} (whose
 * `appClass` places the channel by class: with `isolateLatency` and ≥ 2 workers, latency
 * channels go to the lowest live slot and throughput channels to the others) plus a
 * worker slot of its own.
 */
export interface WorkerDialOptions extends ChannelOptions {
  /**
   * Run the channel on this worker slot (taken modulo the pool size) when that worker is
   * live and running; takes precedence over placement by `appClass`.
   * @default undefined (placed by `appClass`, else on the least-loaded worker)
   */
  workerSlot?: number;
}

/** Settings of a {@link ChannelWorkerPool} (validated by inWorkers). */
export interface ChannelPoolOptions {
  scheme: WorkerScheme;
  workers: number;
  min: number;
  max: number;
  handoff: HandoffMode;
  ringBytes: number;
  rxWindow: number | undefined;
  noDelay: boolean;
  unlinkStale: boolean;
  isolateLatency: boolean;
  workerFile: URL;
  /** Terminate all workers after this long with nothing to do (respawned on next use), ms; 0 = never. */
  idleTimeout: number;
  /** Shared mode: copy pool for large shared-memory payloads (see RingFrameWriter). */
  copier: RingCopier | null;
}

/** What the pool reports about one worker. */
export interface ChannelWorkerInfo {
  slot: number;
  threadId: number;
  state: 'running' | 'draining';
  channels: number;
  latencyChannels: number;
  throughputChannels: number;
  listeners: number;
}

/** Events of a {@link ChannelWorkerPool}. */
export interface ChannelPoolEvents {
  /** A worker exited unexpectedly (crash or terminate); its channels were closed with `error`. */
  'worker-exit': [info: { slot: number; threadId: number; code: number; error: Error }];
  /** A worker was started (initially, by resize, or as a replacement). */
  'worker-start': [info: { slot: number; threadId: number; replacement: boolean }];
  /** A worker was stopped on purpose (drained after a resize, idle, or the pool closed). */
  'worker-stop': [info: { slot: number; threadId: number }];
  /** A listener could not be re-opened on a replacement worker. */
  'listener-lost': [info: { address: string; error: Error }];
}

/**
 * The per-channel settings sent to a worker with a dial or listen. Transfer mode's
 * receive window defaults to half the channel's rxHighWaterMark, within 64 KiB–1 MiB.
 */
export function wireOptions(o: ChannelOptions, pool: Pick<ChannelPoolOptions, 'rxWindow' | 'ringBytes'>): WireChannelOptions {
  const rxHwm = o.rxHighWaterMark ?? DEFAULT_RX_HIGH_WATER_MARK;
  return {
    maxPayload: o.maxPayload,
    splitData: o.splitData ?? false,
    rxWindow: pool.rxWindow ?? Math.max(64 * 1024, Math.min(1024 * 1024, rxHwm >>> 1)),
    ringBytes: pool.ringBytes,
  };
}
