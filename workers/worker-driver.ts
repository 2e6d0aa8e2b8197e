/**
 * `inWorkers('tcp' | 'unix', options)`: the tcp or unix transport with its channels on
 * a pool of `worker_threads`. Each worker owns its sockets and does the system calls,
 * the frame decoding and validation; the main thread sees WorkerChannel proxies. A
 * drop-in replacement for `tcp()` / `unix()` in `createStack({ transports })`.
 *
 * ```ts
 * const stack = await createStack({ transports: [inWorkers('tcp', { workers: 2 })], listen: ['tcp://0.0.0.0:7000'] });
 * ```
 * @packageDocumentation
 */
import { pathToFileURL } from 'node:url';
import { InvalidArgumentError } from '../errors/index.js';
import type { Channel } from '../netdriver/channel.js';
import { defineDriver, type ChannelDriver, type ChannelListener, type ChannelOptions, type DriverFactory } from '../netdriver/driver.js';
import { ChannelWorkerPool } from './channel-pool.js';
import type { WorkerDialOptions } from './pool-options.js';
import { tcpSpec } from '../transports/tcp/spec.js';
import { unixSpec } from '../transports/unix/spec.js';
import type { HandoffMode, WorkerScheme } from './protocol.js';
import type { CopyPool } from './copy-pool.js';
import type { WorkerChannel } from './worker-channel.js';
import { MAX_RING_BYTES, MIN_RING_BYTES } from './ring.js';
import { workerScript } from './worker-script.js';
import { boolOption as bool, intOption as count } from '../errors/validate.js';

/** Default hand-off: chosen by bench/handoff.ts (see docs/multicore.md). */
export const DEFAULT_HANDOFF: HandoffMode = 'shared';

/** Options of {@link inWorkers}. */
export interface InWorkersOptions {
  /**
   * Channel workers started on first use.
   * @default 2
   */
  workers?: number;
  /** Fewest workers the pool may shrink to (elastic). @default 1 */
  min?: number;
  /** Most workers the pool may grow to (elastic). @default max(workers, 4) */
  max?: number;
  /**
   * How frame bytes cross threads: `'shared'` (SharedArrayBuffer rings with Atomics
   * wake-ups) or `'transfer'` (one transferred ArrayBuffer per channel and tick).
   * `'shared'` measured faster overall (bench/handoff.ts, docs/multicore.md).
   * @default 'shared'
   */
  handoff?: HandoffMode;
  /** Shared mode: data bytes of each ring (two per channel), rounded up to a power of two. @default 1048576 */
  ringBytes?: number;
  /**
   * Transfer mode: received bytes a worker may have in flight to the main thread
   * before it stops reading the socket.
   * @default half the channel's rxHighWaterMark, between 64 KiB and 1 MiB
   */
  rxWindow?: number;
  /**
   * With the channel's class on dial (`ChannelOptions.appClass`, which the stack sets)
   * and ≥ 2 workers, keep latency channels on the lowest slot and throughput channels off it.
   * @default true
   */
  isolateLatency?: boolean;
  /** tcp: disable Nagle's algorithm on every channel. @default true */
  noDelay?: boolean;
  /** unix: remove a stale socket file before listening. @default true */
  unlinkStale?: boolean;
  /**
   * Stop all workers after this long without channels or listeners (they restart on
   * the next dial or listen), ms; 0 keeps them.
   * @default 5000
   */
  idleTimeout?: number;
  /**
   * Copy pool for the `'shared'` hand-off: payloads of at least 16 KiB that live in a
   * SharedArrayBuffer are copied into the ring by its copy workers, placed by its
   * placement policy. Ignored with `'transfer'`.
   * @default null (the main thread copies)
   */
  copyPool?: CopyPool | null;
  /**
   * The compiled worker entry point.
   * @default dist/workers/channel-worker.js next to this module (from the TypeScript sources: ../dist/workers/)
   */
  workerFile?: string | URL;
}

/** A driver made by {@link inWorkers}: a ChannelDriver plus its worker pool. */
export interface WorkerDriver extends ChannelDriver {
  /** The pool of channel workers (placement, resize, utilization, events). */
  readonly pool: ChannelWorkerPool;
  dial(address: string, options?: WorkerDialOptions): Promise<WorkerChannel>;
  close(): Promise<void>;
}

/** The factory returned by {@link inWorkers}; `drivers` lists the live drivers it made (one per stack). */
export interface WorkerDriverFactory extends DriverFactory {
  (components: Parameters<DriverFactory>[0]): WorkerDriver;
  readonly drivers: ReadonlySet<WorkerDriver>;
}

/**
 * The `inner` transport (`'tcp'` or `'unix'`) with channels on channel workers; see
 * the module comment and {@link InWorkersOptions}.
 * @throws InvalidArgumentError naming the bad option.
 */
export function inWorkers(inner: WorkerScheme, options: InWorkersOptions = {}): WorkerDriverFactory {
  if (inner !== 'tcp' && inner !== 'unix') throw new InvalidArgumentError(`inWorkers: transport must be 'tcp' or 'unix', got ${JSON.stringify(inner)}`);
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError(`options must be an object, got ${JSON.stringify(options)}`);
  const workers = count('workers', options.workers, 2, 1, 64);
  const min = count('min', options.min, 1, 1, 64);
  const max = count('max', options.max, Math.max(workers, 4), 1, 64);
  if (min > workers || workers > max) throw new InvalidArgumentError(`options.min (${min}) <= options.workers (${workers}) <= options.max (${max}) must hold`);
  const handoff = options.handoff ?? DEFAULT_HANDOFF;
  if (handoff !== 'transfer' && handoff !== 'shared') throw new InvalidArgumentError(`options.handoff must be 'transfer' or 'shared', got ${JSON.stringify(options.handoff)}`);
  const ringBytes = count('ringBytes', options.ringBytes, 1024 * 1024, MIN_RING_BYTES, MAX_RING_BYTES);
  const rxWindow = options.rxWindow === undefined ? undefined : count('rxWindow', options.rxWindow, 0, 1024, 1 << 30);
  const idleTimeout = count('idleTimeout', options.idleTimeout, 5000, 0, 2 ** 31 - 1);
  let workerFile: URL;
  const wf: unknown = options.workerFile;
  if (wf === undefined) workerFile = workerScript('channel-worker');
  else if (wf instanceof URL) workerFile = wf;
  else if (typeof wf === 'string' && wf.length > 0) workerFile = wf.startsWith('file:') ? new URL(wf) : pathToFileURL(wf);
  else throw new InvalidArgumentError(`options.workerFile must be a path or file URL, got ${JSON.stringify(wf)}`);
  const poolOptions = {
    scheme: inner,
    workers,
    min,
    max,
    handoff,
    ringBytes,
    rxWindow,
    noDelay: bool('noDelay', options.noDelay, true),
    unlinkStale: bool('unlinkStale', options.unlinkStale, true),
    isolateLatency: bool('isolateLatency', options.isolateLatency, true),
    workerFile,
    idleTimeout,
    copier: options.copyPool ?? null,
  };
  const validateAddress = (inner === 'tcp' ? tcpSpec() : unixSpec()).validate;
  const drivers = new Set<WorkerDriver>();
  const factory = defineDriver(inner, () => {
    const pool = new ChannelWorkerPool(poolOptions);
    const driver: WorkerDriver = {
      scheme: inner,
      pool,
      validate: (address) => validateAddress(address),
      async dial(address: string, opts: WorkerDialOptions = {}): Promise<WorkerChannel> {
        validateAddress(address);
        return pool.dial(address, opts);
      },
      async listen(address: string, onChannel: (ch: Channel) => void, opts: ChannelOptions = {}): Promise<ChannelListener> {
        validateAddress(address);
        return pool.listen(address, onChannel, opts);
      },
      async close(): Promise<void> {
        drivers.delete(driver);
        await pool.close();
      },
    };
    drivers.add(driver);
    return driver;
  });
  return Object.assign(factory as unknown as WorkerDriverFactory, { drivers });
}
