/**
 * Copy workers: a piscina pool that takes the per-byte work of large throughput-class
 * writes off the main thread — copying parts into (or out of) SharedArrayBuffers and
 * an optional SHA-256 per part. Placement of each part (inline or which worker) is
 * decided by a {@link CopyPlacementPolicy}, by default `thresholdPlacement()`: the first
 * ~62 KB of a write and all latency-class data are copied inline, later parts go to
 * the least-loaded worker under its 640 KB queue threshold, busy workers are skipped.
 *
 * A worker can only read memory it shares with the main thread: a part whose source
 * is not backed by a SharedArrayBuffer is always copied inline (sending it would cost
 * the very copy we want to avoid). See docs/multicore.md for where this plugs in.
 * @packageDocumentation
 */
import { createHash } from 'node:crypto';
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import { Piscina } from 'piscina';
import { InvalidArgumentError, NetChannelError, ErrorCode } from '../errors/index.js';
import { boolOption, intOption } from '../errors/validate.js';
import type { AppClass } from '../netdriver/channel.js';
import { isPlacementFactory, thresholdPlacement, type CopyPlacementPolicy, type CopyWorkerView, type PlacementFactory } from '../netscheduler/placement.js';
import type { ChecksumTask, CopyTask, CopyTaskPart, CopyTaskResult } from './copy-task.js';
import { workerScript } from './worker-script.js';

/** One part of a copy: `source` goes to `target[offset, offset + length)`. */
export interface CopyPart {
  /** The bytes to copy (ideally a view of a SharedArrayBuffer; see the module comment). */
  source: Uint8Array;
  /** Destination shared memory. */
  target: SharedArrayBuffer;
  /** Byte offset in `target`. */
  offset: number;
  /** Bytes to copy. @default source.length */
  length?: number;
}

/** Per-call options of {@link CopyPool.copy}. */
export interface CopyCallOptions {
  /** Class of the socket the data belongs to (latency data is always copied inline). @default 'throughput' */
  appClass?: AppClass;
  /** Bytes of the same write before the first part (placement offloads only after ~62 KB). @default 0 */
  offsetInWrite?: number;
  /** Compute the SHA-256 of every part. @default the pool's `checksum` option */
  checksum?: boolean;
}

/** What a copy did. */
export interface CopyResult {
  /** Bytes copied on the calling thread. */
  inlineBytes: number;
  /** Bytes copied on copy workers. */
  offloadedBytes: number;
  /** Placement of each part: a worker's thread id, or `'inline'`. */
  placement: Array<number | 'inline'>;
  /** SHA-256 of each part, when checksums were asked for. */
  digests?: Buffer[];
}

/** Options of {@link CopyPool}. */
export interface CopyPoolOptions {
  /** Fewest copy workers kept running. @default 0 */
  min?: number;
  /** Most copy workers. @default 2 */
  max?: number;
  /** SHA-256 of every copied part by default. @default false */
  checksum?: boolean;
  /** Copy placement policy. @default thresholdPlacement() */
  placement?: PlacementFactory;
  /**
   * A worker thread idle this long beyond `min` is stopped (restarted on demand), ms.
   * Parking (taking an idle worker out of placement after ~10 ms) is the elastic
   * controller's job; an idle thread costs no CPU.
   * @default 30000
   */
  idleTimeout?: number;
  /** Parts smaller than this are never sent to a worker, bytes. @default 16384 */
  minPartBytes?: number;
  /** The compiled task file. @default dist/workers/copy-task.js */
  filename?: string | URL;
}

/** A copy worker's load. */
export interface CopyWorkerStats {
  threadId: number;
  /** Bytes of copy work submitted and not finished. */
  queuedBytes: number;
  /** Tasks finished. */
  tasks: number;
  /** Busy time reported by its tasks, µs. */
  busyUs: number;
}

/** Statistics of a {@link CopyPool}. */
export interface CopyPoolStats {
  workers: CopyWorkerStats[];
  /** Copy bytes in flight on all workers. */
  inflightBytes: number;
  inlineBytes: number;
  offloadedBytes: number;
  /** Task latency (submit → result), µs: count and percentiles. */
  latencyUs: { count: number; p50: number; p90: number; p99: number; max: number; mean: number };
}

const QUEUE_OPTIONS = Piscina.queueOptionsSymbol;

interface Placed {
  [QUEUE_OPTIONS]?: { threadId: number };
}

function isShared(v: Uint8Array): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && v.buffer instanceof SharedArrayBuffer;
}

/** See the module comment. */
export class CopyPool {
  private readonly pool: Piscina;
  private readonly policy: CopyPlacementPolicy;
  private readonly defaultChecksum: boolean;
  private readonly minPart: number;
  private readonly load = new Map<number, CopyWorkerStats>();
  private readonly histogram: RecordableHistogram = createHistogram();
  private inflight = 0;
  private inlineBytes = 0;
  private offloadedBytes = 0;
  private active: number;
  private closed = false;
  /** Busy µs per thread since the last {@link utilization} call. */
  private busySince = new Map<number, number>();
  private lastSample = performance.now();

  constructor(options: CopyPoolOptions = {}) {
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError(`options must be an object, got ${JSON.stringify(options)}`);
    const min = intOption('min', options.min, 0, 0, 64);
    const max = intOption('max', options.max, 2, 1, 64);
    if (min > max) throw new InvalidArgumentError(`options.min (${min}) must be <= options.max (${max})`);
    if (options.placement !== undefined && !isPlacementFactory(options.placement)) {
      throw new InvalidArgumentError('options.placement must be a placement factory made with definePlacement() (e.g. thresholdPlacement())');
    }
    const idleTimeout = intOption('idleTimeout', options.idleTimeout, 30_000, 0, 3_600_000);
    this.minPart = intOption('minPartBytes', options.minPartBytes, 16 * 1024, 0, 1 << 30);
    this.defaultChecksum = boolOption('checksum', options.checksum, false);
    this.policy = (options.placement ?? thresholdPlacement())({ appClass: 'throughput' });
    this.active = max;
    const filename = options.filename === undefined ? workerScript('copy-task').href : String(options.filename);
    this.pool = new Piscina({
      filename,
      minThreads: min,
      maxThreads: max,
      idleTimeout,
      // Many small tasks per worker: our placement decides the worker, not piscina's queue.
      concurrentTasksPerWorker: 64,
      // Parked workers must not spin: wait on the event loop between tasks.
      atomics: 'disabled',
      loadBalancer: (task, workers) => {
        const want = (task as unknown as Placed)[QUEUE_OPTIONS]?.threadId;
        let best = null;
        for (const w of workers) {
          if (w.terminating || w.destroyed) continue;
          if (w.id === want) return w;
          if (best === null || w.currentUsage < best.currentUsage) best = w;
        }
        return best;
      },
    });
  }

  /** Workers the placement may use (elastic control); the others go idle and park. */
  get activeWorkers(): number {
    return this.active;
  }

  /** Sets how many workers the placement may use (1..max); returns the value set. */
  setActiveWorkers(n: number): number {
    this.active = Math.max(1, Math.min(this.pool.maxThreads, Math.round(n)));
    return this.active;
  }

  /**
   * Copies every part into its target; parts are placed one by one (inline or on a
   * worker) and the promise settles once all are done. With checksums, `digests[i]` is
   * the SHA-256 of part `i` as copied.
   */
  async copy(parts: readonly CopyPart[], options: CopyCallOptions = {}): Promise<CopyResult> {
    if (this.closed) throw new NetChannelError(ErrorCode.CLOSED, 'copy pool is closed');
    if (!Array.isArray(parts)) throw new InvalidArgumentError(`parts must be an array, got ${typeof parts}`);
    const checksum = options.checksum ?? this.defaultChecksum;
    const appClass = options.appClass ?? 'throughput';
    const digests: Buffer[] = [];
    const placement: Array<number | 'inline'> = [];
    const perWorker = new Map<number, { parts: CopyTaskPart[]; index: number[]; bytes: number }>();
    let offsetInWrite = options.offsetInWrite ?? 0;
    let inlineBytes = 0;
    let offloaded = 0;
    const views = this.views();
    parts.forEach((p, i) => {
      const length = p.length ?? p.source.length;
      if (!(p.target instanceof SharedArrayBuffer)) throw new InvalidArgumentError(`parts[${i}].target must be a SharedArrayBuffer`);
      if (!Number.isInteger(p.offset) || p.offset < 0 || !Number.isInteger(length) || length < 0 || length > p.source.length || p.offset + length > p.target.byteLength) {
        throw new InvalidArgumentError(`parts[${i}] (offset ${p.offset}, length ${length}) does not fit its source of ${p.source.length} bytes and target of ${p.target.byteLength} bytes`);
      }
      const src = p.source.subarray(0, length);
      const dst = new Uint8Array(p.target, p.offset, length);
      let where: CopyWorkerView | 'inline' = 'inline';
      if (isShared(src) && length >= this.minPart) {
        where = this.policy.place({ bytes: length, offsetInWrite, appClass, inflightBytes: this.inflight + offloaded }, views);
      }
      offsetInWrite += length;
      if (where === 'inline') {
        dst.set(src);
        if (checksum) digests[i] = createHash('sha256').update(dst).digest();
        inlineBytes += length;
        placement.push('inline');
        return;
      }
      placement.push(where.id);
      offloaded += length;
      // Keep the view's queue figure current for the next part of this call.
      (where as { queuedBytes: number }).queuedBytes += length;
      let batch = perWorker.get(where.id);
      if (!batch) perWorker.set(where.id, (batch = { parts: [], index: [], bytes: 0 }));
      batch.parts.push({ src, dst });
      batch.index.push(i);
      batch.bytes += length;
    });
    this.inlineBytes += inlineBytes;
    await Promise.all(
      [...perWorker].map(async ([threadId, batch]) => {
        const task: CopyTask & Placed = { op: 'copy', parts: batch.parts, checksum, ...(threadId > 0 && { [QUEUE_OPTIONS]: { threadId } }) };
        const res = await this.submit(threadId, batch.bytes, task);
        if (res.digests) res.digests.forEach((d, k) => (digests[batch.index[k]!] = Buffer.from(d)));
      }),
    );
    return { inlineBytes, offloadedBytes: offloaded, placement, ...(checksum && { digests }) };
  }

  /** SHA-256 of `buf`, computed on a copy worker (a non-shared buffer is copied to it). */
  async checksum(buf: Uint8Array): Promise<Buffer> {
    if (this.closed) throw new NetChannelError(ErrorCode.CLOSED, 'copy pool is closed');
    if (!(buf instanceof Uint8Array)) throw new InvalidArgumentError('checksum(buf): buf must be a Buffer or Uint8Array');
    const views = this.views();
    const target = views.reduce<CopyWorkerView | undefined>((a, b) => (a === undefined || b.queuedBytes < a.queuedBytes ? b : a), undefined);
    const threadId = target?.id ?? -1;
    const task: ChecksumTask & Placed = { op: 'checksum', data: buf, ...(target && { [QUEUE_OPTIONS]: { threadId } }) };
    const res = await this.submit(threadId, buf.length, task);
    return Buffer.from(res.digests![0]!);
  }

  /** Current load, counters and the task-latency distribution. */
  stats(): CopyPoolStats {
    const h = this.histogram;
    const us = (ns: number): number => Math.round(ns / 100) / 10;
    return {
      workers: this.pool.threads.map((w) => ({ ...(this.load.get(w.threadId) ?? { threadId: w.threadId, queuedBytes: 0, tasks: 0, busyUs: 0 }) })),
      inflightBytes: this.inflight,
      inlineBytes: this.inlineBytes,
      offloadedBytes: this.offloadedBytes,
      latencyUs: {
        count: h.count,
        p50: h.count ? us(h.percentile(50)) : 0,
        p90: h.count ? us(h.percentile(90)) : 0,
        p99: h.count ? us(h.percentile(99)) : 0,
        max: h.count ? us(h.max) : 0,
        mean: h.count ? us(h.mean) : 0,
      },
    };
  }

  /**
   * Busy fraction of each running copy worker since the previous call (from the busy
   * time its tasks report), for the elastic controller.
   */
  utilization(): Array<{ threadId: number; utilization: number; busy: boolean }> {
    const now = performance.now();
    const ms = Math.max(1e-3, now - this.lastSample);
    this.lastSample = now;
    const out = this.pool.threads.map((w) => {
      const busyUs = this.busySince.get(w.threadId) ?? 0;
      return { threadId: w.threadId, utilization: Math.min(1, busyUs / 1000 / ms), busy: (this.load.get(w.threadId)?.queuedBytes ?? 0) > 0 };
    });
    this.busySince = new Map();
    return out;
  }

  /** Stops the workers (pending tasks fail). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.destroy();
  }

  /**
   * The workers placement may choose: running threads (lowest ids first) up to the
   * active count, padded with not-yet-started ones (negative ids; piscina starts a
   * thread when a task is sent to one).
   */
  private views(): CopyWorkerView[] {
    const threads = this.pool.threads.map((w) => w.threadId).sort((a, b) => a - b).slice(0, this.active);
    const out = threads.map((id) => ({ id, queuedBytes: this.load.get(id)?.queuedBytes ?? 0 }));
    for (let k = 1; out.length < this.active; k++) out.push({ id: -k, queuedBytes: this.load.get(-k)?.queuedBytes ?? 0 });
    return out;
  }

  private async submit(threadId: number, bytes: number, task: (CopyTask | ChecksumTask) & Placed): Promise<CopyTaskResult> {
    const entry = this.entry(threadId);
    entry.queuedBytes += bytes;
    this.inflight += bytes;
    const t0 = performance.now();
    try {
      const res = (await this.pool.run(task)) as CopyTaskResult;
      this.histogram.record(Math.max(1, Math.round((performance.now() - t0) * 1e6)));
      const ran = this.entry(res.threadId);
      ran.tasks++;
      ran.busyUs += res.busyUs;
      this.busySince.set(res.threadId, (this.busySince.get(res.threadId) ?? 0) + res.busyUs);
      if (task.op === 'copy') this.offloadedBytes += bytes;
      return res;
    } finally {
      entry.queuedBytes -= bytes;
      this.inflight -= bytes;
    }
  }

  private entry(threadId: number): CopyWorkerStats {
    let e = this.load.get(threadId);
    if (!e) this.load.set(threadId, (e = { threadId, queuedBytes: 0, tasks: 0, busyUs: 0 }));
    return e;
  }
}
