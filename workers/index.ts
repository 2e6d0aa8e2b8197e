/**
 * The multi-core data path: channel workers (`inWorkers`), copy workers (`CopyPool`)
 * and elastic worker counts (`ElasticController`), plus {@link WorkersOptions} and
 * {@link createWorkerRuntime}, the one call a stack needs to use them.
 * See docs/multicore.md.
 * @packageDocumentation
 */
/// <reference path="./channel-worker.ts" />
/// <reference path="./copy-task.ts" />
import { InvalidArgumentError } from '../errors/index.js';
import { boolOption, intOption } from '../errors/validate.js';
import { CopyPool } from './copy-pool.js';
import { ElasticController, channelPoolTarget, copyPoolTarget, type ElasticThresholds, type WorkerScalingDecision } from './elastic.js';
import type { HandoffMode } from './protocol.js';
import { inWorkers, DEFAULT_HANDOFF, type WorkerDriver, type WorkerDriverFactory } from './worker-driver.js';

export { workerScript } from './worker-script.js';
export { inWorkers, DEFAULT_HANDOFF, type InWorkersOptions, type WorkerDriver, type WorkerDriverFactory } from './worker-driver.js';
export { ChannelWorkerPool } from './channel-pool.js';
export type { WorkerDialOptions, ChannelWorkerInfo, ChannelPoolEvents } from './pool-options.js';
export { WorkerChannel, TransferChannel, SharedChannel } from './worker-channel.js';
export { ByteRing } from './ring.js';
export { CopyPool, type CopyPart, type CopyCallOptions, type CopyResult, type CopyPoolOptions, type CopyPoolStats, type CopyWorkerStats } from './copy-pool.js';
export {
  decideWorkers,
  resolveThresholds,
  ElasticController,
  channelPoolTarget,
  copyPoolTarget,
  type ElasticDecision,
  type WorkerScalingDecision,
  type ElasticInput,
  type ElasticState,
  type ElasticTarget,
  type ElasticThresholds,
  type ElasticControllerOptions,
  type WorkerSample,
} from './elastic.js';
export type { HandoffMode } from './protocol.js';

/** Bounds of one kind of worker. */
export interface WorkerBounds {
  /** Fewest workers. */
  min?: number;
  /** Most workers (the pool starts with this many). */
  max?: number;
}

/**
 * `createStack({ workers })`: the multi-core data path. Absent (the default), every
 * channel runs inline on the main thread and nothing is copied off it.
 */
export interface WorkersOptions {
  /**
   * Channel workers: the tcp:// and unix:// transports run their channels on a pool of
   * `worker_threads` (system calls, framing and parsing off the main thread). The pool
   * starts with `max` workers; the elastic controller drains down to `min` when their
   * idle capacity stays above 1.25 cores and grows again below 0.2.
   * @default undefined (channels inline)
   */
  channel?: WorkerBounds;
  /**
   * Copy workers (piscina) for large throughput-class copies between shared buffers
   * and for checksums. Workers beyond `min` park when idle.
   * @default undefined (copies inline)
   */
  copy?: WorkerBounds;
  /**
   * How channel workers hand frames to the main thread and back.
   * @default 'shared' (measured faster overall; see docs/multicore.md)
   */
  handoff?: HandoffMode;
  /**
   * Compute a SHA-256 per copied segment on the copy workers.
   * @default false
   */
  checksum?: boolean;
  /** TAS thresholds of the elastic controllers. @default { addBelow: 0.2, removeAbove: 1.25, samples: 3, parkAfterMs: 10 } */
  elastic?: ElasticThresholds;
}

/** {@link WorkersOptions} after validation. */
export interface ResolvedWorkersOptions {
  channel: { min: number; max: number } | null;
  copy: { min: number; max: number } | null;
  handoff: HandoffMode;
  checksum: boolean;
  elastic: ElasticThresholds;
}

function bounds(name: string, b: WorkerBounds | undefined, dMin: number, dMax: number): { min: number; max: number } | null {
  if (b === undefined) return null;
  if (b === null || typeof b !== 'object') throw new InvalidArgumentError(`options.workers.${name} must be an object { min, max }, got ${JSON.stringify(b)}`);
  const min = intOption(`workers.${name}.min`, b.min, dMin, name === 'channel' ? 1 : 0, 64);
  const max = intOption(`workers.${name}.max`, b.max, Math.max(min, dMax), 1, 64);
  if (max < min) throw new InvalidArgumentError(`options.workers.${name}.max (${max}) must be >= min (${min})`);
  return { min, max };
}

/** Validates {@link WorkersOptions}; `null` means inline only. */
export function resolveWorkersOptions(o: WorkersOptions | undefined): ResolvedWorkersOptions | null {
  if (o === undefined) return null;
  if (o === null || typeof o !== 'object') throw new InvalidArgumentError(`options.workers must be an object, got ${JSON.stringify(o)}`);
  const handoff = o.handoff ?? DEFAULT_HANDOFF;
  if (handoff !== 'transfer' && handoff !== 'shared') throw new InvalidArgumentError(`options.workers.handoff must be 'transfer' or 'shared', got ${JSON.stringify(o.handoff)}`);
    return {
    channel: bounds('channel', o.channel, 1, 2),
    copy: bounds('copy', o.copy, 0, 2),
    handoff,
    checksum: boolOption('workers.checksum', o.checksum, false),
    elastic: o.elastic ?? {},
  };
}

/** Everything a stack runs for its multi-core data path. */
export interface WorkerRuntime {
  /** Driver factories replacing `tcp()` and `unix()` (empty when channels run inline). */
  readonly transports: WorkerDriverFactory[];
  /** The copy pool, or null. */
  readonly copyPool: CopyPool | null;
  /** One control step for every elastic controller (call it from the stack's control loop): every decision, `hold` included. */
  tick(): WorkerScalingDecision[];
  /** Stops the copy pool and every channel-worker pool made by `transports`. */
  close(): Promise<void>;
}

/**
 * Builds the workers of one stack from its options: `transports` (to use instead of
 * `tcp()`/`unix()`), the copy pool and the elastic controllers (`tick()` them).
 * @throws InvalidArgumentError naming the bad `options.workers.*` field.
 */
export function createWorkerRuntime(options: WorkersOptions | undefined, onDecision?: (d: WorkerScalingDecision) => void): WorkerRuntime {
  return createWorkerRuntimeFrom(resolveWorkersOptions(options), onDecision);
}

/** {@link createWorkerRuntime} for options already resolved with {@link resolveWorkersOptions}. */
export function createWorkerRuntimeFrom(o: ResolvedWorkersOptions | null, onDecision?: (d: WorkerScalingDecision) => void): WorkerRuntime {
  if (!o) return { transports: [], copyPool: null, tick: () => [], close: async () => {} };
  const transports: WorkerDriverFactory[] = [];
  const controllers: ElasticController[] = [];
  const elastic = { ...o.elastic, ...(onDecision && { onDecision }) };
  const copyPool = o.copy ? new CopyPool({ min: o.copy.min, max: o.copy.max, checksum: o.checksum }) : null;
  if (o.channel) {
    const common = { workers: o.channel.max, min: o.channel.min, max: o.channel.max, handoff: o.handoff, copyPool };
    transports.push(inWorkers('tcp', common), inWorkers('unix', common));
  }
  if (copyPool && o.copy) controllers.push(new ElasticController(copyPoolTarget(copyPool), { ...elastic, min: Math.max(1, o.copy.min), max: o.copy.max }));
  const channelControllers = new Map<WorkerDriver, ElasticController>();
  return {
    transports,
    copyPool,
    tick() {
      const out: WorkerScalingDecision[] = [];
      if (o.channel) {
        for (const f of transports) {
          for (const d of f.drivers) {
            if (d.pool.handles.length === 0) continue; // not started (e.g. no unix:// peers)
            let c = channelControllers.get(d);
            if (!c) channelControllers.set(d, (c = new ElasticController(channelPoolTarget(d.pool), { ...elastic, min: o.channel.min, max: o.channel.max })));
            out.push(c.tick());
          }
        }
      }
      for (const c of controllers) out.push(c.tick());
      return out;
    },
    async close() {
      await Promise.all([copyPool?.close(), ...transports.flatMap((f) => [...f.drivers].map((d) => d.close()))]);
    },
  };
}
