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
    const q = new RxPriorityQueue<RxSource>({ sliceBytes: 1000, immediateBytes: 0 });
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
});
