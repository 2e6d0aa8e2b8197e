import { describe, expect, it } from 'vitest';
import { BACKLOG_BYTES, ChannelFeedback, RateEstimator, RttEstimator } from './feedback.js';

describe('RTT estimator (RFC 6298)', () => {
  it('starts from the first sample, then smooths with gains 1/8 and 1/4, and tracks the minimum', () => {
    const r = new RttEstimator();
    expect(r.srtt).toBe(0);
    r.update(0.1);
    expect(r.srtt).toBeCloseTo(0.1);
    expect(r.rttvar).toBeCloseTo(0.05);
    r.update(0.2);
    expect(r.rttvar).toBeCloseTo(0.75 * 0.05 + 0.25 * 0.1);
    expect(r.srtt).toBeCloseTo(0.875 * 0.1 + 0.125 * 0.2);
    expect(r.minRtt).toBeCloseTo(0.1);
    expect(r.rto()).toBeCloseTo(r.srtt + 4 * r.rttvar);
  });
  it('converges on a steady stream and ignores invalid samples', () => {
    const r = new RttEstimator();
    for (let i = 0; i < 200; i++) r.update(0.004 + (i % 2) * 0.002);
    expect(r.srtt).toBeGreaterThan(0.004);
    expect(r.srtt).toBeLessThan(0.006);
    r.update(-1);
    r.update(Number.NaN);
    expect(r.samples).toBe(200);
    expect(r.minRtt).toBeCloseTo(0.004);
  });
  it('forgets an old minimum after 16 samples', () => {
    const r = new RttEstimator();
    r.update(0.001);
    for (let i = 0; i < 16; i++) r.update(0.01);
    expect(r.minRtt).toBeCloseTo(0.01);
  });
});

describe('delivery-rate estimator', () => {
  it('takes the max of the recent samples and forgets samples older than its maximum age', () => {
    const r = new RateEstimator(4, 1000, 1);
    r.sample(1_000_000, 0.1, 0); // 10 MB/s
    r.sample(500_000, 0.1, 100); // 5 MB/s (app-limited interval)
    expect(r.rate).toBeCloseTo(10_000_000);
    r.expire(1050);
    expect(r.rate).toBeCloseTo(5_000_000);
    r.expire(1200);
    expect(r.rate).toBe(0);
  });
  it('reads 0 (unknown) until it has minSamples samples', () => {
    const r = new RateEstimator(10, 10_000, 3);
    r.sample(100, 1, 0);
    r.sample(100, 1, 1);
    expect(r.rate).toBe(0);
    r.sample(100, 1, 2);
    expect(r.rate).toBe(100);
  });
  it('keeps only `window` samples', () => {
    const r = new RateEstimator(2, 10_000, 1);
    r.sample(100, 1, 0);
    r.sample(10, 1, 1);
    r.sample(20, 1, 2);
    expect(r.rate).toBe(20);
  });
});

describe('channel feedback from a synthetic ack stream', () => {
  it('counts bytes in flight and progress, with acks modulo 2^32', () => {
    const f = new ChannelFeedback();
    f.dataSent = f.dataAcked = 2 ** 32 - 1000; // near the wrap
    f.onSent(5000);
    expect(f.inflightBytes).toBe(5000);
    expect(f.onAck(((2 ** 32 - 1000 + 3000) >>> 0), 10)).toBe(true); // wrapped value
    expect(f.inflightBytes).toBe(2000);
    expect(f.lastProgressAt).toBe(10);
  });
  it('ignores acks that go backwards, repeat, or cover more than was sent', () => {
    const f = new ChannelFeedback();
    f.onSent(1000);
    expect(f.onAck(600, 1)).toBe(true);
    expect(f.onAck(600, 2)).toBe(false);
    expect(f.onAck(500, 3)).toBe(false);
    expect(f.onAck(5000, 4)).toBe(false);
    expect(f.dataAcked).toBe(600);
    expect(f.lastProgressAt).toBe(1);
  });
  it('samples the delivery rate over busy time only (acked bytes while backlogged / time backlogged)', () => {
    const f = new ChannelFeedback();
    let t = performance.now();
    f.sample(t);
    for (let i = 0; i < 3; i++) {
      f.onSent(10 * BACKLOG_BYTES); // busy from about now
      const busyFrom = performance.now();
      f.onAck(((i * 10 + 5) * BACKLOG_BYTES) >>> 0, busyFrom + 50);
      f.onAck(((i * 10 + 10) * BACKLOG_BYTES) >>> 0, busyFrom + 100); // drained: busy for ~100 ms
      t = busyFrom + 500;
      f.sample(t); // the 400 ms idle do not count
    }
    expect(f.delivery.rate).toBeGreaterThan((10 * BACKLOG_BYTES) / 0.11);
    expect(f.delivery.rate).toBeLessThan((10 * BACKLOG_BYTES) / 0.09);
    f.sample(t + 100); // idle tick: no sample, the estimate stays
    expect(f.delivery.rate).toBeGreaterThan(0);
  });
  it('takes no sample from a busy channel that delivers nothing (a black hole)', () => {
    const f = new ChannelFeedback();
    f.onSent(4 * BACKLOG_BYTES);
    f.sample(performance.now() + 100);
    expect(f.delivery.rate).toBe(0);
  });
  it('measures RTT only from the PONG that echoes the outstanding probe', () => {
    const f = new ChannelFeedback();
    const probe = f.probe(1000);
    f.onPong(Buffer.alloc(8), 1003); // not ours
    expect(f.rtt.samples).toBe(0);
    f.onPong(probe, 1004);
    expect(f.rtt.srtt).toBeCloseTo(0.004);
    f.onPong(probe, 1010); // already answered
    expect(f.rtt.samples).toBe(1);
  });
  it('is silent only while it holds unacknowledged bytes; the clock starts at a send from idle', () => {
    const f = new ChannelFeedback();
    expect(f.silentFor(performance.now() + 10_000)).toBe(0);
    const before = performance.now();
    f.onSent(100);
    expect(f.lastProgressAt).toBeGreaterThanOrEqual(before);
    expect(f.silentFor(f.lastProgressAt + 700)).toBeCloseTo(700, 6);
  });
});
