import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { acceptN, event, stackPair, until, type StackPair } from '../test/pair.js';

// A throughput comparison: runs in its own pass without parallel test files
// (`npm run test:serial`), so other tests cannot distort it.

let pair: StackPair | undefined;
afterEach(async () => {
  await pair?.close();
  pair = undefined;
});



describe('head-of-line isolation, measured', () => {
  it('a socket that never reads does not cost a socket on the same channels more than 10% of its throughput', async () => {
    pair = await stackPair('tcp', { channels: { throughput: 2, latency: 0 }, scheduler: { interval: 50 } });
    const [stalled, busy] = await acceptN(pair, 80, 2);
    busy!.server.resume();
    const block = randomBytes(1 << 20);
    const transfer = async (mib: number): Promise<number> => {
      const before = busy!.server.bytesRead;
      const t0 = performance.now();
      for (let i = 0; i < mib; i++) if (!busy!.client.write(block)) await event(busy!.client, 'drain', 20_000);
      await until(() => busy!.server.bytesRead - before === mib << 20, 30_000, 'transfer done');
      return (mib << 20) / (performance.now() - t0);
    };
    await transfer(32); // warm-up
    const alone: number[] = [];
    const loaded: number[] = [];
    for (let round = 0; round < 5; round++) {
      alone.push(await transfer(64));
      if (round === 0) {
        stalled!.server.pause();
        for (let i = 0; i < 32; i++) stalled!.client.write(block); // fills its window, then waits for ever
      }
      loaded.push(await transfer(64));
    }
    // Best of 5 interleaved rounds: robust to transient interference from other processes.
    const ratio = Math.max(...loaded) / Math.max(...alone);
    expect(stalled!.server.readableLength).toBeGreaterThan(0);
    expect(ratio, `throughput loaded/alone = ${ratio.toFixed(3)}`).toBeGreaterThanOrEqual(0.9);
    stalled!.server.on('error', () => {}); // the reset below reaches it
    stalled!.client.destroy();
  }, 120_000);

});
