import { describe, expect, it } from 'vitest';
import type { VirtualSocket } from '../index.js';
import { hashSink, sendBulk, within } from '../test/pair.js';
import { useProxiedPair } from '../test/proxied-pair.js';

// A throughput comparison (issue 12: "one slow channel: the socket is at least as fast as
// without it"): runs in the serial pass (`npm run test:serial`). Each round is a fresh pair
// over 3 clean channels, then a fresh pair over 4 channels with one throttled by the proxy
// to 2 MiB/s; the verdict is the median of the per-round ratios. Both include the start,
// where no rate is known yet: without late-channel detection the throttled channel holds
// up every window there, and the median falls to about 0.6 (1.2 with it, on the 2-core machine).

const proxied = useProxiedPair();

/** Seconds for `total` bytes over a fresh pair with `throughput` channels (channel 0 throttled if `slow`). */
async function timed(throughput: number, slow: boolean, total: number): Promise<number> {
  const { server, client, address, proxy } = await proxied({ channels: { throughput, latency: 0 } });
  const srv = await server.listen(80);
  const done = new Promise<{ hash: string; bytes: number }>((resolve, reject) => srv.once('connection', (s: VirtualSocket) => hashSink(s).then(resolve, reject)));
  const sock = await client.connect(address, 80);
  if (slow) proxy.throttle(0, 2 * 1024 * 1024);
  const t0 = performance.now();
  const sent = await sendBulk(sock, total);
  const got = await within(done, 60_000, 'transfer');
  expect(got.hash).toBe(sent);
  return (performance.now() - t0) / 1000;
}

describe('one slow channel, measured', () => {
  it('4 channels with one at 2 MiB/s are about as fast as 3 clean ones (median of per-round ratios >= 0.8)', async () => {
    const ROUNDS = 7;
    const total = 48 << 20;
    const ratios: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const clean = await timed(3, false, total);
      const withSlow = await timed(4, true, total);
      ratios.push(clean / withSlow); // throughput with the slow channel / without
    }
    const median = [...ratios].sort((a, b) => a - b)[ROUNDS >> 1]!;
    // 0.8, not 1.0: two transfers in a row differ by up to 2x on the 2-core machine; the
    // benchmark (bench/feedback.ts, tc-shaped) is where >= 1.0 is measured.
    expect(median, `per-round throughput with the slow channel / without: ${ratios.map((r) => r.toFixed(2)).join(', ')}`).toBeGreaterThanOrEqual(0.8);
  }, 120_000);
});
