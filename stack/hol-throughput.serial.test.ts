import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { VirtualSocket } from '../index.js';
import { acceptN, event, stackPair, until, type StackPair } from '../test/pair.js';

// A throughput comparison: runs in its own pass without parallel test files
// (`npm run test:serial`). Each round is a pair — alone, then beside a freshly stalled
// socket — and the verdict is the median of the per-pair ratios, so a machine whose
// speed drifts during the test (CPU throttling on shared hosts) cannot skew it.

let pair: StackPair | undefined;
afterEach(async () => {
  await pair?.close();
  pair = undefined;
});

describe('head-of-line isolation, measured', () => {
  it('a socket that never reads does not cost a socket on the same channels more than 10% of its throughput', async () => {
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
    for (let round = 0; round < 7; round++) {
      const alone = await transfer(64);
      const stalled = await pair.client.connect(pair.address, 81);
      stalled.on('error', () => {});
      for (let i = 0; i < 8; i++) stalled.write(block); // more than it will ever be granted
      // Steady state: the reader's window plus the bounded HoL expansion (2 × 2 MiB)
      // are full and its sender waits for credit for ever.
      await until(() => (accepted.at(-1)?.readableLength ?? 0) >= window + 4 * 1024 * 1024, 10_000, 'stalled socket settled');
      const beside = await transfer(64);
      stalled.destroy();
      ratios.push(beside / alone);
    }
    const median = [...ratios].sort((a, b) => a - b)[3]!;
    expect(median, `per-round throughput beside a stalled socket / alone: ${ratios.map((r) => r.toFixed(2)).join(', ')}`).toBeGreaterThanOrEqual(0.9);
  }, 120_000);
});
