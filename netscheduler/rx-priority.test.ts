import { describe, expect, it } from 'vitest';
import { controlFrame, FrameType, type Frame } from '../netdriver/frame.js';
import { RxPriorityQueue } from './rx-priority.js';

const data = (n: number, tag: number): Frame => ({ ...controlFrame(FrameType.DATA, tag, 0), payload: Buffer.alloc(n) });

describe('receive priority', () => {
  it('delivers latency frames at once, ahead of throughput frames that arrived first', async () => {
    const order: string[] = [];
    const q = new RxPriorityQueue<string>((f, from) => order.push(`${from}${f.src}`), () => {}, { sliceBytes: 1 << 20, immediateBytes: 0 });
    q.bulk([data(100, 1), data(100, 2)], 'T');
    q.urgent([data(10, 1)], 'L');
    expect(order).toEqual(['L1']);
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual(['L1', 'T1', 'T2']);
  });

  it('processes throughput in bounded slices, letting latency frames in between', async () => {
    const order: string[] = [];
    const q = new RxPriorityQueue<string>((f, from) => order.push(`${from}${f.src}`), () => {}, { sliceBytes: 1000, immediateBytes: 0 });
    q.bulk(Array.from({ length: 10 }, (_, i) => data(476, i)), 'T'); // 500 B each on the wire
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual(['T0', 'T1']);
    q.urgent([data(1, 9)], 'L');
    while (q.pendingBytes > 0) await new Promise((r) => setImmediate(r));
    expect(order.slice(0, 3)).toEqual(['T0', 'T1', 'L9']);
    expect(order).toHaveLength(11);
    expect(q.slices).toBe(5);
  });

  it('runs fences in order after the frames queued before them, and reports congestion', async () => {
    const order: string[] = [];
    let drained = 0;
    const q = new RxPriorityQueue<string>((f) => order.push(`d${f.src}`), () => drained++, { sliceBytes: 1 << 20, maxQueuedBytes: 150, immediateBytes: 0 });
    q.fence('T', () => order.push('empty-fence'));
    q.bulk([data(100, 1), data(100, 2)], 'T');
    expect(q.congested).toBe(true);
    q.fence('T', () => order.push('fence'));
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual(['empty-fence', 'd1', 'd2', 'fence']);
    expect(q.congested).toBe(false);
    expect(drained).toBeGreaterThan(0);
  });

  it('delivers a small throughput batch at once when no bulk data waits, and defers it behind queued bulk data', async () => {
    const order: string[] = [];
    const q = new RxPriorityQueue<string>((f) => order.push(`d${f.src}`), () => {}, { immediateBytes: 1000 });
    q.bulk([data(100, 1)], 'T');
    expect(order).toEqual(['d1']); // control-sized: no event-loop turn
    q.bulk([data(2000, 2)], 'T'); // bulk-sized: deferred
    q.bulk([data(100, 3)], 'T'); // small, but behind queued bulk data: keeps order
    expect(order).toEqual(['d1']);
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual(['d1', 'd2', 'd3']);
  });
});
