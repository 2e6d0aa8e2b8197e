import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { VirtualSocket } from '../index.js';
import { acceptN, event, stackPair, until, type StackPair } from '../test/pair.js';

// A throughput comparison: runs in its own pass without parallel test files
// (`npm run test:serial`). Each round is alone, beside a freshly stalled socket, then
// alone again, and compares the middle transfer with the mean of the two around it;
// the verdict is the median over the rounds, so a machine whose speed drifts during
// the test (CPU throttling on shared hosts: on the 2-core CI machine two transfers in a
// row differ by up to 2×) cannot skew it.

let pair: StackPair | undefined;
afterEach(async () => {
  await pair?.close();
  pair = undefined;
});

describe('head-of-line isolation, measured', () => {
  it('a socket that never reads does not cost a socket on the same channels more than 20% of its throughput', async () => {
    const window = 1024 * 1024;
    pair = await stackPair('tcp', { window, channels: { throughput: 2, latency: 0 }, scheduler: { interval: 50 } });
    const server = await pair.server.listen(81);
    const accepted: VirtualSocket[] = [];
    server.on('connection', (s: VirtualSocket) => {
      s.on('error', () => {}); // stalled sockets are reset at the end of their round
      s.pause(); // never reads
      accepted.push(s);
    });
    const [busy] = await acceptN(pair, 80, 1);
    busy!.server.resume();
    const block = randomBytes(1 << 20);
    const transfer = async (mib: number): Promise<number> => {
      const before = busy!.server.bytesRead;
      const t0 = performance.now();
      for (let i = 0; i < mib; i++) if (!busy!.client.write(block)) await event(busy!.client, 'drain', 20_000);
      await until(() => busy!.server.bytesRead - before === mib << 20, 30_000, 'transfer done');
      return (mib << 20) / (performance.now() - t0);
    };
    await transfer(16); // warm-up
    const ratios: number[] = [];
    const ROUNDS = 21;
    for (let round = 0; round < ROUNDS; round++) {
      const before = await transfer(64);
      const stalled = await pair.client.connect(pair.address, 81);
      stalled.on('error', () => {});
      for (let i = 0; i < 8; i++) stalled.write(block); // more than it will ever be granted
      // Steady state: the reader's window plus the bounded HoL expansion (2 × 2 MiB)
      // are full and its sender waits for credit for ever.
      await until(() => (accepted.at(-1)?.readableLength ?? 0) >= window + 4 * 1024 * 1024, 10_000, 'stalled socket settled');
      const beside = await transfer(64);
      stalled.destroy();
      const after = await transfer(64);
      ratios.push(beside / ((before + after) / 2));
    }
    const median = [...ratios].sort((a, b) => a - b)[ROUNDS >> 1]!;
    // Measured on the 2-core machine (31 rounds, this build and the one before the
    // scheduler-feedback work alike): the median is 0.88–0.92, a real cost of about 10 %
    // whose cause is not profiled yet (tail-isolation work). The bound is 20 % so that
    // the test stays deterministic; a regression past it fails.
    expect(median, `per-round throughput beside a stalled socket / alone: ${ratios.map((r) => r.toFixed(2)).join(', ')}`).toBeGreaterThanOrEqual(0.8);
  }, 120_000);
});
