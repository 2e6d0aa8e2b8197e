import { monitorEventLoopDelay } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { controlFrame, FrameType, type Frame } from '../netdriver/frame.js';
import { RxPriorityQueue, type RxSource } from './rx-priority.js';

/** A frame source that records `${tag}${src}` (or `d${src}`) on delivery. */
const source = (order: string[], tag: string): RxSource => ({ receive: (f) => order.push(`${tag}${f.src}`) });

const data = (n: number, tag: number): Frame => ({ ...controlFrame(FrameType.DATA, tag, 0), payload: Buffer.alloc(n) });

describe('receive priority', () => {
  it('delivers latency frames at once, ahead of throughput frames that arrived first', async () => {
    const order: string[] = [];
    const q = new RxPriorityQueue<RxSource>({ sliceBytes: 1 << 20, immediateBytes: 0 });
    q.bulk([data(100, 1), data(100, 2)], source(order, 'T'));
    q.urgent([data(10, 1)], source(order, 'L'));
    expect(order).toEqual(['L1']);
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual(['L1', 'T1', 'T2']);
  });

  it('processes throughput in bounded slices, letting latency frames in between', async () => {
    const order: string[] = [];
    const q = new RxPriorityQueue<RxSource>({ sliceBytes: 1000, sliceMs: 0, immediateBytes: 0 });
    q.bulk(Array.from({ length: 10 }, (_, i) => data(476, i)), source(order, 'T')); // 500 B each on the wire
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual(['T0', 'T1']);
    q.urgent([data(1, 9)], source(order, 'L'));
    while (q.pendingBytes > 0) await new Promise((r) => setImmediate(r));
    expect(order.slice(0, 3)).toEqual(['T0', 'T1', 'L9']);
    expect(order).toHaveLength(11);
    expect(q.slices).toBe(5);
  });

  it('runs fences in order after the frames queued before them, and reports congestion', async () => {
    const order: string[] = [];
    let drained = 0;
    const q = new RxPriorityQueue<RxSource>({ sliceBytes: 1 << 20, maxQueuedBytes: 150, immediateBytes: 0 });
    const t = source(order, 'd');
    q.fence(t, () => order.push('empty-fence'));
    q.bulk([data(100, 1), data(100, 2)], t);
    expect(q.congested).toBe(true);
    q.whenDrained({ resumeRx: () => drained++ });
    expect(drained).toBe(0);
    q.fence(t, () => order.push('fence'));
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual(['empty-fence', 'd1', 'd2', 'fence']);
    expect(q.congested).toBe(false);
    expect(drained).toBe(1);
    q.whenDrained({ resumeRx: () => drained++ }); // not congested: at once
    expect(drained).toBe(2);
  });

  it('delivers a small throughput batch at once when no bulk data waits, and defers it behind queued bulk data', async () => {
    const order: string[] = [];
    const q = new RxPriorityQueue<RxSource>({ immediateBytes: 1000 });
    const t = source(order, 'd');
    q.bulk([data(100, 1)], t);
    expect(order).toEqual(['d1']); // control-sized: no event-loop turn
    q.bulk([data(2000, 2)], t); // bulk-sized: deferred
    q.bulk([data(100, 3)], t); // small, but behind queued bulk data: keeps order
    expect(order).toEqual(['d1']);
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual(['d1', 'd2', 'd3']);
  });

  it('a slow consumer cannot hold the event loop past the time budget: slices end after sliceMs, whatever the byte budget', async () => {
    const work = 1; // ms of work per frame in the consumer
    const perSlice: number[] = [];
    let inSlice = 0;
    const slow: RxSource = {
      receive: () => {
        inSlice++;
        const until = performance.now() + work;
        while (performance.now() < until); // a 'data' handler doing real work
      },
    };
    const q = new RxPriorityQueue<RxSource>({ sliceBytes: 1 << 30, sliceMs: 2.5, immediateBytes: 0 });
    q.bulk(Array.from({ length: 100 }, (_, i) => data(100, i)), slow);
    const delay = monitorEventLoopDelay({ resolution: 1 });
    delay.enable();
    // Count frames per slice: a check callback runs between two slices (setImmediate order).
    while (q.pendingBytes > 0) {
      await new Promise((r) => setImmediate(r));
      perSlice.push(inSlice);
      inSlice = 0;
    }
    delay.disable();
    const frames = perSlice.filter((n) => n > 0);
    expect(frames.reduce((a, b) => a + b, 0)).toBe(100);
    // 2.5 ms of budget at 1 ms per frame: the third frame crosses it. Never more (a
    // slower machine only makes frames longer, so fewer fit).
    expect(Math.max(...frames)).toBeLessThanOrEqual(3);
    expect(frames.length).toBeGreaterThanOrEqual(34);
    expect(q.slicesTimedOut).toBeGreaterThanOrEqual(33);
    // The loop was never held for the whole queue (100 ms of work): at most one slice,
    // with generous room for a loaded machine.
    expect(delay.max / 1e6).toBeLessThan(2.5 + work + 50);
  });

  it('with sliceMs 0 only the byte budget ends a slice', async () => {
    const order: string[] = [];
    const q = new RxPriorityQueue<RxSource>({ sliceBytes: 1 << 30, sliceMs: 0, immediateBytes: 0 });
    const slowish: RxSource = { receive: (f) => { const until = performance.now() + 0.2; while (performance.now() < until); order.push(String(f.src)); } };
    q.bulk(Array.from({ length: 20 }, (_, i) => data(100, i)), slowish);
    await new Promise((r) => setImmediate(r));
    expect(order).toHaveLength(20);
    expect(q.slicesTimedOut).toBe(0);
  });

  it('is congested while behind (a slice spent its time with frames left), whatever maxQueuedBytes, and resumes readers once a slice keeps to its budget', async () => {
    let spinMs = 1;
    const slow: RxSource = {
      receive: () => {
        const until = performance.now() + spinMs;
        while (performance.now() < until);
      },
    };
    const q = new RxPriorityQueue<RxSource>({ sliceBytes: 1 << 30, sliceMs: 1.5, maxQueuedBytes: 1 << 30, immediateBytes: 0 });
    q.bulk(Array.from({ length: 10 }, (_, i) => data(100, i)), slow);
    expect(q.congested).toBe(false); // nothing processed yet: not behind
    await new Promise((r) => setImmediate(r));
    expect(q.slicesTimedOut).toBe(1);
    expect(q.pendingBytes).toBeGreaterThan(0);
    expect(q.congested).toBe(true);
    let resumed = 0;
    const reader = { resumeRx: () => resumed++ };
    q.whenDrained(reader);
    q.whenDrained(reader); // one stop per reader until it is resumed
    expect(q.readStops).toBe(1);
    expect(resumed).toBe(0);
    spinMs = 0; // the consumer speeds up: a slice keeps to its budget (the next, unless the machine stalls it)
    for (let turns = 0; q.pendingBytes > 0 && turns < 100; turns++) await new Promise((r) => setImmediate(r));
    expect(q.pendingBytes).toBe(0);
    expect(q.congested).toBe(false);
    expect(resumed).toBe(1);
    expect(q.readStops).toBe(1);
  });
});
