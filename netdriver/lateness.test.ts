import { describe, expect, it } from 'vitest';
import { BACKLOG_BYTES, ChannelFeedback } from './feedback.js';
import { LATE_FACTOR, LatenessDetector, MAX_REORDER_MS, MIN_REORDER_MS, type LatenessSubject } from './lateness.js';
import { SendClock } from './send-clock.js';

describe('send clock', () => {
  it('knows when the oldest unacknowledged byte left, and the delay of the newest delivered one', () => {
    const c = new SendClock();
    expect(c.oldestUnackedAt).toBe(Infinity);
    c.sent(100, 10);
    c.sent(300, 20);
    c.sent(600, 30);
    expect(c.oldestUnackedAt).toBe(10);
    c.acked(250, 25); // the first mark only: the second is not wholly acknowledged
    expect(c.oldestUnackedAt).toBe(20);
    expect(c.newestAckedSentAt).toBe(10);
    expect(c.ackDelay).toBe(15);
    c.acked(600, 34);
    expect(c.oldestUnackedAt).toBe(Infinity);
    expect(c.newestAckedSentAt).toBe(30);
    expect(c.ackDelay).toBe(4);
  });
  it('merges frames handed at the same moment, and stays bounded (the newest mark grows)', () => {
    const c = new SendClock();
    c.sent(10, 5);
    c.sent(20, 5.01); // same instant: one mark
    c.acked(10, 6);
    expect(c.oldestUnackedAt).toBe(5); // [0, 20) is one mark, not wholly acknowledged
    for (let i = 1; i <= 1000; i++) c.sent(20 + i, 10 + i);
    c.acked(20, 2000);
    expect(c.oldestUnackedAt).toBe(11); // the first mark after the merged one
    c.acked(1020, 2001);
    expect(c.oldestUnackedAt).toBe(Infinity);
    expect(c.newestAckedSentAt).toBeLessThan(1010); // the bounded ring kept an older time for the tail: conservative
  });
});

/** A channel for the detector: feedback driven by hand. */
function channel(path?: string): LatenessSubject & { feedback: ChannelFeedback } {
  return { appClass: 'throughput', usable: true, minRtt: 0, path, feedback: new ChannelFeedback() };
}
/** `bytes` sent on `c` at `at` (ms). */
function send(c: { feedback: ChannelFeedback }, bytes: number, at: number): void {
  c.feedback.dataSent += bytes;
  c.feedback.clock.sent(c.feedback.dataSent, at);
}
/** Everything sent on `c` so far acknowledged at `at` (ms). */
function ackAll(c: { feedback: ChannelFeedback }, at: number): void {
  c.feedback.dataAcked = c.feedback.dataSent;
  c.feedback.clock.acked(c.feedback.dataAcked, at);
}

describe('lateness between the channels of a class', () => {
  it('finds the channel others overtook once its oldest byte waited past the allowance', () => {
    const [slow, a, b] = [channel(), channel(), channel()];
    send(slow, 4 * BACKLOG_BYTES, 0);
    send(a, 4 * BACKLOG_BYTES, 1);
    send(b, 4 * BACKLOG_BYTES, 1);
    ackAll(a, 3); // delivered in 2 ms, though sent after the slow channel's bytes
    send(b, 4 * BACKLOG_BYTES, 3); // b still backlogged
    const d = new LatenessDetector();
    const out: LatenessSubject[] = [];
    const deadline = LATE_FACTOR * 2 + MIN_REORDER_MS;
    expect(d.find([slow, a, b], deadline - 1, out)).toBe(deadline); // not yet: a timer is due then
    expect(out).toEqual([]);
    d.find([slow, a, b], deadline, out);
    expect(out).toEqual([slow]);
  });
  it('needs only the floor once no other channel is backlogged (the sender waits on this one alone)', () => {
    const [slow, a] = [channel(), channel()];
    send(slow, 4 * BACKLOG_BYTES, 0);
    send(a, 4 * BACKLOG_BYTES, 1);
    ackAll(a, 40); // a slow delivery (40 ms), but a is idle now
    const out: LatenessSubject[] = [];
    new LatenessDetector().find([slow, a], MIN_REORDER_MS, out);
    expect(out).toEqual([slow]);
  });
  it('never flags a channel that nobody overtook, nor one with nothing in flight, nor across classes', () => {
    const [x, y] = [channel(), channel()];
    send(x, 4 * BACKLOG_BYTES, 0);
    send(y, 4 * BACKLOG_BYTES, 0); // both sent at once, neither acknowledged: a slow receiver, not a slow channel
    const d = new LatenessDetector();
    const out: LatenessSubject[] = [];
    expect(d.find([x, y], 10_000, out)).toBe(Infinity);
    ackAll(y, 1);
    send(y, 4 * BACKLOG_BYTES, 2); // y delivered only bytes sent before x's: x is not overtaken
    expect(d.find([x, y], 10_000, out)).toBe(Infinity);
    expect(out).toEqual([]);
    const latency = { ...channel(), appClass: 'latency' as const };
    send(latency, 4 * BACKLOG_BYTES, 0); // overtaken only by a channel of the other class
    d.find([latency, y], 10_000, out);
    expect(out).toEqual([]);
  });
  it('flags a channel holding only a control frame (a CREDIT stuck there holds up the peer)', () => {
    const [stuck, other] = [channel(), channel()];
    send(stuck, 40, 0);
    send(other, 40, 1);
    ackAll(other, 2);
    const out: LatenessSubject[] = [];
    new LatenessDetector().find([stuck, other], MIN_REORDER_MS, out);
    expect(out).toEqual([stuck]);
  });
  it('adds the smallest RTT of the path to the allowance (a channel\'s own probes queue behind its data)', () => {
    const slow = { ...channel('tcp://a'), minRtt: 0.5 };
    const near = { ...channel('tcp://a'), minRtt: 0.02 };
    send(slow, 4 * BACKLOG_BYTES, 0);
    send(near, 4 * BACKLOG_BYTES, 1);
    ackAll(near, 2);
    const out: LatenessSubject[] = [];
    new LatenessDetector().find([slow, near], MIN_REORDER_MS + 20, out);
    expect(out).toEqual([slow]); // 20 ms of path delay, not the 500 ms its own probes saw
  });
  it('averages what the other usable channels of the class had acknowledged', () => {
    const [c, a, b, gone] = [channel(), channel(), channel(), { ...channel(), usable: false }];
    const lat = { ...channel(), appClass: 'latency' as const };
    for (const [x, n] of [[a, 100], [b, 300], [gone, 5000], [lat, 7000], [c, 9000]] as const) {
      send(x, n, 0);
      ackAll(x, 1);
    }
    const d = new LatenessDetector();
    expect(d.othersAcked(c, [c, a, b, gone, lat])).toBe(200);
    expect(d.othersAcked(lat, [c, a, b, gone, lat])).toBe(0);
  });
  it('widens its allowance when lateness turns out a hiccup, up to a bound, and narrows it again', () => {
    const d = new LatenessDetector();
    d.caughtUp(100, 1 << 20, 40 << 20); // a real slow channel: long after, having delivered a fortieth of the others
    expect(d.reorderMs).toBe(MIN_REORDER_MS);
    d.caughtUp(2, 1 << 20, 40 << 20); // caught up almost at once: the allowance was too tight
    expect(d.reorderMs).toBe(2 * MIN_REORDER_MS);
    d.caughtUp(100, 1 << 20, 2 << 20); // late for long, but the others delivered little more: a paused loop
    expect(d.reorderMs).toBe(4 * MIN_REORDER_MS);
    for (let i = 0; i < 20; i++) d.caughtUp(0, 0, 0);
    expect(d.reorderMs).toBe(MAX_REORDER_MS);
    for (let i = 0; i < 400; i++) d.tick();
    expect(d.reorderMs).toBe(MIN_REORDER_MS);
  });
});

describe('late channel state', () => {
  it('is late until it acknowledges what it held when found late; reports for how long', () => {
    const f = new ChannelFeedback();
    f.onSent(4 * BACKLOG_BYTES);
    f.onAck(BACKLOG_BYTES, 90);
    f.markLate(100, 12345);
    expect(f.late).toBe(true);
    expect(f.lateOthersAcked).toBe(12345);
    f.onSent(BACKLOG_BYTES); // sent later: not part of what it must catch up on
    f.onAck(2 * BACKLOG_BYTES, 120);
    expect(f.caughtUp(120)).toBe(-1);
    f.onAck(4 * BACKLOG_BYTES, 150);
    expect(f.caughtUp(150)).toBe(50);
    expect(f.deliveredSinceLate).toBe(3 * BACKLOG_BYTES);
    expect(f.late).toBe(false);
  });
});
