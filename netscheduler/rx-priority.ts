/**
 * Receive-side isolation: frames from latency channels are handed up at once, while
 * frames from throughput channels wait in a queue that is processed in bounded slices
 * (bytes and time), yielding to the event loop between slices. Latency data that arrives while bulk data
 * is being processed therefore overtakes it, and bulk processing can never hold the
 * event loop for long. While the queue is full or behind (a slice spent its time
 * budget), throughput channels are not read, so their transports pause instead of
 * being read ahead; latency channels are always read.
 * @packageDocumentation
 */
import { frameSize, type Frame } from '../netdriver/frame.js';

/** Where a frame came from: it knows how to hand the frame up (a device channel). */
export interface RxSource {
  /** Delivers one frame to the layer above. */
  receive(frame: Frame): void;
}

/** A reader paused while the bulk queue was full (a device). */
export interface RxWaiter {
  /** Pulls frames again. */
  resumeRx(): void;
}

/** Options of {@link RxPriorityQueue}. */
export interface RxPriorityOptions {
  /**
   * Throughput bytes processed per slice before yielding to the event loop.
   * @default 262144
   */
  sliceBytes?: number;
  /**
   * Time a slice may spend handing throughput frames up, ms, whatever their size: a
   * slow consumer (a `'data'` handler doing real work) cannot hold the event loop past
   * it. Checked after each frame, so a slice overruns it by at most one frame's work.
   * 0 = bytes only.
   * @default 0.5
   */
  sliceMs?: number;
  /**
   * A throughput batch this small is delivered at once when no bulk data is queued:
   * control frames and small messages skip the event-loop turn; bulk data never does.
   * @default 16384
   */
  immediateBytes?: number;
  /**
   * Queued throughput bytes above which {@link RxPriorityQueue.congested} is true
   * (the device then stops pulling from throughput channels: transport backpressure).
   * The queue is also congested while it is behind: its last slice ran out of time
   * (`sliceMs`) with frames left.
   * @default 1048576
   */
  maxQueuedBytes?: number;
  /** Told how long each slice took, ms (the latency trace). @default undefined (not measured) */
  onSlice?: (ms: number) => void;
}

/** A batch of frames from one channel, or a fence (a callback run in queue order). */
interface Batch<C> {
  frames: Frame[];
  from: C;
  next: number;
  fence?: () => void;
}

/** Strict-priority delivery with sliced bulk processing. */
export class RxPriorityQueue<C extends RxSource> {
  private readonly sliceBytes: number;
  private readonly sliceMs: number;
  private readonly maxQueuedBytes: number;
  private readonly immediateBytes: number;
  private readonly onSlice: ((ms: number) => void) | undefined;
  private readonly queue: Batch<C>[] = [];
  private queuedBytes = 0;
  private scheduled = false;
  /** Slices run so far (for tests and metrics). */
  slices = 0;
  /** Slices that ended because their time budget ran out (`sliceMs`), not their byte budget. */
  slicesTimedOut = 0;
  /** Times a reader (a device) was told to stop pulling from its throughput channels. */
  readStops = 0;
  /** The last slice ran out of time with frames left: stop reading until a slice keeps to its budget. */
  private behind = false;

  private readonly waiters = new Set<RxWaiter>();

  constructor(options: RxPriorityOptions = {}) {
    this.sliceBytes = options.sliceBytes ?? 256 * 1024;
    this.sliceMs = options.sliceMs ?? 0.5;
    this.maxQueuedBytes = options.maxQueuedBytes ?? 1024 * 1024;
    this.immediateBytes = options.immediateBytes ?? 16 * 1024;
    this.onSlice = options.onSlice;
  }

  /** Bytes of throughput frames waiting. */
  get pendingBytes(): number {
    return this.queuedBytes;
  }

  /**
   * True while throughput channels should not be read: `maxQueuedBytes` wait, or the
   * last slice spent its time budget with frames left (reading more would only lengthen
   * the event-loop turns that latency frames wait behind).
   */
  get congested(): boolean {
    return this.queuedBytes >= this.maxQueuedBytes || (this.behind && this.queuedBytes > 0);
  }

  /** Latency frames: delivered now. */
  urgent(frames: readonly Frame[], from: C): void {
    for (const f of frames) from.receive(f);
  }

  /** Calls `waiter.resumeRx()` once the queue is no longer congested. */
  whenDrained(waiter: RxWaiter): void {
    if (!this.congested) waiter.resumeRx();
    else if (!this.waiters.has(waiter)) {
      this.waiters.add(waiter);
      this.readStops++;
    }
  }

  /** Throughput frames: queued and delivered in slices. */
  bulk(frames: Frame[], from: C): void {
    if (frames.length === 0) return;
    let bytes = 0;
    for (const f of frames) bytes += frameSize(f);
    if (this.queue.length === 0 && bytes <= this.immediateBytes) {
      for (const f of frames) from.receive(f);
      return;
    }
    this.queuedBytes += bytes;
    this.queue.push({ frames, from, next: 0 });
    this.schedule();
  }

  /**
   * Runs `fn` once every bulk frame queued so far has been delivered — used so that
   * a channel's end or close is handled after the frames that preceded it.
   */
  fence(from: C, fn: () => void): void {
    if (this.queue.length === 0) fn();
    else {
      this.queue.push({ frames: [], from, next: 0, fence: fn });
      this.schedule();
    }
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.runSlice);
  }

  private readonly runSlice = (): void => {
    this.scheduled = false;
    this.slices++;
    let budget = this.sliceBytes;
    const started = this.sliceMs > 0 || this.onSlice !== undefined ? performance.now() : 0;
    const deadline = this.sliceMs > 0 ? started + this.sliceMs : Infinity;
    let timedOut = false;
    while (budget > 0 && this.queue.length > 0) {
      const b = this.queue[0]!;
      if (b.fence) {
        this.queue.shift();
        b.fence();
        continue;
      }
      while (b.next < b.frames.length && budget > 0) {
        const f = b.frames[b.next++]!;
        const n = frameSize(f);
        this.queuedBytes -= n;
        budget -= n;
        b.from.receive(f);
        if (deadline !== Infinity && performance.now() >= deadline) {
          budget = 0;
          timedOut = true;
          this.slicesTimedOut++;
        }
      }
      if (b.next === b.frames.length) {
        this.queue.shift();
        // Drop the references to delivered frames: a batch that outlived a scavenge (old
        // space) would otherwise keep their read buffers alive until the next mark-compact.
        b.frames.length = 0;
      }
    }
    if (this.onSlice !== undefined) this.onSlice(performance.now() - started);
    this.behind = timedOut && this.queue.length > 0;
    if (this.queue.length > 0) this.schedule();
    if (this.waiters.size > 0 && !this.congested) {
      const list = [...this.waiters];
      this.waiters.clear();
      for (const w of list) w.resumeRx();
    }
  };
}
