import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReorderBuffer, SEGMENT_OVERHEAD } from './reorder-buffer.js';
import { seqAdd, seqDiff } from './seq.js';

const WRAP = 2 ** 32;

function bytes(n: number, salt = 0): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 13 + salt) & 0xff;
  return b;
}

/** Drains every in-order segment from `next`; returns the bytes and the new `next`. */
function drain(rb: ReorderBuffer, next: number): { data: Buffer; next: number } {
  const parts: Buffer[] = [];
  let seg: Buffer | undefined;
  while ((seg = rb.take(next)) !== undefined) {
    parts.push(seg);
    next = seqAdd(next, seg.length);
  }
  return { data: Buffer.concat(parts), next };
}

/**
 * The receive path of a virtual socket (vns/virtual-socket.ts onData) around the buffer:
 * duplicates of delivered bytes are dropped, a segment overlapping `next` is trimmed and
 * delivered, later ones are held, and the buffer is drained after every delivery.
 */
class Receiver {
  readonly rb = new ReorderBuffer();
  readonly out: Buffer[] = [];
  maxHeldBytes = 0;

  constructor(
    public next: number,
    /** Deduplicate after every insert (as the socket does once the held bytes pass the window). */
    private readonly dedupe = false,
  ) {}

  onData(seq: number, payload: Buffer): void {
    let off = seqDiff(seq, this.next);
    if (off < 0) {
      if (off + payload.length <= 0) return;
      payload = payload.subarray(-off);
      off = 0;
    }
    if (off > 0) {
      this.rb.insert(seq, payload);
      if (this.dedupe) this.rb.dedupe(this.next);
      this.maxHeldBytes = Math.max(this.maxHeldBytes, this.rb.bytes);
      return;
    }
    this.deliver(payload);
    const rest = drain(this.rb, this.next);
    if (rest.data.length > 0) this.deliver(rest.data);
  }

  private deliver(buf: Buffer): void {
    this.out.push(buf);
    this.next = seqAdd(this.next, buf.length);
  }
}

describe('seq arithmetic', () => {
  it('seqAdd wraps modulo 2^32 and stays unsigned', () => {
    expect(seqAdd(0xfffffff0, 0x10)).toBe(0);
    expect(seqAdd(0xffffffff, 1)).toBe(0);
    expect(seqAdd(0xfffffff0, 0x20)).toBe(0x10);
    expect(seqAdd(5, -10)).toBe(0xfffffffb);
    expect(seqAdd(1, 2)).toBe(3);
  });

  it('seqDiff is the signed distance modulo 2^32', () => {
    expect(seqDiff(0x10, 0xfffffff0)).toBe(0x20);
    expect(seqDiff(0xfffffff0, 0x10)).toBe(-0x20);
    expect(seqDiff(7, 7)).toBe(0);
    expect(seqDiff(0, 0x7fffffff)).toBe(-0x7fffffff);
    expect(seqDiff(0x80000000, 0)).toBe(-(2 ** 31));
  });

  it('seqDiff(seqAdd(a, n), a) === n for |n| < 2^31 (property)', () => {
    fc.assert(
      fc.property(fc.nat({ max: WRAP - 1 }), fc.integer({ min: -(2 ** 31) + 1, max: 2 ** 31 - 1 }), (a, n) => {
        const b = seqAdd(a, n);
        expect(b).toBeGreaterThanOrEqual(0);
        expect(b).toBeLessThan(WRAP);
        expect(seqDiff(b, a)).toBe(n);
      }),
      { numRuns: 200 },
    );
  });
});

describe('ReorderBuffer', () => {
  it('starts empty', () => {
    const rb = new ReorderBuffer();
    expect(rb.size).toBe(0);
    expect(rb.bytes).toBe(0);
    expect(rb.take(0)).toBeUndefined();
    expect(rb.end(123)).toBe(123);
  });

  it('takes segments inserted in order', () => {
    const rb = new ReorderBuffer();
    rb.insert(0, bytes(10, 1));
    rb.insert(10, bytes(5, 2));
    expect(rb.take(0)).toEqual(bytes(10, 1));
    expect(rb.take(10)).toEqual(bytes(5, 2));
    expect(rb.take(15)).toBeUndefined();
    expect(rb.size).toBe(0);
    expect(rb.bytes).toBe(0);
  });

  it('holds out-of-order segments until the gap fills, then yields them in sequence', () => {
    const rb = new ReorderBuffer();
    const a = bytes(100, 1);
    const b = bytes(50, 2);
    const c = bytes(25, 3);
    rb.insert(150, c);
    rb.insert(100, b);
    expect(rb.take(0)).toBeUndefined(); // gap [0, 100)
    expect(rb.end(0)).toBe(175);
    rb.insert(0, a);
    const { data, next } = drain(rb, 0);
    expect(next).toBe(175);
    expect(data).toEqual(Buffer.concat([a, b, c]));
    expect(rb.size).toBe(0);
  });

  it('ignores empty segments and duplicates at the same offset (the first one is kept)', () => {
    const rb = new ReorderBuffer();
    rb.insert(10, Buffer.alloc(0));
    expect(rb.size).toBe(0);
    const first = bytes(10, 1);
    rb.insert(10, first);
    rb.insert(10, bytes(10, 1));
    rb.insert(10, bytes(10, 1));
    expect(rb.size).toBe(1);
    expect(rb.bytes).toBe(10);
    expect(rb.take(10)).toBe(first);
    expect(rb.take(10)).toBeUndefined();
    expect(rb.bytes).toBe(0);
  });

  it('keeps the longer of two segments at the same offset (a retransmission cut differently)', () => {
    const rb = new ReorderBuffer();
    const all = bytes(30, 7);
    rb.insert(100, all.subarray(0, 10));
    rb.insert(100, all); // covers more: must not be dropped
    rb.insert(100, all.subarray(0, 5)); // covers less: dropped
    expect(rb.size).toBe(1);
    expect(rb.bytes).toBe(30);
    expect(drain(rb, 100)).toEqual({ data: all, next: 130 });
    expect(rb.bytes).toBe(0);
  });

  it('dedupe() trims overlapping copies cut at other offsets and drops covered ones, so each byte counts once', () => {
    const rb = new ReorderBuffer();
    const all = bytes(50, 3);
    rb.insert(10, all.subarray(10, 30));
    rb.insert(15, all.subarray(15, 40)); // overlaps [15, 30)
    rb.insert(20, all.subarray(20, 25)); // inside the first
    rb.insert(45, all.subarray(45, 50)); // apart
    expect(rb.bytes).toBe(20 + 25 + 5 + 5);
    rb.dedupe(0);
    expect(rb.bytes).toBe(30 + 5); // [10, 40) and [45, 50)
    expect(rb.size).toBe(3);
    rb.insert(40, all.subarray(40, 45));
    rb.insert(0, all.subarray(0, 10));
    expect(drain(rb, 0)).toEqual({ data: all, next: 50 });
    expect(rb.bytes).toBe(0);
  });

  it('dedupe() also drops segments entirely behind next, across the 2^32 wrap', () => {
    const rb = new ReorderBuffer();
    const all = bytes(30, 9);
    const start = WRAP - 10;
    rb.insert(seqAdd(start, 0), all.subarray(0, 10)); // already delivered below
    rb.insert(seqAdd(start, 5), all.subarray(5, 30)); // straddles next and the wrap
    rb.dedupe(seqAdd(start, 10));
    expect(rb.bytes).toBe(20);
    expect(drain(rb, seqAdd(start, 10))).toEqual({ data: all.subarray(10, 30), next: seqAdd(start, 30) });
  });

  it('trims a retransmission that overlaps bytes already delivered', () => {
    const rb = new ReorderBuffer();
    const all = bytes(40, 5);
    // Held: [10, 30) as one segment, while [0, 20) is delivered by other means.
    rb.insert(10, all.subarray(10, 30));
    const tail = rb.take(20);
    expect(tail).toEqual(all.subarray(20, 30));
    expect(rb.size).toBe(0);
    expect(rb.bytes).toBe(0);
  });

  it('drops stale segments entirely behind next while looking for the overlapping one', () => {
    const rb = new ReorderBuffer();
    const all = bytes(100, 9);
    rb.insert(0, all.subarray(0, 10)); // stale: ends at 10
    rb.insert(5, all.subarray(5, 20)); // stale: ends at 20 == next
    rb.insert(15, all.subarray(15, 40)); // overlaps next
    rb.insert(60, all.subarray(60, 70)); // ahead: stays
    expect(rb.bytes).toBe(10 + 15 + 25 + 10);
    expect(rb.take(20)).toEqual(all.subarray(20, 40));
    expect(rb.size).toBe(1);
    expect(rb.bytes).toBe(10);
    expect(rb.take(40)).toBeUndefined();
    expect(rb.size).toBe(1);
    expect(rb.take(60)).toEqual(all.subarray(60, 70));
  });

  it('returns a zero-copy slice of the held segment when trimming', () => {
    const rb = new ReorderBuffer();
    const seg = bytes(20, 3);
    rb.insert(0, seg);
    const t = rb.take(8)!;
    expect(t.buffer).toBe(seg.buffer);
    expect(t.byteOffset).toBe(seg.byteOffset + 8);
    expect(t.length).toBe(12);
  });

  it('accounts held bytes and segments exactly', () => {
    const rb = new ReorderBuffer();
    rb.insert(100, bytes(10));
    rb.insert(200, bytes(20));
    rb.insert(300, bytes(30));
    expect(rb.size).toBe(3);
    expect(rb.bytes).toBe(60);
    expect(rb.end(0)).toBe(330);
    expect(rb.end(400)).toBe(400); // nothing beyond next
    rb.take(200);
    expect(rb.size).toBe(2);
    expect(rb.bytes).toBe(40);
    rb.take(305); // trims the [300, 330) segment: all of it leaves the buffer
    expect(rb.size).toBe(0); // [100, 110) was stale and dropped during the scan
    expect(rb.bytes).toBe(0);
    rb.insert(1000, bytes(7));
    rb.clear();
    expect(rb.size).toBe(0);
    expect(rb.bytes).toBe(0);
    expect(rb.take(1000)).toBeUndefined();
  });

  it('works across the 2^32 wrap-around', () => {
    const rb = new ReorderBuffer();
    const all = bytes(64, 11);
    const base = 0xfffffff0;
    // Segments [base, base+8), [base+8, base+16) = [.., 0), [0, 16), [16, 48): inserted backwards.
    const cuts = [0, 8, 16, 32, 64];
    for (let i = cuts.length - 2; i >= 0; i--) rb.insert(seqAdd(base, cuts[i]!), all.subarray(cuts[i]!, cuts[i + 1]!));
    expect(rb.end(base)).toBe(seqAdd(base, 64));
    expect(rb.end(base)).toBe(0x30);
    expect(rb.bytes).toBe(64);
    const { data, next } = drain(rb, base);
    expect(data).toEqual(all);
    expect(next).toBe(0x30);
  });

  it('trims an overlapping segment that straddles the wrap point', () => {
    const rb = new ReorderBuffer();
    const all = bytes(32, 4);
    rb.insert(0xfffffff8, all); // covers [0xfffffff8, 0x18)
    rb.insert(0x100, bytes(4)); // far ahead: kept
    expect(rb.take(4)).toEqual(all.subarray(12));
    expect(rb.size).toBe(1);
    expect(rb.end(0x18)).toBe(0x104);
    // A stale segment just below the wrap point is dropped when looking past it.
    rb.insert(0xfffffffc, bytes(4));
    expect(rb.take(0x10)).toBeUndefined();
    expect(rb.size).toBe(1);
  });

  it('reproduces any permutation of a segmented stream with duplicates (property)', () => {
    const arb = fc
      .record({
        start: fc.oneof(fc.constant(0), fc.constant(0xfffffff0), fc.integer({ min: WRAP - 5000, max: WRAP - 1 }), fc.nat({ max: WRAP - 1 })),
        sizes: fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 30 }),
        salt: fc.nat({ max: 255 }),
      })
      .chain(({ start, sizes, salt }) => {
        const segs: Array<{ off: number; len: number }> = [];
        let off = 0;
        for (const len of sizes) {
          segs.push({ off, len });
          off += len;
        }
        const indices = segs.map((_, i) => i);
        return fc.record({
          start: fc.constant(start),
          salt: fc.constant(salt),
          total: fc.constant(off),
          segs: fc.constant(segs),
          order: fc.shuffledSubarray([...indices, ...indices, ...indices], { minLength: segs.length, maxLength: 3 * segs.length }),
        });
      });
    fc.assert(
      fc.property(arb, ({ start, salt, total, segs, order }) => {
        const data = bytes(total, salt);
        // Every segment arrives at least once; `order` adds duplicates in random positions.
        const seen = new Set(order);
        const arrivals = [...order, ...segs.map((_, i) => i).filter((i) => !seen.has(i))];
        const rx = new Receiver(start);
        for (const i of arrivals) {
          const s = segs[i]!;
          rx.onData(seqAdd(start, s.off), data.subarray(s.off, s.off + s.len));
        }
        expect(Buffer.concat(rx.out)).toEqual(data);
        expect(rx.next).toBe(seqAdd(start, total));
        expect(rx.rb.size).toBe(0);
        expect(rx.rb.bytes).toBe(0);
        expect(rx.maxHeldBytes).toBeLessThanOrEqual(total);
      }),
      { numRuns: 200 },
    );
  });

  it('reproduces the stream when everything is inserted first and drained at the end (property)', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: WRAP - 1 }),
        fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 25 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        fc.infiniteStream(fc.nat()),
        (start, sizes, dupPicks, shuffle) => {
          const total = sizes.reduce((a, b) => a + b, 0);
          const data = bytes(total, sizes.length);
          const segs: Array<[number, Buffer]> = [];
          let off = 0;
          for (const len of sizes) {
            segs.push([seqAdd(start, off), data.subarray(off, off + len)]);
            off += len;
          }
          for (const p of dupPicks) segs.push(segs[p % sizes.length]!);
          const it = shuffle[Symbol.iterator]();
          for (let i = segs.length - 1; i > 0; i--) {
            const j = (it.next().value as number) % (i + 1);
            [segs[i], segs[j]] = [segs[j]!, segs[i]!];
          }
          const rb = new ReorderBuffer();
          for (const [seq, payload] of segs) rb.insert(seq, payload);
          expect(rb.bytes).toBe(total);
          expect(rb.size).toBe(sizes.length);
          expect(rb.end(start)).toBe(seqAdd(start, total));
          const out = drain(rb, start);
          expect(out.data).toEqual(data);
          expect(out.next).toBe(seqAdd(start, total));
          expect(rb.bytes).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('reproduces the stream when retransmissions are cut differently (property)', () => {
    // Besides the original segmentation, extra segments cover random byte ranges of the stream
    // (as a sender re-segmenting a retransmission would); all arrive in random order.
    fc.assert(
      fc.property(
        fc.integer({ min: WRAP - 3000, max: WRAP + 3000 }).map((n) => n >>> 0),
        fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 20 }),
        fc.array(fc.tuple(fc.boolean(), fc.nat(), fc.integer({ min: 1, max: 400 })), { maxLength: 20 }),
        fc.infiniteStream(fc.nat()),
        (start, sizes, extras, shuffle) => {
          const total = sizes.reduce((a, b) => a + b, 0);
          const data = bytes(total, 77);
          const segs: Array<{ off: number; len: number }> = [];
          let off = 0;
          for (const len of sizes) {
            segs.push({ off, len });
            off += len;
          }
          const originals = segs.length;
          for (const [aligned, at, len] of extras) {
            // Half of them start where an original segment starts (same seq, other length).
            const o = aligned ? segs[at % originals]!.off : at % total;
            segs.push({ off: o, len: Math.min(len, total - o) });
          }
          const it = shuffle[Symbol.iterator]();
          for (let i = segs.length - 1; i > 0; i--) {
            const j = (it.next().value as number) % (i + 1);
            [segs[i], segs[j]] = [segs[j]!, segs[i]!];
          }
          for (const dedupe of [false, true]) {
            const rx = new Receiver(start, dedupe);
            for (const s of segs) rx.onData(seqAdd(start, s.off), data.subarray(s.off, s.off + s.len));
            expect(Buffer.concat(rx.out)).toEqual(data);
            expect(rx.next).toBe(seqAdd(start, total));
            // Deduplicated, the buffer never holds a byte twice: at most the stream.
            if (dedupe) expect(rx.maxHeldBytes).toBeLessThanOrEqual(total);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('ReorderBuffer memory accounting', () => {
  it('copies a small held slice of a large buffer; charges a larger one at least half its buffer, plus the overhead', () => {
    const rb = new ReorderBuffer();
    const read = Buffer.alloc(64 * 1024, 5); // a transport read buffer
    rb.insert(100, read.subarray(10, 11)); // one byte of it: copied
    rb.insert(200, read.subarray(0, 40 * 1024)); // most of it: kept, charged its bytes
    rb.insert(50_000, read.subarray(0, 8 * 1024)); // an eighth: kept, charged half the buffer
    expect(rb.bytes).toBe(1 + 40 * 1024 + 8 * 1024);
    expect(rb.cost).toBe(1 + 40 * 1024 + 32 * 1024 + 3 * SEGMENT_OVERHEAD);
    const tiny = rb.take(100)!;
    expect(tiny.buffer).not.toBe(read.buffer);
    expect(tiny.buffer.byteLength).toBe(1);
    expect(tiny[0]).toBe(5);
    expect(rb.cost).toBe(40 * 1024 + 32 * 1024 + 2 * SEGMENT_OVERHEAD);
    expect(rb.take(200)!.buffer).toBe(read.buffer);
    rb.dedupe(50_000);
    expect(rb.cost).toBe(32 * 1024 + SEGMENT_OVERHEAD);
    rb.clear();
    expect(rb.cost).toBe(0);
  });

  it('cost is at least bytes plus the overhead, and returns to 0 when everything is taken (property)', () => {
    const read = Buffer.alloc(64 * 1024, 1);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 60_000 }), fc.integer({ min: 0, max: 4000 }), fc.integer({ min: 1, max: 5000 })), { maxLength: 40 }), (ops) => {
        const rb = new ReorderBuffer();
        let next = 0;
        for (const [seq, start, len] of ops) {
          rb.insert(seq, read.subarray(start, start + len));
          if (seq % 7 === 0) next = drain(rb, next).next;
          if (seq % 11 === 0) rb.dedupe(next);
        }
        expect(rb.cost).toBeGreaterThanOrEqual(rb.bytes + rb.size * SEGMENT_OVERHEAD);
        for (let s = 0; s < 200_000 && rb.size > 0; s++) {
          const seg = rb.take(next);
          next = seqAdd(next, seg === undefined ? 1 : seg.length);
        }
        expect([rb.size, rb.bytes, rb.cost]).toEqual([0, 0, 0]);
      }),
    );
  });
});
