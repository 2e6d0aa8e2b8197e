import { describe, expect, it } from 'vitest';
import type { AppClass } from '../netdriver/channel.js';
import { dedicated } from './dedicated.js';
import { earliestCompletion } from './earliest-completion.js';
import { definePolicy, leastQueued, type ChannelView, type SchedulingPolicy, type SegmentContext } from './policy.js';
import { roundRobin } from './round-robin.js';
import { saturation } from './scaling.js';
import { shortestQueue } from './shortest-queue.js';
import { sourcePortHash } from './source-port-hash.js';
import { thresholdPlacement } from './placement.js';

const HWM = 1000;
function chans(...queued: number[]): ChannelView[] {
  return queued.map((q, i) => ({ id: i + 1, index: i, appClass: 'throughput' as AppClass, txQueuedBytes: q, txHighWaterMark: HWM, bytesSent: 0, throughput: 0, srtt: 0, minRtt: 0, deliveryRate: 0, inflightBytes: q, lastProgressAt: 0, stale: false }));
}
function seg<S>(policy: SchedulingPolicy<S>, localPort = 70000, remotePort = 80): SegmentContext<S> {
  return { kind: 'data', bytes: 100, appClass: 'throughput', localPort, remotePort, state: policy.createFlowState?.(localPort, remotePort) as S };
}
const ids = (p: SchedulingPolicy, s: SegmentContext, c: ChannelView[], n: number): (number | undefined)[] =>
  Array.from({ length: n }, () => p.select(s, c)?.id);

describe('round-robin', () => {
  it('stays on a channel for `sticky` segments, then moves on, covering every channel', () => {
    const p = roundRobin({ sticky: 2, threshold: HWM })({ appClass: 'throughput' });
    expect(ids(p, seg(p), chans(0, 0, 0), 7)).toEqual([1, 1, 2, 2, 3, 3, 1]);
  });
  it('defaults to 6 segments per channel', () => {
    const p = roundRobin()({ appClass: 'throughput' });
    expect(ids(p, seg(p), chans(0, 0), 8)).toEqual([1, 1, 1, 1, 1, 1, 2, 2]);
  });
  it('skips channels at or above the threshold and waits when all are full', () => {
    const p = roundRobin({ sticky: 1, threshold: 500 })({ appClass: 'throughput' });
    const s = seg(p);
    expect(ids(p, s, chans(0, 500, 0), 4)).toEqual([1, 3, 1, 3]);
    expect(p.select(s, chans(500, 900, 501))).toBeUndefined();
  });
  it('works with one channel, and with a channel list that shrinks', () => {
    const p = roundRobin({ sticky: 1 })({ appClass: 'throughput' });
    const s = seg(p);
    expect(ids(p, s, chans(0), 3)).toEqual([1, 1, 1]);
    ids(p, s, chans(0, 0, 0, 0), 3);
    expect(p.select(s, chans(0, 0))?.id).toBeDefined();
  });
  it('keeps per-socket positions independent', () => {
    const p = roundRobin({ sticky: 1 })({ appClass: 'throughput' });
    const a = seg(p, 70000);
    const b = seg(p, 70001);
    const c = chans(0, 0);
    expect([p.select(a, c)?.id, p.select(a, c)?.id, p.select(b, c)?.id]).toEqual([1, 2, 1]);
  });
  it('validates options', () => {
    expect(() => roundRobin({ sticky: 0 })).toThrow(/options\.sticky.*0/);
    expect(() => roundRobin({ threshold: -1 })).toThrow(expect.objectContaining({ code: 'NETCHANNEL_ERR_INVALID_ARG' }));
  });
});

describe('source-port hash', () => {
  it('keeps a socket on one channel and spreads sockets over channels', () => {
    const p = sourcePortHash()({ appClass: 'throughput' });
    const c = chans(0, 0, 0, 0);
    const picks = new Set<number | undefined>();
    for (let port = 70000; port < 70064; port++) {
      const s = seg(p, port);
      const first = p.select(s, c)?.id;
      expect(ids(p, s, c, 5).every((x) => x === first)).toBe(true);
      picks.add(first);
    }
    expect(picks.size).toBe(4);
  });
  it('waits (never moves) when its channel is full', () => {
    const p = sourcePortHash({ threshold: 500 })({ appClass: 'throughput' });
    const s = seg(p);
    const home = p.select(s, chans(0, 0, 0))!.id;
    const full = chans(0, 0, 0).map((c) => (c.id === home ? { ...c, txQueuedBytes: 500 } : c));
    expect(p.select(s, full)).toBeUndefined();
  });
});

describe('shortest-queue-first', () => {
  it('picks the least-queued channel, lowest index on ties, and waits when all are full', () => {
    const p = shortestQueue({ threshold: 500 })({ appClass: 'throughput' });
    const s = seg(p);
    expect(p.select(s, chans(300, 100, 200))?.id).toBe(2);
    expect(p.select(s, chans(100, 100))?.id).toBe(1);
    expect(p.select(s, chans(700))).toBeUndefined();
    expect(p.select(s, chans(500, 600))).toBeUndefined();
  });
});

describe('dedicated (latency class)', () => {
  it('pins a socket to one channel and never holds it back', () => {
    const p = dedicated()({ appClass: 'latency' });
    const s = seg(p);
    const first = p.select(s, chans(0, 0))!.id;
    expect(ids(p, s, chans(5000, 5000), 3)).toEqual([first, first, first]);
  });
});

describe('saturation scaling', () => {
  const sample = (queued: number[], blockedWaits: number, throughput = 1e9) => ({
    appClass: 'throughput' as AppClass,
    channels: queued.map((q, i) => ({ id: i, index: i, txQueuedBytes: q, txHighWaterMark: 1000, throughput })),
    blockedWaits,
    intervalMs: 100,
    min: 1,
    max: 8,
  });
  it('adds a channel after upAfter saturated ticks and restarts counting', () => {
    const s = saturation({ upAfter: 3, downAfter: 5 })({ appClass: 'throughput' });
    expect([s.decide(sample([900, 900], 0)), s.decide(sample([0, 0], 4)), s.decide(sample([600, 500], 0))]).toEqual([2, 2, 3]);
    expect(s.decide(sample([900, 900], 1))).toBe(2);
  });
  it('removes a channel after downAfter idle ticks; a busy tick resets the count', () => {
    const s = saturation({ upAfter: 3, downAfter: 3, idleBytesPerSecond: 1000 })({ appClass: 'throughput' });
    const idle = sample([0, 0, 0], 0, 10);
    expect([s.decide(idle), s.decide(idle), s.decide(sample([900, 900, 900], 1)), s.decide(idle), s.decide(idle), s.decide(idle)]).toEqual([3, 3, 3, 3, 3, 2]);
  });
  it('validates options', () => {
    expect(() => saturation({ busyFraction: 2 })).toThrow(/busyFraction/);
  });
});

describe('threshold copy placement', () => {
  const p = thresholdPlacement()({ appClass: 'throughput' });
  const workers = [
    { id: 1, queuedBytes: 700 * 1024 },
    { id: 2, queuedBytes: 10 },
  ];
  it('copies latency data and the head of a write inline, then offloads to the least-loaded worker under its threshold', () => {
    expect(p.place({ bytes: 4096, offsetInWrite: 1 << 20, appClass: 'latency', inflightBytes: 0 }, workers)).toBe('inline');
    expect(p.place({ bytes: 4096, offsetInWrite: 1000, appClass: 'throughput', inflightBytes: 0 }, workers)).toBe('inline');
    expect(p.place({ bytes: 65536, offsetInWrite: 1 << 20, appClass: 'throughput', inflightBytes: 0 }, workers)).toMatchObject({ id: 2 });
    expect(p.place({ bytes: 65536, offsetInWrite: 1 << 20, appClass: 'throughput', inflightBytes: 800 * 1024 }, workers)).toBe('inline');
    expect(p.place({ bytes: 65536, offsetInWrite: 1 << 20, appClass: 'throughput', inflightBytes: 0 }, [workers[0]!])).toBe('inline');
  });
});

describe('control frames', () => {
  it('every built-in policy leaves control frames to the stack default, even without flow state', () => {
    const control: SegmentContext = { kind: 'control', bytes: 0, appClass: 'throughput', localPort: 0, remotePort: 0, state: undefined };
    for (const f of [roundRobin(), sourcePortHash(), dedicated()]) expect(f({ appClass: 'throughput' }).select(control, chans(0, 0))).toBeUndefined();
    expect(shortestQueue()({ appClass: 'throughput' }).select(control, chans(5, 1))?.id).toBe(2);
  });
  it('leastQueued picks the emptiest channel, then the one with the fewest bytes in flight, then the first', () => {
    expect(leastQueued(chans(5, 1, 1)).id).toBe(2);
    const c = chans(0, 0, 0);
    (c[0] as { inflightBytes: number }).inflightBytes = 500; // holds undelivered frames: skipped while the queues tie
    expect(leastQueued(c).id).toBe(2);
    (c[1] as { txQueuedBytes: number }).txQueuedBytes = 1;
    expect(leastQueued(c).id).toBe(3);
  });
  it('leastQueued breaks a tie for an ACK pending (the frame carries it), the most recently heard from first; queue and in-flight bytes still come first', () => {
    const c = chans(0, 0, 0, 0).map((v, i) => ({ ...v, ackPending: i >= 1, lastRxAt: [0, 10, 30, 20][i]! }));
    expect(leastQueued(c).id).toBe(3); // ACK pending and heard from last
    (c[2] as { inflightBytes: number }).inflightBytes = 24; // one frame not yet acknowledged on it
    expect(leastQueued(c).id).toBe(4);
    (c[3] as { txQueuedBytes: number }).txQueuedBytes = 24;
    expect(leastQueued(c).id).toBe(2);
    expect(leastQueued(chans(0, 0)).id).toBe(1); // views without the optional fields: the first
  });
  it('a policy made by definePolicy carries the factory name', () => {
    const f = definePolicy('mine', () => ({ select: (_s, c) => c[0] }));
    expect(f.policyName).toBe('mine');
    expect(f({ appClass: 'latency' }).name).toBe('mine');
    expect(() => definePolicy('', () => ({ select: () => undefined }))).toThrow(expect.objectContaining({ code: 'NETCHANNEL_ERR_INVALID_ARG' }));
  });
});

describe('earliest-completion', () => {
  /** Channels that drain their in-flight bytes at `rates` (bytes/s); the sender always has data. */
  function simulate(rates: number[], segments: number, stallAfter = Infinity, stalled = -1): number[] {
    const policy = earliestCompletion()({ appClass: 'throughput' });
    const state = policy.createFlowState!(70000, 80);
    const views = rates.map((r, i) => ({ id: i + 1, index: i, appClass: 'throughput' as AppClass, txQueuedBytes: 0, txHighWaterMark: 1 << 30, bytesSent: 0, throughput: 0, srtt: 0.001, minRtt: 0.0005, deliveryRate: r, inflightBytes: 0, lastProgressAt: 0, stale: false }));
    const bytes = rates.map(() => 0);
    const seg = 64 * 1024;
    // Offered load: the sum of the rates; in-flight drains at each channel's own rate.
    const dt = seg / rates.reduce((a, b) => a + b, 0);
    for (let k = 0; k < segments; k++) {
      const c = policy.select({ kind: 'data', bytes: seg, appClass: 'throughput', localPort: 70000, remotePort: 80, state }, views);
      if (c) {
        const v = views[c.id - 1]!;
        v.inflightBytes += seg;
        bytes[c.id - 1]! += seg;
      }
      for (const [i, v] of views.entries()) {
        const rate = k >= stallAfter && i === stalled ? 0 : rates[i]!;
        v.inflightBytes = Math.max(0, v.inflightBytes - rate * dt);
      }
    }
    return bytes.map((b) => b / bytes.reduce((x, y) => x + y, 0));
  }
  it('equal channels get equal shares', () => {
    for (const s of simulate([100e6, 100e6, 100e6, 100e6], 4000)) expect(s).toBeCloseTo(0.25, 2);
  });
  it('a channel at a tenth of the others\' rate gets about a tenth of their bytes', () => {
    const shares = simulate([100e6, 100e6, 100e6, 10e6], 20_000);
    const ratio = shares[3]! / shares[0]!;
    expect(ratio).toBeGreaterThan(0.05);
    expect(ratio).toBeLessThan(0.2);
  });
  it('a channel that stops making progress gets nothing once its backlog stands out', () => {
    const policy = earliestCompletion()({ appClass: 'throughput' });
    const state = policy.createFlowState!(1, 2);
    const base = { appClass: 'throughput' as AppClass, txQueuedBytes: 0, txHighWaterMark: 1 << 30, bytesSent: 0, throughput: 0, srtt: 0.001, minRtt: 0.0005, deliveryRate: 100e6, lastProgressAt: 0, stale: false };
    const stalled = { ...base, id: 1, index: 0, inflightBytes: 4 << 20 }; // 4 MiB stuck
    const healthy = { ...base, id: 2, index: 1, inflightBytes: 0 };
    for (let i = 0; i < 100; i++) expect(policy.select({ kind: 'data', bytes: 65536, appClass: 'throughput', localPort: 1, remotePort: 2, state }, [stalled, healthy])?.id).toBe(2);
  });
  it('keeps a slow channel off segments that would block the socket\'s window (BLEST), and uses it when the window allows', () => {
    const policy = earliestCompletion()({ appClass: 'throughput' });
    const state = policy.createFlowState!(1, 2);
    const base = { appClass: 'throughput' as AppClass, txQueuedBytes: 0, txHighWaterMark: 1 << 30, bytesSent: 0, throughput: 0, srtt: 0.001, minRtt: 0.0005, lastProgressAt: 0, stale: false };
    // Three channels at 300 MB/s, busy with 2 MiB each, and an idle one at 10 MB/s.
    const views = [0, 1, 2].map((i) => ({ ...base, id: i + 1, index: i, deliveryRate: 300e6, inflightBytes: 2 << 20 }));
    const slow = { ...base, id: 4, index: 3, deliveryRate: 10e6, inflightBytes: 0 };
    const pick = (sendWindow: number | undefined): number | undefined => policy.select({ kind: 'data', bytes: 65536, appClass: 'throughput', localPort: 1, remotePort: 2, sendWindow, state }, [...views, slow])?.id;
    // 64 KiB on the slow channel take 6.5 ms; meanwhile the others send 5.9 MB: more than a 4 MiB window.
    for (let i = 0; i < 20; i++) expect(pick(4 << 20)).not.toBe(4);
    // With a 64 MiB window (or none known) it is worth using.
    expect(Array.from({ length: 20 }, () => pick(64 << 20))).toContain(4);
    expect(Array.from({ length: 20 }, () => pick(undefined))).toContain(4);
  });
  it('without any rate it compares bytes in flight and rotates over ties', () => {
    const p = earliestCompletion({ sticky: 1 })({ appClass: 'throughput' });
    const s = seg(p);
    const c = chans(0, 0, 0);
    expect(ids(p, s, c, 6)).toEqual([2, 3, 1, 2, 3, 1]);
  });
  it('skips full channels, and answers undefined when all are full', () => {
    const p = earliestCompletion()({ appClass: 'throughput' });
    expect(p.select(seg(p), chans(HWM, 10))?.id).toBe(2);
    expect(p.select(seg(p), chans(HWM, HWM))).toBeUndefined();
  });
  it('validates its options', () => {
    expect(() => earliestCompletion({ slack: 2 })).toThrow(/options.slack/);
    expect(() => earliestCompletion({ band: 0.5 })).toThrow(/options.band/);
    expect(() => earliestCompletion({ sticky: 0 })).toThrow(/options.sticky/);
  });
});
