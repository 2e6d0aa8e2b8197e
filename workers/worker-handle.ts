/**
 * The main thread's record of one channel worker: its thread, the channels, dials and
 * listeners it hosts, and the per-tick batch of operations sent to it.
 * @packageDocumentation
 */
import type { EventLoopUtilization } from 'node:perf_hooks';
import type { Worker } from 'node:worker_threads';
import type { AppClass, Channel } from '../netdriver/channel.js';
import type { ChannelOptions } from '../netdriver/driver.js';
import type { MainOp, RingPair } from './protocol.js';
import { TurnBatcher } from './turn-batch.js';
import type { WorkerChannel, WorkerLink } from './worker-channel.js';

/** A dial in progress on a worker. */
export interface PendingDial {
  address: string;
  opts: ChannelOptions;
  appClass: AppClass | undefined;
  rings: RingPair | undefined;
  resolve(ch: WorkerChannel): void;
  reject(err: Error): void;
}

/** A listener hosted on a worker (moved to the replacement when that worker dies). */
export interface HostedListener {
  handle: ChannelWorkerHandle;
  l: number;
  requested: string;
  bound: string | undefined;
  opts: ChannelOptions;
  onChannel: (ch: Channel) => void;
  closed: boolean;
  /** Initial listen (rejected on failure) or a re-listen (reported as 'listener-lost'). */
  ready: { resolve(address: string): void; reject(err: Error): void } | null;
  closing: Promise<void> | null;
  closed$: (() => void) | null;
}

/** One worker thread and what lives on it. */
export class ChannelWorkerHandle implements WorkerLink {
  readonly channels = new Map<number, WorkerChannel>();
  readonly classOf = new Map<number, AppClass>();
  readonly dials = new Map<number, PendingDial>();
  readonly listeners = new Map<number, HostedListener>();
  state: 'running' | 'draining' | 'dead' = 'running';
  /** Set when the pool stops this worker on purpose (no replacement). */
  retiring = false;
  crashError: Error | undefined;
  readonly startedAt = performance.now();
  readonly threadId: number;
  lastElu: EventLoopUtilization | undefined;
  nextCid = 1;
  nextL = 1;
  // Like StreamChannel's cork: everything of this tick leaves in one message.
  private readonly out = new TurnBatcher<MainOp, WorkerChannel>(
    (fn) => process.nextTick(fn),
    (msg, transfer) => this.worker.postMessage(msg, transfer),
    () => this.state !== 'dead',
  );

  /** `onChange` is called whenever this worker's channels changed (the pool's `changed`). */
  constructor(
    readonly slot: number,
    readonly worker: Worker,
    private readonly onChange: (h: ChannelWorkerHandle) => void,
  ) {
    this.threadId = worker.threadId;
  }

  get label(): string {
    return `channel worker #${this.slot} (thread ${this.threadId})`;
  }

  /** Channels plus dials in progress: the placement load. */
  get load(): number {
    return this.channels.size + this.dials.size;
  }

  /** True while the worker has channels, dials or listeners (keeps it referenced). */
  get busy(): boolean {
    return this.load > 0 || this.listeners.size > 0;
  }

  count(appClass: AppClass): number {
    let n = 0;
    for (const c of this.classOf.values()) if (c === appClass) n++;
    return n;
  }

  post(op: MainOp, transfer?: ArrayBuffer): void {
    if (this.state === 'dead') return;
    this.out.push(op, transfer);
  }

  markDirty(ch: WorkerChannel): void {
    this.out.markDirty(ch);
  }

  detach(ch: WorkerChannel): void {
    if (this.channels.get(ch.cid) === ch) {
      this.channels.delete(ch.cid);
      this.classOf.delete(ch.cid);
      this.onChange(this);
    }
  }
}

/**
 * Picks the worker for a dial among the running ones (`live`, by slot): `slot` when that
 * worker is live, else by class (`isolateLatency` with ≥ 2 workers: latency on the
 * lowest slot, throughput on the others), else the least-loaded.
 */
export function pickWorker(live: readonly ChannelWorkerHandle[], slot: number | undefined, appClass: AppClass | undefined, poolSize: number, isolateLatency: boolean): ChannelWorkerHandle {
  if (typeof slot === 'number' && Number.isInteger(slot)) {
    const want = live.find((h) => h.slot === slot % Math.max(1, poolSize));
    if (want) return want;
  }
  let candidates = live;
  if ((appClass === 'latency' || appClass === 'throughput') && isolateLatency && live.length >= 2) {
    candidates = appClass === 'latency' ? live.slice(0, 1) : live.slice(1);
  }
  return candidates.reduce((a, b) => (b.load < a.load ? b : a));
}

/** Picks the worker for a new listener: the one with the fewest listeners, then the least-loaded. */
export function pickListenerWorker(live: readonly ChannelWorkerHandle[]): ChannelWorkerHandle {
  return live.reduce((a, b) => (b.listeners.size < a.listeners.size || (b.listeners.size === a.listeners.size && b.load < a.load) ? b : a));
}
