import { describe, expect, it } from 'vitest';
import { createStack } from '../../index.js';
import { RttEstimator } from './congestion.js';
import { Receiver } from './receiver.js';
import { decodeDatagram, DatagramType, encodeAck, encodeDataHeader, encodePing, encodeRst, encodeSyn, udp } from './index.js';

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(Error);
    return (err as { code?: string }).code;
  }
  return undefined;
};

describe('udp datagram codec', () => {
  it('round-trips every datagram type', () => {
    expect(decodeDatagram(encodeSyn(DatagramType.SYN, 0, 7, 1400, 100), 1400)).toMatchObject({ type: DatagramType.SYN, dstCid: 0, srcCid: 7, datagramSize: 1400, window: 100 });
    expect(decodeDatagram(encodeSyn(DatagramType.SYN_ACK, 7, 9, 65000, 64), 65000)).toMatchObject({ type: DatagramType.SYN_ACK, dstCid: 7, srcCid: 9 });
    const data = decodeDatagram(Buffer.concat([encodeDataHeader(1, 2, 42, true), Buffer.from('hello')]), 1400);
    expect(data).toMatchObject({ type: DatagramType.DATA, seq: 42, flags: 1 });
    expect(data.payload.toString()).toBe('hello');
    expect(decodeDatagram(encodeAck(1, 2, 10, 50, [12, 14, 20, 21]), 1400)).toMatchObject({ cum: 10, window: 50, sack: [12, 14, 20, 21] });
    expect(decodeDatagram(encodePing(1, 2), 1400).type).toBe(DatagramType.PING);
    expect(decodeDatagram(encodeRst(1, 2, 1), 1400).reason).toBe(1);
  });

  it('rejects malformed datagrams with typed errors', () => {
    const ok = encodeAck(1, 2, 10, 50, [12, 14]);
    const mutate = (at: number, v: number, b: Buffer = ok): Buffer => {
      const c = Buffer.from(b);
      c[at] = v;
      return c;
    };
    const BAD = 'NETCHANNEL_ERR_BAD_FRAME';
    expect(code(() => decodeDatagram(Buffer.alloc(15), 1400))).toBe(BAD);
    expect(code(() => decodeDatagram(mutate(0, 2), 1400))).toBe(BAD); // version
    expect(code(() => decodeDatagram(mutate(1, 9), 1400))).toBe(BAD); // type
    expect(code(() => decodeDatagram(mutate(2, 1), 1400))).toBe(BAD); // FIN flag on an ACK
    expect(code(() => decodeDatagram(mutate(3, 1), 1400))).toBe(BAD); // reserved
    expect(code(() => decodeDatagram(mutate(10, 0, encodePing(1, 0x100)), 1400))).toBe(BAD); // src cid 0
    expect(code(() => decodeDatagram(mutate(7, 0, encodePing(1, 2)), 1400))).toBe(BAD); // dst cid 0 outside SYN
    expect(code(() => decodeDatagram(ok.subarray(0, ok.length - 1), 1400))).toBe(BAD); // truncated range
    expect(code(() => decodeDatagram(encodeAck(1, 2, 10, 50, [14, 12]), 1400))).toBe(BAD); // empty range
    expect(code(() => decodeDatagram(encodeAck(1, 2, 10, 50, [10, 12]), 1400))).toBe(BAD); // range not above cum
    expect(code(() => decodeDatagram(encodeDataHeader(1, 2, 0, false), 1400))).toBe(BAD); // DATA without bytes or FIN
    expect(code(() => decodeDatagram(encodeSyn(DatagramType.SYN, 0, 7, 100, 100), 1400))).toBe(BAD); // datagram size
    expect(code(() => decodeDatagram(encodeRst(1, 2, 77), 1400))).toBe(BAD);
    expect(code(() => decodeDatagram(Buffer.alloc(1401, 1), 1400))).toBe('NETCHANNEL_ERR_FRAME_TOO_LARGE');
  });
});

describe('udp reliability parts', () => {
  it('RFC 6298: srtt, rttvar, RTO = srtt + 4·rttvar clamped, backoff reset by a sample', () => {
    const r = new RttEstimator({ min: 10, max: 1000, initial: 500 });
    expect(r.rto).toBe(500);
    r.sample(100);
    expect([r.srtt, r.rttvar, r.rto]).toEqual([100, 50, 300]);
    r.sample(20);
    expect(r.rttvar).toBeCloseTo(0.75 * 50 + 0.25 * 80);
    expect(r.srtt).toBeCloseTo(0.875 * 100 + 0.125 * 20);
    const base = r.rto;
    r.expire();
    r.expire();
    expect(r.rto).toBeCloseTo(Math.min(1000, base * 4));
    for (let i = 0; i < 10; i++) r.expire();
    expect(r.rto).toBe(1000);
    r.sample(1);
    expect(r.rto).toBeCloseTo(r.srtt + 4 * r.rttvar); // backoff reset
    expect(r.rto).toBeLessThan(1000);
  });

  it('the receiver suppresses duplicates, bounds its window and holds back delivery while paused', () => {
    const got: string[] = [];
    const rx = new Receiver(4, (d) => got.push(d.toString()));
    expect(rx.accept(1, Buffer.from('b'), false)).toBe('ok');
    expect(rx.accept(1, Buffer.from('b'), false)).toBe('duplicate');
    expect(rx.accept(4, Buffer.from('e'), false)).toBe('window');
    expect(rx.sack).toEqual([1, 2]);
    expect(rx.accept(0, Buffer.from('a'), false)).toBe('ok');
    expect(got).toEqual(['a', 'b']);
    expect(rx.accept(0, Buffer.from('a'), false)).toBe('duplicate');
    rx.pause();
    expect(rx.accept(2, Buffer.from('c'), false)).toBe('ok');
    expect(rx.edge).toBe(6);
    expect(got).toEqual(['a', 'b']);
    expect(rx.resume()).toBe(true);
    expect(got).toEqual(['a', 'b', 'c']);
    expect(rx.edge).toBe(7);
  });
});

describe('udp is opt-in', () => {
  it('a default stack has no udp driver; createStack({ transports: [udp()] }) has one', async () => {
    const plain = await createStack({ channels: { throughput: 1, latency: 0 } });
    await expect(plain.connect('udp://127.0.0.1:9', 80)).rejects.toMatchObject({ code: 'NETCHANNEL_ERR_UNKNOWN_SCHEME' });
    await plain.close();
    const s = await createStack({ transports: [udp()], listen: ['udp://127.0.0.1:0'] });
    expect(s.addresses[0]).toMatch(/^udp:\/\/127\.0\.0\.1:\d+$/);
    await s.close();
  });

  it('validates its options with typed errors', () => {
    expect(code(() => udp({ datagramSize: 100 }))).toBe('NETCHANNEL_ERR_INVALID_ARG');
    expect(code(() => udp({ keepaliveInterval: 500, keepaliveTimeout: 400 }))).toBe('NETCHANNEL_ERR_INVALID_ARG');
    expect(code(() => udp({ rto: { min: 100, max: 50 } }))).toBe('NETCHANNEL_ERR_INVALID_ARG');
  });
});
