import { afterEach, describe, expect, it } from 'vitest';
import type { AppClass } from '../../netdriver/channel.js';
import { frames, proxiedPair as pairWith, take, type Cleanup } from '../../test/udp-pair.js';
import type { ImpairOptions, Impairment } from '../../bench/lib/udp-impair-proxy.js';
import { Sender } from './sender.js';
import { decodeDatagram, DatagramType, encodeDataHeader, encodeSyn, FLAG_COPY, FLAG_FIN, SYN_FLAG_LATENCY, udp, UDP_HEADER_SIZE, type UdpOptions } from './index.js';

let cleanup: Cleanup[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});
const proxiedPair = (o: UdpOptions, i: ImpairOptions, appClass: AppClass): ReturnType<typeof pairWith> => pairWith(o, i, (c) => cleanup.push(c), { appClass });

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
};

/** Drops the first transmission (no FLAG_COPY) of every upstream DATA datagram once; counts the drops. */
function dropFirstOriginals(): { schedule: ImpairOptions['schedule']; dropped: () => number } {
  const seen = new Set<number>();
  const schedule = (_n: number, dir: string, msg: Buffer): Impairment => {
    if (dir !== 'up' || msg[1] !== DatagramType.DATA || (msg[2]! & FLAG_COPY) !== 0) return 'pass';
    const seq = msg.readUInt32BE(12);
    if (seen.has(seq)) return 'pass';
    seen.add(seq);
    return 'drop';
  };
  return { schedule, dropped: () => seen.size };
}

describe('udp:// latency-class redundancy: wire', () => {
  it('carries FLAG_COPY on DATA and SYN_FLAG_LATENCY on SYN, and still rejects unknown flags', () => {
    const copy = decodeDatagram(Buffer.concat([encodeDataHeader(1, 2, 5, true, true), Buffer.from('x')]), 1400);
    expect(copy.flags).toBe(FLAG_FIN | FLAG_COPY);
    // A FIN copy without payload is valid; a bare copy without payload or FIN is not.
    expect(decodeDatagram(encodeDataHeader(1, 2, 5, true, true), 1400).flags).toBe(FLAG_FIN | FLAG_COPY);
    expect(code(() => decodeDatagram(encodeDataHeader(1, 2, 5, false, true), 1400))).toBe('NETCHANNEL_ERR_BAD_FRAME');
    expect(decodeDatagram(encodeSyn(DatagramType.SYN, 0, 7, 1400, 100, true), 1400).flags).toBe(SYN_FLAG_LATENCY);
    expect(decodeDatagram(encodeSyn(DatagramType.SYN_ACK, 7, 9, 1400, 100, true), 1400).flags).toBe(0);
    const mutate = (b: Buffer, flags: number): Buffer => {
      const c = Buffer.from(b);
      c[2] = flags;
      return c;
    };
    const data = Buffer.concat([encodeDataHeader(1, 2, 5, false), Buffer.from('x')]);
    expect(code(() => decodeDatagram(mutate(data, 0x04), 1400))).toBe('NETCHANNEL_ERR_BAD_FRAME');
    expect(code(() => decodeDatagram(mutate(encodeSyn(DatagramType.SYN, 0, 7, 1400, 100), 0x01), 1400))).toBe('NETCHANNEL_ERR_BAD_FRAME');
    expect(code(() => decodeDatagram(mutate(encodeSyn(DatagramType.SYN_ACK, 7, 9, 1400, 100), SYN_FLAG_LATENCY), 1400))).toBe('NETCHANNEL_ERR_BAD_FRAME');
  });

  it('validates the latency options with typed errors', () => {
    expect(code(() => udp({ latencyRedundancyBytes: -1 }))).toBe('NETCHANNEL_ERR_INVALID_ARG');
    expect(code(() => udp({ latencyRtoMin: 0 }))).toBe('NETCHANNEL_ERR_INVALID_ARG');
    expect(code(() => udp({ latencyRtoMin: 1.5 }))).toBe('NETCHANNEL_ERR_INVALID_ARG');
  });
});

describe('udp:// latency-class redundancy: sender', () => {
  const bounds = { min: 200, max: 5000, initial: 1000 };
  const make = (budget: number): { s: Sender; sent: { seq: number; copy: boolean }[] } => {
    const sent: { seq: number; copy: boolean }[] = [];
    const s = new Sender(1000, 1000, bounds, 1 << 16, (seq, _d, _f, copy) => sent.push({ seq, copy }), budget);
    return { s, sent };
  };

  it('queues one copy per datagram of a small flight, skips acknowledged ones and stops beyond the budget', () => {
    const { s, sent } = make(3000);
    s.write(Buffer.alloc(5000));
    s.pump(0);
    expect(sent.filter((x) => !x.copy).map((x) => x.seq)).toEqual([0, 1, 2, 3, 4]);
    expect(s.hasCopies).toBe(true);
    s.onAck(1, 1000, [], 0.1); // seq 0 acknowledged before its copy left
    expect(s.sendCopies()).toBe(2); // seq 1, 2: sent while ≤ 3,000 bytes were unacknowledged
    expect(sent.filter((x) => x.copy).map((x) => x.seq)).toEqual([1, 2]);
    expect(s.stats.copies).toBe(2);
    expect(s.hasCopies).toBe(false);
  });

  it('never copies without a budget (throughput class)', () => {
    const { s, sent } = make(0);
    s.write(Buffer.alloc(3000));
    s.pump(0);
    expect(s.hasCopies).toBe(false);
    expect(s.sendCopies()).toBe(0);
    expect(sent.every((x) => !x.copy)).toBe(true);
  });
});

describe('udp:// latency-class redundancy: through the proxy', () => {
  const options: UdpOptions = { datagramSize: 1400, rto: { min: 2000, initial: 2000 }, latencyRtoMin: 2000 };

  it('a latency channel recovers every lost first copy from its redundant copy, without an RTO', async () => {
    const drop = dropFirstOriginals();
    const { a, b } = await proxiedPair(options, { schedule: drop.schedule }, 'latency');
    expect(a.latency).toBe(true);
    expect(b.latency).toBe(true); // the acceptor learned the class from the SYN flag
    // Ten 4 KB messages, one at a time (three datagrams each at 1,400-byte datagrams).
    for (let i = 0; i < 10; i++) {
      a.enqueue(frames(1, () => 4096));
      const [f] = await take(b, 1);
      expect(f!.payload.length).toBe(4096);
    }
    const sa = a.transportStats();
    const sb = b.transportStats();
    expect(drop.dropped()).toBeGreaterThanOrEqual(30);
    expect(sb['redundant_used_total']).toBe(drop.dropped()); // each lost original was replaced by its copy
    expect(sa['redundant_sent_total']).toBeGreaterThanOrEqual(drop.dropped());
    expect(sa['rto_expirations_total']).toBe(0);
    expect(sb['dropped_duplicate_total']).toBe(sa['retransmits_total']); // only (spurious) probes arrive twice
  });

  it('a throughput channel sends no copies: the same losses are repaired by retransmission', async () => {
    const drop = dropFirstOriginals();
    const { a, b } = await proxiedPair({ ...options, rto: { min: 200, initial: 1000 } }, { schedule: drop.schedule }, 'throughput');
    expect(b.latency).toBe(false);
    for (let i = 0; i < 3; i++) {
      a.enqueue(frames(1, () => 4096));
      await take(b, 1);
    }
    const sa = a.transportStats();
    expect(sa['redundant_sent_total']).toBe(0);
    expect(b.transportStats()['redundant_used_total']).toBe(0);
    expect(sa['retransmits_total']).toBeGreaterThanOrEqual(drop.dropped());
  });

  it('a latency channel copies only while its flight is small (budget in bytes)', async () => {
    const { a, b } = await proxiedPair({ datagramSize: 1400, latencyRedundancyBytes: 8192 }, {}, 'latency');
    a.enqueue(frames(64, () => 16_384)); // 1 MiB in one go
    await take(b, 64);
    const sa = a.transportStats();
    expect(sa['redundant_sent_total']).toBeGreaterThan(0); // the first datagrams of the flight
    expect(sa['redundant_sent_total']).toBeLessThan((sa['datagrams_sent_total'] ?? 0) / 10);
  });
});
