/**
 * The pool of channel workers behind one {@link inWorkers} driver: spawns
 * `worker_threads` lazily, places channels on them, routes operations, keeps a
 * worker referenced only while it has work, and replaces a worker that dies. A dead
 * worker's channels close with `NETCHANNEL_ERR_CLOSED` naming the worker; its
 * listeners are re-opened on the replacement at the same address.
 * @packageDocumentation
 */
import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import { ChannelError, ErrorCode } from '../errors/index.js';
import type { AppClass, Channel } from '../netdriver/channel.js';
import { channelSettings, type ChannelListener, type ChannelOptions } from '../netdriver/driver.js';
import { wireOptions, type ChannelPoolEvents, type ChannelPoolOptions, type ChannelWorkerInfo, type WorkerDialOptions } from './pool-options.js';
import type { Batch, RingPair, WorkerBoot, WorkerOp } from './protocol.js';
import { allocateRingPair } from './ring.js';
import { SharedChannel, TransferChannel, type WorkerChannel } from './worker-channel.js';
import { ChannelWorkerHandle, pickListenerWorker, pickWorker, type HostedListener } from './worker-handle.js';

const FAST_CRASH_MS = 1000;

/** See the module comment. */
export class ChannelWorkerPool extends EventEmitter<ChannelPoolEvents> {
  private readonly slots: (ChannelWorkerHandle | undefined)[] = [];
  private target: number;
  private started = false;
  private closing: Promise<void> | null = null;
  private fastCrashes = 0;
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(readonly options: ChannelPoolOptions) {
    super();
    this.target = options.workers;
  }

  /** Live workers (running or draining), by slot. */
  get handles(): ChannelWorkerHandle[] {
    return this.slots.filter((h): h is ChannelWorkerHandle => h !== undefined && h.state !== 'dead');
  }

  /** Desired number of workers. */
  get size(): number {
    return this.target;
  }

  /** A snapshot of every live worker. */
  info(): ChannelWorkerInfo[] {
    return this.handles.map((h) => ({
      slot: h.slot,
      threadId: h.threadId,
      state: h.state === 'draining' ? 'draining' : 'running',
      channels: h.channels.size,
      latencyChannels: h.count('latency'),
      throughputChannels: h.count('throughput'),
      listeners: h.listeners.size,
    }));
  }

  /**
   * Busy fraction of each live worker's event loop since the previous call
   * (`worker.performance.eventLoopUtilization()`), by slot.
   */
  utilization(): Array<{ slot: number; utilization: number; busy: boolean }> {
    return this.handles.map((h) => {
      const now = h.worker.performance.eventLoopUtilization();
      const delta = h.lastElu ? h.worker.performance.eventLoopUtilization(now, h.lastElu) : now;
      h.lastElu = now;
      return { slot: h.slot, utilization: delta.utilization, busy: h.busy };
    });
  }

  /** The worker in `slot`, if alive (for tools and tests, e.g. to terminate it). */
  worker(slot: number): Worker | undefined {
    const h = this.slots[slot];
    return h && h.state !== 'dead' ? h.worker : undefined;
  }

  /**
   * Sets the number of workers (clamped to min/max). Growing starts workers at once
   * (when the pool has started); shrinking drains the highest slots that host no
   * listener: they take no new channels and stop once their channels are gone (the
   * scheduler moves a channel by opening a new one elsewhere and closing the old one).
   */
  resize(n: number): number {
    const { min, max } = this.options;
    this.target = Math.max(min, Math.min(max, Math.round(n)));
    if (!this.started || this.closing) return this.target;
    let running = this.handles.filter((h) => h.state === 'running');
    // Undrain first, then spawn.
    for (const h of this.handles) {
      if (running.length >= this.target) break;
      if (h.state === 'draining') {
        h.state = 'running';
        running.push(h);
      }
    }
    for (let slot = 0; running.length < this.target; slot++) {
      if (this.slots[slot] === undefined || this.slots[slot]!.state === 'dead') running.push(this.spawn(slot, false));
    }
    running = this.handles.filter((h) => h.state === 'running');
    for (let i = running.length - 1; i >= 0 && running.length > this.target; i--) {
      const h = running[i]!;
      if (h.listeners.size > 0) continue;
      h.state = 'draining';
      running.splice(i, 1);
      this.changed(h);
    }
    return this.target;
  }

  /** Opens a channel on a worker; see {@link WorkerDialOptions} for placement. */
  dial(address: string, opts: WorkerDialOptions): Promise<WorkerChannel> {
    const signal = opts.signal;
    if (signal?.aborted) return Promise.reject(new ChannelError(ErrorCode.DIAL_FAILED, `dial ${address} aborted`));
    this.start();
    const appClass: AppClass | undefined = opts.appClass === 'latency' || opts.appClass === 'throughput' ? opts.appClass : undefined;
    const h = this.pick(opts.workerSlot, appClass);
    const c = h.nextCid++;
    const rings = this.options.handoff === 'shared' ? allocateRingPair(this.options.ringBytes) : undefined;
    return new Promise<WorkerChannel>((resolve, reject) => {
      const onAbort = (): void => {
        if (!h.dials.delete(c)) return;
        h.post({ k: 'abort', c });
        this.changed(h);
        reject(new ChannelError(ErrorCode.DIAL_FAILED, `dial ${address} aborted`));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      h.dials.set(c, {
        address,
        opts,
        appClass,
        rings,
        resolve: (ch) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(ch);
        },
        reject: (err) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      });
      h.post(rings ? { k: 'dial', c, address, scheme: this.options.scheme, opts: wireOptions(opts, this.options), rings } : { k: 'dial', c, address, scheme: this.options.scheme, opts: wireOptions(opts, this.options) });
      this.changed(h);
    });
  }

  /** Listens on the least-loaded worker; accepted channels live on that worker. */
  async listen(address: string, onChannel: (ch: Channel) => void, opts: ChannelOptions): Promise<ChannelListener> {
    this.start();
    const h = this.pickListener();
    let rec!: HostedListener;
    const bound = await new Promise<string>((resolve, reject) => {
      rec = { handle: h, l: 0, requested: address, bound: undefined, opts, onChannel, closed: false, ready: { resolve, reject }, closing: null, closed$: null };
      this.host(h, rec, address);
    });
    return { address: bound, close: () => this.unlisten(rec) };
  }

  /** Terminates every worker; channels still open close with an error. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.idleTimer) clearTimeout(this.idleTimer);
      const all = this.handles;
      for (const h of all) h.retiring = true;
      await Promise.all(all.map((h) => h.worker.terminate().catch(() => 0)));
    })();
    return this.closing;
  }

  /** @internal Work on `h` changed: (un)reference its thread, finish a drain, arm the idle timer. */
  changed(h: ChannelWorkerHandle): void {
    if (h.state === 'dead') return;
    const busy = h.busy;
    if (busy) h.worker.ref();
    else h.worker.unref();
    if (h.state === 'draining' && !busy) {
      h.retiring = true;
      void h.worker.terminate();
    }
    this.armIdle();
  }

  // ---- internals -------------------------------------------------------------------

  private start(): void {
    if (this.closing) throw new ChannelError(ErrorCode.CLOSED, 'the channel worker pool is closed');
    if (this.idleTimer) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
    if (this.started) return;
    this.started = true;
    for (let slot = 0; slot < this.target; slot++) if (!this.slots[slot] || this.slots[slot]!.state === 'dead') this.spawn(slot, false);
  }

  private armIdle(): void {
    const ms = this.options.idleTimeout;
    if (ms <= 0 || this.closing || !this.started) return;
    if (this.handles.some((h) => h.busy)) {
      if (this.idleTimer) clearTimeout(this.idleTimer);
      this.idleTimer = null;
      return;
    }
    if (this.idleTimer) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (this.handles.some((h) => h.busy)) return;
      this.started = false;
      for (const h of this.handles) {
        h.retiring = true;
        void h.worker.terminate();
      }
    }, ms);
    this.idleTimer.unref();
  }

  private spawn(slot: number, replacement: boolean): ChannelWorkerHandle {
    const boot: WorkerBoot = { slot, handoff: this.options.handoff, noDelay: this.options.noDelay, unlinkStale: this.options.unlinkStale };
    const worker = new Worker(this.options.workerFile, { workerData: boot, name: `netchannel-channel-worker-${slot}` });
    worker.unref();
    const h = new ChannelWorkerHandle(slot, worker, (x) => this.changed(x));
    this.slots[slot] = h;
    worker.on('message', (msg: Batch<WorkerOp>) => this.onMessage(h, msg));
    worker.on('error', (err) => {
      h.crashError ??= err;
    });
    worker.on('exit', (code) => this.onExit(h, code));
    this.emit('worker-start', { slot, threadId: h.threadId, replacement });
    return h;
  }

  private onExit(h: ChannelWorkerHandle, code: number): void {
    h.state = 'dead';
    const cause = h.crashError;
    const what = h.retiring ? 'was stopped' : cause ? `crashed: ${cause.message}` : `exited with code ${code}`;
    const error = new ChannelError(ErrorCode.CLOSED, `${h.label} ${what}`, cause ? { cause } : undefined);
    for (const ch of [...h.channels.values()]) ch.workerLost(error);
    h.channels.clear();
    h.classOf.clear();
    for (const d of h.dials.values()) d.reject(new ChannelError(ErrorCode.DIAL_FAILED, `cannot dial ${d.address}: ${h.label} ${what}`, { cause: error }));
    h.dials.clear();
    const orphans = [...h.listeners.values()];
    h.listeners.clear();
    for (const rec of orphans) {
      if (rec.ready) {
        rec.ready.reject(new ChannelError(ErrorCode.DIAL_FAILED, `cannot listen on ${rec.requested}: ${h.label} ${what}`, { cause: error }));
        rec.ready = null;
      }
      rec.closed$?.();
    }
    if (this.slots[h.slot] === h && (h.retiring || this.closing)) this.slots[h.slot] = undefined;
    if (h.retiring || this.closing) {
      this.emit('worker-stop', { slot: h.slot, threadId: h.threadId });
      return;
    }
    this.emit('worker-exit', { slot: h.slot, threadId: h.threadId, code, error });
    // Replace it; a worker that dies right after starting (e.g. a broken build) is
    // retried with backoff instead of in a tight loop.
    const fast = performance.now() - h.startedAt < FAST_CRASH_MS;
    this.fastCrashes = fast ? this.fastCrashes + 1 : 0;
    const delay = this.fastCrashes === 0 ? 0 : Math.min(5000, 50 * 2 ** this.fastCrashes);
    const replace = (): void => {
      if (this.closing || !this.started || this.slots[h.slot] !== h) return;
      const nh = this.spawn(h.slot, true);
      for (const rec of orphans) {
        if (rec.closed || rec.bound === undefined) continue;
        rec.ready = {
          resolve: () => {},
          reject: (err) => this.emit('listener-lost', { address: rec.bound!, error: err }),
        };
        this.host(nh, rec, rec.bound);
      }
    };
    if (delay === 0) replace();
    else setTimeout(replace, delay).unref();
  }

  private onMessage(h: ChannelWorkerHandle, msg: Batch<WorkerOp>): void {
    for (const op of msg.ops) {
      switch (op.k) {
        case 'dialed': {
          const d = h.dials.get(op.c);
          if (!d) {
            h.post({ k: 'destroy', c: op.c }); // aborted while connecting
            break;
          }
          h.dials.delete(op.c);
          const ch = this.channel(h, op.c, op.local, op.remote, d.opts, d.rings);
          if (d.appClass) h.classOf.set(op.c, d.appClass);
          d.resolve(ch);
          break;
        }
        case 'dialfail': {
          const d = h.dials.get(op.c);
          h.dials.delete(op.c);
          d?.reject(new ChannelError(ErrorCode.DIAL_FAILED, `cannot dial ${d.address}: ${op.message}`));
          this.changed(h);
          break;
        }
        case 'listening': {
          const rec = h.listeners.get(op.l);
          if (!rec) break;
          rec.bound = op.address;
          rec.ready?.resolve(op.address);
          rec.ready = null;
          break;
        }
        case 'listenfail': {
          const rec = h.listeners.get(op.l);
          h.listeners.delete(op.l);
          if (rec) {
            const err = new ChannelError(ErrorCode.DIAL_FAILED, `cannot listen on ${rec.bound ?? rec.requested}: ${op.message}`);
            rec.ready?.reject(err);
            rec.ready = null;
          }
          this.changed(h);
          break;
        }
        case 'unlistened': {
          const rec = h.listeners.get(op.l);
          h.listeners.delete(op.l);
          rec?.closed$?.();
          this.changed(h);
          break;
        }
        case 'accept': {
          const rec = h.listeners.get(op.l);
          if (!rec || rec.closed) {
            h.post({ k: 'destroy', c: op.c });
            break;
          }
          const ch = this.channel(h, op.c, op.local, op.remote, rec.opts, op.rings);
          rec.onChannel(ch);
          break;
        }
        default:
          h.channels.get(op.c)?.deliver(op);
      }
    }
  }

  private channel(h: ChannelWorkerHandle, c: number, local: string, remote: string, o: ChannelOptions, rings: RingPair | undefined): WorkerChannel {
    const options = {
      scheme: this.options.scheme,
      localAddress: local,
      remoteAddress: remote,
      ...channelSettings(o),
      rxWindow: wireOptions(o, this.options).rxWindow,
    };
    const ch = rings ? new SharedChannel(h, c, options, rings, this.options.copier) : new TransferChannel(h, c, options);
    h.channels.set(c, ch);
    this.changed(h);
    return ch;
  }

  private host(h: ChannelWorkerHandle, rec: HostedListener, address: string): void {
    rec.handle = h;
    rec.l = h.nextL++;
    h.listeners.set(rec.l, rec);
    h.post({ k: 'listen', l: rec.l, address, scheme: this.options.scheme, opts: wireOptions(rec.opts, this.options) });
    this.changed(h);
  }

  private unlisten(rec: HostedListener): Promise<void> {
    rec.closed = true;
    rec.closing ??= new Promise<void>((resolve) => {
      const h = rec.handle;
      if (h.state === 'dead' || !h.listeners.has(rec.l)) return resolve();
      rec.closed$ = resolve;
      h.post({ k: 'unlisten', l: rec.l });
    });
    return rec.closing;
  }

  private pick(slot: number | undefined, appClass: AppClass | undefined): ChannelWorkerHandle {
    const live = this.handles.filter((h) => h.state === 'running');
    if (live.length === 0) {
      // Everything is draining or being replaced: start the lowest free slot.
      let free = 0;
      while (this.slots[free] && this.slots[free]!.state !== 'dead') free++;
      return this.spawn(free, false);
    }
    return pickWorker(live, slot, appClass, this.target, this.options.isolateLatency);
  }

  private pickListener(): ChannelWorkerHandle {
    const live = this.handles.filter((h) => h.state === 'running');
    if (live.length === 0) return this.pick(undefined, undefined);
    return pickListenerWorker(live);
  }
}
