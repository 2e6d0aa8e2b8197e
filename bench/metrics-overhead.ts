/**
 * Metrics overhead: single-socket bulk throughput with metrics on (registry populated,
 * `/metrics` scraped every `--scrape-ms` on both sides) against metrics off, client and server
 * in separate processes, interleaved runs, medians.
 *   node dist/bench/metrics-overhead.js [--mib 512] [--runs 7] [--scrape-ms 100]
 * @packageDocumentation
 */
import http from 'node:http';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { createStack, type Stack, type VirtualSocket } from '../index.js';
import { ForkedChild } from './lib/child.js';
import { summarize } from './lib/stats.js';

const { values } = parseArgs({
  options: { role: { type: 'string' }, mib: { type: 'string', default: '512' }, runs: { type: 'string', default: '7' }, metrics: { type: 'string' }, address: { type: 'string' }, 'scrape-ms': { type: 'string', default: '100' } },
});
const SCRAPE_MS = Number(values['scrape-ms']);

/** Scrapes `url` every 100 ms until stopped; returns the stop function. */
function scrapeLoop(url: string): () => void {
  let on = true;
  const tick = (): void => {
    if (!on) return;
    http.get(url, (res) => res.resume().on('end', () => setTimeout(tick, SCRAPE_MS))).on('error', () => {});
  };
  tick();
  return () => (on = false);
}

async function stackFor(metrics: boolean, listen?: string): Promise<{ stack: Stack; stop: () => void }> {
  const stack = await createStack({ channels: { throughput: 4, latency: 1 }, metrics: { enabled: metrics }, ...(listen && { listen: [listen] }) });
  if (!metrics) return { stack, stop: () => {} };
  const server = await stack.serveMetrics({ port: 0 });
  return { stack, stop: scrapeLoop(server.url) };
}

if (values.role === 'server') {
  const { stack, stop } = await stackFor(values.metrics === 'on', 'tcp://127.0.0.1:0');
  (await stack.listen(80)).on('connection', (s: VirtualSocket) => {
    let n = 0;
    s.on('data', (d: Buffer) => (n += d.length)).on('end', () => s.end(String(n)));
  });
  process.send!({ type: 'ready', address: stack.addresses[0] });
  process.on('message', () => {
    stop();
    void stack.close().then(() => process.exit(0));
  });
} else if (values.role === 'client') {
  const { stack, stop } = await stackFor(values.metrics === 'on');
  const sock = await stack.connect(values.address!, 80);
  const total = Number(values.mib) << 20;
  const block = Buffer.alloc(1 << 20, 7);
  const t0 = performance.now();
  for (let sent = 0; sent < total; sent += block.length) if (!sock.write(block)) await new Promise((r) => sock.once('drain', r));
  sock.end();
  let reply = '';
  for await (const c of sock) reply += c;
  const seconds = (performance.now() - t0) / 1000;
  if (Number(reply) !== total) throw new Error(`server got ${reply} of ${total} bytes`);
  stop();
  await stack.close();
  process.send!({ type: 'done', mbps: total / seconds / 1e6 });
  process.exit(0);
} else {
  const self = fileURLToPath(import.meta.url);
  const runs = Number(values.runs);
  const results: Record<'on' | 'off', number[]> = { on: [], off: [] };
  const once = async (metrics: 'on' | 'off'): Promise<number> => {
    const server = new ForkedChild('server', self, ['--role', 'server', '--metrics', metrics, '--scrape-ms', String(SCRAPE_MS)]);
    const { address } = await server.expect<{ type: 'ready'; address: string }>('ready');
    const client = new ForkedChild('client', self, ['--role', 'client', '--metrics', metrics, '--address', address, '--mib', String(values.mib), '--scrape-ms', String(SCRAPE_MS)]);
    const { mbps } = await client.expect<{ type: 'done'; mbps: number }>('done');
    server.send({ type: 'exit' });
    await Promise.all([client.shutdown(), server.shutdown()]);
    return mbps;
  };
  await once('off'); // warm-up
  for (let i = 0; i < runs; i++) {
    for (const m of i % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) results[m].push(await once(m));
  }
  const on = summarize(results.on);
  const off = summarize(results.off);
  console.log(`metrics off: median ${off.median.toFixed(0)} MB/s [${off.min.toFixed(0)}–${off.max.toFixed(0)}]`);
  console.log(`metrics on (scraped every ${SCRAPE_MS} ms): median ${on.median.toFixed(0)} MB/s [${on.min.toFixed(0)}–${on.max.toFixed(0)}]`);
  console.log(`metrics: on/off throughput = ${(on.median / off.median).toFixed(3)} (goal >= 0.97)`);
}
