import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { Impairment } from '../../bench/lib/udp-impair-proxy.js';
import { frames, proxiedPair, take, type Cleanup } from '../../test/udp-pair.js';

let cleanup: Cleanup[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

const impairment = fc.oneof(
  { arbitrary: fc.constant<Impairment>('pass'), weight: 12 },
  { arbitrary: fc.constant<Impairment>('drop'), weight: 3 },
  { arbitrary: fc.constant<Impairment>('duplicate'), weight: 1 },
  { arbitrary: fc.constant<Impairment>('reorder'), weight: 2 },
  { arbitrary: fc.constant<Impairment>('delay'), weight: 1 },
);

describe('udp:// under random loss and reordering (fast-check)', () => {
  it('delivers every frame exactly once, in order, whatever the schedule', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(impairment, { minLength: 8, maxLength: 120 }).filter((s) => s.filter((x) => x === 'pass').length * 2 >= s.length),
        fc.array(fc.integer({ min: 0, max: 6000 }), { minLength: 1, maxLength: 120 }),
        fc.integer({ min: 0, max: 50 }),
        async (schedule, sizes, shift) => {
          const { a, b } = await proxiedPair(
            { datagramSize: 1400, rto: { min: 5, initial: 50 } },
            { schedule: (n, dir) => schedule[(n + (dir === 'down' ? shift : 0)) % schedule.length]!, spare: 1, delayMs: 3 },
            (c) => cleanup.push(c),
          );
          const sent = frames(sizes.length, (i) => sizes[i]!);
          const got = take(b, sent.length);
          a.enqueue(sent);
          const frames_ = await got;
          expect(frames_.map((f) => f.seq)).toEqual(sent.map((f) => f.seq));
          frames_.forEach((f, i) => expect(f.payload.equals(sent[i]!.payload), `frame ${i}`).toBe(true));
          // Exactly once: nothing more arrives once the sender has everything acknowledged.
          await new Promise((r) => setTimeout(r, 20));
          expect(b.dequeue()).toEqual([]);
          expect(b.framesReceived).toBe(sent.length);
          for (const c of cleanup.splice(0).reverse()) await c();
        },
      ),
      { numRuns: 40, seed: 20261201 },
    );
  }, 60_000);
});
