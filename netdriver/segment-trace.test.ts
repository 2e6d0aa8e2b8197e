import { afterEach, describe, expect, it } from 'vitest';
import { joinLatencyTrace, type VirtualSocket } from '../index.js';
import { stackPair, type StackPair } from '../test/pair.js';
import { SegmentTrace } from './segment-trace.js';
import { controlFrame, FrameType } from './frame.js';

let pair: StackPair | undefined;
afterEach(async () => {
  await pair?.close();
  pair = undefined;
});

/** `n` round trips of `size` bytes on a latency socket (and, if `bulk`, a throughput socket beside it). */
async function pingPong(p: StackPair, n: number, size: number, bulk = false): Promise<void> {
  const srv = await p.server.listen(80);
  srv.on('connection', (s: VirtualSocket) => s.pipe(s));
  const lat = await p.client.connect(p.address, 80, { appClass: 'latency' });
  if (bulk) {
    const t = await p.client.connect(p.address, 80);
    t.on('data', () => {});
    t.write(Buffer.alloc(256 * 1024));
  }
  const msg = Buffer.alloc(size, 7);
  for (let i = 0; i < n; i++) {
    let got = 0;
    const echoed = new Promise<void>((resolve) => {
      const on = (d: Buffer) => {
        got += d.length;
        if (got >= size) {
          lat.off('data', on);
          resolve();
        }
      };
      lat.on('data', on);
    });
    lat.write(msg);
    await echoed;
  }
}

describe('latency trace', () => {
  it('records every stage of each latency segment on both stacks, in order, and joins them by socket and offset', async () => {
    pair = await stackPair('tcp', { latencyTrace: true, channels: { throughput: 1, latency: 1 } });
    await pingPong(pair, 20, 1000, true);
    const c = pair.client.latencyTrace();
    const s = pair.server.latencyTrace();
    expect(c.enabled).toBe(true);
    // Only the latency socket is traced: 20 pings sent, 20 echoes received (1,000 B each, one segment).
    expect(c.sent).toHaveLength(20);
    expect(c.received).toHaveLength(20);
    expect(s.sent).toHaveLength(20);
    expect(s.received).toHaveLength(20);
    for (const r of [...c.sent, ...s.sent]) {
      expect(r.bytes).toBe(1000);
      expect(r.selectAt).toBeGreaterThanOrEqual(r.writeAt);
      if (r.transportAt !== undefined) expect(r.transportAt).toBeGreaterThanOrEqual(r.selectAt);
    }
    for (const r of [...c.received, ...s.received]) {
      expect(r.readAt).toBeDefined();
      expect(r.deliverAt).toBeGreaterThanOrEqual(r.readAt!);
    }
    // Over tcp:// the transport reports its write callback (except on channel workers, which do not).
    if (!process.env.NETCHANNEL_TEST_WORKERS) expect(c.sent.every((r) => r.transportAt !== undefined)).toBe(true);
    const pings = joinLatencyTrace(c, s);
    expect(pings.map((p) => p.seq)).toEqual(c.sent.map((r) => r.seq));
    // One process, one clock: every stage of a joined segment is non-negative, so each
    // stamp was taken in pipeline order across the two stacks.
    for (const p of pings) {
      expect(p.total).toBeGreaterThan(0);
      for (const stage of [p.queued, p.send, p.wire, p.deliver]) if (stage !== undefined) expect(stage).toBeGreaterThanOrEqual(0);
    }
    expect(pair.server.latencyTrace({ clear: true }).sent).toHaveLength(20);
    expect(pair.server.latencyTrace().sent).toHaveLength(0);
    // Receive slices of the throughput data were measured.
    expect(s.rxSlicesMs.length).toBeGreaterThan(0);
  });

  it('stamps the read time also when latency sockets travel on throughput channels (isolation off)', async () => {
    pair = await stackPair('tcp', { latencyTrace: true, channels: { throughput: 1, latency: 0 }, scheduler: { isolation: false } });
    await pingPong(pair, 10, 1000);
    const received = pair.server.latencyTrace().received;
    expect(received).toHaveLength(10);
    for (const r of received) expect(r.deliverAt).toBeGreaterThanOrEqual(r.readAt!);
  });

  it('stamps the transport time of the segment selected last only (not a retransmission), and not once its record was overwritten', () => {
    const t = new SegmentTrace(2);
    const seg = (seq: number) => ({ ...controlFrame(FrameType.DATA, 1, 2, seq), payload: Buffer.alloc(10) });
    const a = seg(0);
    t.selected(a, 0);
    const stampA = t.transmitting(a);
    expect(t.transmitting(a)).toBeUndefined(); // a retransmission of the same frame
    expect(t.transmitting(seg(0))).toBeUndefined(); // never selected
    const b = seg(10);
    t.selected(b, 0);
    const stampB = t.transmitting(b)!;
    t.selected(seg(20), 0); // overwrites a's record (capacity 2)
    stampA!();
    stampB();
    const sent = t.snapshot().sent;
    expect(sent.map((r) => r.seq)).toEqual([10, 20]);
    expect(sent[0]!.transportAt).toBeGreaterThan(0);
    expect(sent[1]!.transportAt).toBeUndefined();
  });

  it('is off by default: nothing is recorded', async () => {
    pair = await stackPair('memory');
    await pingPong(pair, 3, 100);
    expect(pair.client.latencyTrace()).toEqual({ enabled: false, sent: [], received: [], rxSlicesMs: [] });
  });

  it('keeps only the last `capacity` records of each kind, oldest first', () => {
    const t = new SegmentTrace(4);
    for (let i = 0; i < 10; i++) t.selected({ ...controlFrame(FrameType.DATA, 1, 2, i * 10), payload: Buffer.alloc(10) }, 0);
    expect(t.snapshot().sent.map((r) => r.seq)).toEqual([60, 70, 80, 90]);
    expect(t.snapshot(true).sent).toHaveLength(4);
    expect(t.snapshot().sent).toHaveLength(0);
  });
});
