/**
 * Soak test (not run in CI): two stacks through a TCP proxy that cuts channels, with
 * bulk transfers, 4 KB RPC, socket churn and channel kills at once, for a bounded time.
 *   node --expose-gc dist/bench/soak.js [--minutes 10] [--kill-every 2000]
 * Every segment of work is verified (SHA-256 of bulk data, echo equality); it prints a
 * line every 10 s and exits non-zero on any error or when memory keeps growing.
 * @packageDocumentation
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { createStack, type VirtualSocket } from '../index.js';
import { parseHostPort } from '../netdriver/address.js';
import { cutProxy } from '../test/cut-proxy.js';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '10' }, 'kill-every': { type: 'string', default: '2000' } } });
const deadline = Date.now() + Math.min(10, Number(values.minutes)) * 60_000;
const opts = { channels: { throughput: 4, latency: 1 }, redialBackoff: { initial: 10, max: 200 }, peerTimeout: 30_000 };
const server = await createStack({ ...opts, listen: ['tcp://127.0.0.1:0'] });
const proxy = await cutProxy(parseHostPort(server.addresses[0]!, 'tcp', false).port);
const client = await createStack(opts);

// Services: 80 = sink replying with SHA-256; 7 = echo (latency); 9 = echo (churn).
(await server.listen(80)).on('connection', (s: VirtualSocket) => {
  const h = createHash('sha256');
  s.on('data', (d: Buffer) => h.update(d)).on('end', () => s.end(h.digest('hex')));
});
(await server.listen(7, { appClass: 'latency' })).on('connection', (s: VirtualSocket) => s.pipe(s));
(await server.listen(9)).on('connection', (s: VirtualSocket) => s.pipe(s));

const stats = { bulkBytes: 0, rpcs: 0, churned: 0, kills: 0, errors: 0 };
const fail = (what: string, err?: unknown): void => {
  stats.errors++;
  if (stats.errors <= 10) console.error(`ERROR ${what}`, err ?? '');
};
const running = (): boolean => Date.now() < deadline;

async function readAll(s: VirtualSocket): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function bulk(): Promise<void> {
  const block = randomBytes(1 << 20);
  while (running()) {
    const s = await client.connect(proxy.address, 80);
    const h = createHash('sha256');
    for (let i = 0; i < 64; i++) {
      block.writeUInt32BE(stats.bulkBytes >>> 0, 0);
      h.update(block);
      if (!s.write(Buffer.from(block))) await once(s, 'drain');
      stats.bulkBytes += block.length;
    }
    s.end();
    const reply = (await readAll(s)).toString();
    if (reply !== h.digest('hex')) fail('bulk SHA-256 mismatch');
  }
}

async function rpc(): Promise<void> {
  const s = await client.connect(proxy.address, 7, { appClass: 'latency' });
  while (running()) {
    const msg = randomBytes(4096);
    const got: Buffer[] = [];
    let n = 0;
    await new Promise<void>((resolve) => {
      const onData = (d: Buffer): void => {
        got.push(d);
        n += d.length;
        if (n >= msg.length) {
          s.off('data', onData);
          resolve();
        }
      };
      s.on('data', onData);
      s.write(msg);
    });
    if (!Buffer.concat(got).equals(msg)) fail('rpc echo mismatch');
    stats.rpcs++;
  }
  s.end();
}

async function churn(): Promise<void> {
  while (running()) {
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        const s = await client.connect(proxy.address, 9);
        const data = randomBytes(1 + Math.floor(Math.random() * 8192));
        const echoed = readAll(s);
        s.end(data);
        if (!(await echoed).equals(data)) fail('churn echo mismatch');
        stats.churned++;
      }),
    );
  }
}

const killer = setInterval(() => (stats.kills += proxy.cut(1)), Number(values['kill-every']));
const heap = (): number => {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed / 2 ** 20;
};
const heaps: number[] = [];
const t0 = Date.now();
const reporter = setInterval(() => {
  const h = heap();
  heaps.push(h);
  const rss = process.memoryUsage().rss / 2 ** 20;
  console.log(
    `${((Date.now() - t0) / 1000).toFixed(0)} s: bulk ${(stats.bulkBytes / 2 ** 30).toFixed(2)} GiB, rpc ${stats.rpcs}, churned sockets ${stats.churned}, channel kills ${stats.kills}, errors ${stats.errors}, heap ${h.toFixed(1)} MiB, rss ${rss.toFixed(0)} MiB`,
  );
}, 10_000);

await Promise.all([bulk(), rpc(), churn()].map((p) => p.catch((e) => fail('worker crashed', e))));
clearInterval(killer);
clearInterval(reporter);
await client.close();
await server.close();
await proxy.shutdown();
// Memory is flat when the last third of the samples is not above the first third by more than 20%.
const third = Math.max(1, Math.floor(heaps.length / 3));
const avg = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const early = avg(heaps.slice(0, third));
const late = avg(heaps.slice(-third));
const flat = heaps.length < 3 || late <= early * 1.2;
console.log(
  `soak: ${((Date.now() - t0) / 1000).toFixed(0)} s, bulk ${(stats.bulkBytes / 2 ** 30).toFixed(2)} GiB, rpc ${stats.rpcs}, churned ${stats.churned}, kills ${stats.kills}, errors ${stats.errors}; heap early ${early.toFixed(1)} MiB late ${late.toFixed(1)} MiB: ${flat ? 'flat' : 'GROWING'}`,
);
process.exit(stats.errors === 0 && flat ? 0 : 1);
