/**
 * Elastic worker counts in the style of TAS: from each worker's busy fraction over the
 * last sample, compute the idle capacity of the active workers (in cores); add a
 * worker when it stays below 0.2 core for a few samples, remove one when it stays above
 * 1.25 cores, and park a worker right away once it has had no work for ~10 ms.
 *
 * {@link decideWorkers} is the pure decision; {@link ElasticController} samples a
 * pool, applies the decision and reports it. For channel workers parking is off (a
 * worker that hosts sockets cannot sleep them away) and removal drains a worker;
 * for copy workers parking and removal take a worker out of placement.
 * @packageDocumentation
 */
import { InvalidArgumentError } from '../errors/index.js';
import { intOption } from '../errors/validate.js';
import type { ChannelWorkerPool } from './channel-pool.js';
import type { CopyPool } from './copy-pool.js';

/** One worker in one sample. */
export interface WorkerSample {
  /** Worker id (slot or thread id). */
  id: number;
  /** Busy fraction of the worker over the sample interval, 0–1. */
  utilization: number;
  /** `performance.now()` when the worker last had work. */
  lastWorkAt: number;
}

/** Thresholds of the decision (TAS defaults). */
export interface ElasticThresholds {
  /** Add a worker when idle capacity stays below this many cores. @default 0.2 */
  addBelow?: number;
  /** Remove a worker when idle capacity stays above this many cores. @default 1.25 */
  removeAbove?: number;
  /** Consecutive samples a condition must hold. @default 3 */
  samples?: number;
  /** Park a worker with no work for this long, ms; 0 disables parking. @default 10 */
  parkAfterMs?: number;
}

/** Input of {@link decideWorkers}. */
export interface ElasticInput {
  now: number;
  /** Active (unparked) workers. */
  workers: readonly WorkerSample[];
  /** Active worker count now. */
  current: number;
  min: number;
  max: number;
}

/** Streak counters carried from one decision to the next. */
export interface ElasticState {
  low: number;
  high: number;
}

/** Outcome of {@link decideWorkers}. */
export interface ElasticDecision {
  /** Desired active worker count. */
  target: number;
  action: 'add' | 'remove' | 'park' | 'hold';
  /** Σ (1 − utilization) over the workers that stay active, cores. */
  idleCapacity: number;
  /** Workers to park now (highest ids first). */
  parked: number[];
  /** State for the next call. */
  state: ElasticState;
}

/** Fills defaults and validates thresholds. */
export function resolveThresholds(t: ElasticThresholds = {}): Required<ElasticThresholds> {
  const out = { addBelow: t.addBelow ?? 0.2, removeAbove: t.removeAbove ?? 1.25, samples: intOption('elastic.samples', t.samples, 3, 1, 2 ** 31 - 1), parkAfterMs: t.parkAfterMs ?? 10 };
  if (!(out.addBelow >= 0) || !(out.removeAbove > out.addBelow)) {
    throw new InvalidArgumentError(`elastic thresholds need 0 <= addBelow < removeAbove, got addBelow ${out.addBelow}, removeAbove ${out.removeAbove}`);
  }
  if (!(out.parkAfterMs >= 0)) throw new InvalidArgumentError(`elastic parkAfterMs must be >= 0, got ${JSON.stringify(t.parkAfterMs)}`);
  return out;
}

/**
 * The decision: park idle workers (keeping `min`), then count the streaks of low and
 * high idle capacity among the rest; after `samples` in a row, add or remove one.
 * Pure: same input, same output.
 */
export function decideWorkers(input: ElasticInput, state: ElasticState, thresholds: ElasticThresholds = {}): ElasticDecision {
  const t = resolveThresholds(thresholds);
  const { now, min, max } = input;
  const parked: number[] = [];
  if (t.parkAfterMs > 0) {
    const byId = [...input.workers].sort((a, b) => b.id - a.id);
    for (const w of byId) {
      if (input.current - parked.length <= min) break;
      if (now - w.lastWorkAt >= t.parkAfterMs && w.utilization === 0) parked.push(w.id);
    }
  }
  let idle = 0;
  for (const w of input.workers) if (!parked.includes(w.id)) idle += 1 - Math.max(0, Math.min(1, w.utilization));
  const low = idle < t.addBelow ? state.low + 1 : 0;
  const high = idle > t.removeAbove ? state.high + 1 : 0;
  let target = Math.max(min, Math.min(max, input.current - parked.length));
  let action: ElasticDecision['action'] = parked.length > 0 ? 'park' : 'hold';
  let next: ElasticState = { low, high };
  if (low >= t.samples && target < max) {
    target++;
    action = 'add';
    next = { low: 0, high: 0 };
  } else if (high >= t.samples && target > min && parked.length === 0) {
    target--;
    action = 'remove';
    next = { low: 0, high: 0 };
  }
  return { target, action, idleCapacity: idle, parked, state: next };
}

/** What the controller drives: a channel or copy pool behind a small adapter. */
export interface ElasticTarget {
  readonly kind: 'channel' | 'copy';
  /** Busy fraction per active worker since the previous call. */
  sample(): Array<{ id: number; utilization: number }>;
  /** Active worker count. */
  current(): number;
  /** Applies a new active count. */
  apply(target: number): void;
}

/** Adapter for a channel worker pool (no parking: remove = drain a worker). */
export function channelPoolTarget(pool: ChannelWorkerPool): ElasticTarget {
  return {
    kind: 'channel',
    sample: () => pool.utilization().map((u) => ({ id: u.slot, utilization: u.utilization })),
    current: () => pool.size,
    apply: (n) => void pool.resize(n),
  };
}

/** Adapter for a copy pool (active workers = those placement may use). */
export function copyPoolTarget(pool: CopyPool): ElasticTarget {
  return {
    kind: 'copy',
    sample: () => pool.utilization().map((u) => ({ id: u.threadId, utilization: u.utilization })),
    current: () => pool.activeWorkers,
    apply: (n) => void pool.setActiveWorkers(n),
  };
}

/** Options of {@link ElasticController}. */
export interface ElasticControllerOptions extends ElasticThresholds {
  min: number;
  max: number;
  /** Called with every decision that changes something. */
  onDecision?: (d: WorkerScalingDecision) => void;
}

/** A decision of an {@link ElasticController}, with which kind of pool it is about and its active count before. */
export type WorkerScalingDecision = ElasticDecision & { kind: 'channel' | 'copy'; from: number };

/**
 * Samples a target on every {@link tick} and applies {@link decideWorkers}. Call
 * `tick()` from an existing control loop (the stack's rxjs loop), or `start(ms)`.
 */
export class ElasticController {
  private state: ElasticState = { low: 0, high: 0 };
  private readonly lastWork = new Map<number, number>();
  private readonly thresholds: Required<ElasticThresholds>;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly target: ElasticTarget,
    private readonly options: ElasticControllerOptions,
  ) {
    this.thresholds = resolveThresholds({ ...options, parkAfterMs: target.kind === 'channel' ? 0 : (options.parkAfterMs ?? 10) });
    if (!Number.isInteger(options.min) || !Number.isInteger(options.max) || options.min < 0 || options.max < Math.max(1, options.min)) {
      throw new InvalidArgumentError(`elastic bounds must be integers with 0 <= min <= max, max >= 1, got min ${options.min}, max ${options.max}`);
    }
  }

  /** One control step: sample, decide, apply. Returns the decision, with the pool's kind and the count before. */
  tick(now = performance.now()): WorkerScalingDecision {
    const samples = this.target.sample().map((s) => {
      if (s.utilization > 0 || !this.lastWork.has(s.id)) this.lastWork.set(s.id, now);
      return { ...s, lastWorkAt: this.lastWork.get(s.id)! };
    });
    const from = this.target.current();
    if (samples.length === 0) {
      // Nothing running (a pool not started yet, or fully parked with min 0): no evidence either way.
      return { target: from, action: 'hold', idleCapacity: 0, parked: [], state: this.state, kind: this.target.kind, from };
    }
    const d = decideWorkers({ now, workers: samples, current: from, min: this.options.min, max: this.options.max }, this.state, this.thresholds);
    this.state = d.state;
    if (d.target !== from) {
      this.target.apply(d.target);
      for (const id of d.parked) this.lastWork.delete(id);
    }
    const report: WorkerScalingDecision = { ...d, kind: this.target.kind, from };
    if (d.target !== from || d.parked.length > 0) this.options.onDecision?.(report);
    return report;
  }

  /** Ticks every `intervalMs` on an unreferenced timer (idempotent). */
  start(intervalMs: number): void {
    this.timer ??= setInterval(() => this.tick(), intervalMs);
    this.timer.unref();
  }

  /** Stops ticking (idempotent). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
