/**
 * `npm start`: two stacks in two processes on loopback. One bulk virtual socket is
 * striped over 4 TCP channels while a latency socket ping-pongs 4 KB on its own
 * channel; a line per second shows per-channel throughput and latency percentiles.
 * @packageDocumentation
 */
import { fork } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createStack, type VirtualSocket } from '../../index.js';

const seconds = Number(process.argv[2] ?? 6);
const peer = fork(fileURLToPath(new URL('./peer.js', import.meta.url)));
const [{ address }] = (await once(peer, 'message')) as [{ address: string }];
const stack = await createStack({ channels: { throughput: 4, latency: 1 } });
console.log(`peer stack listening on ${address}; this stack opens 4 throughput + 1 latency channels`);

const bulk = await stack.connect(address, 80, { appClass: 'throughput' });
const ping = await stack.connect(address, 7, { appClass: 'latency' });
const device = [...stack.peers.values()][0]!.device;

let stop = false;
const sentHash = createHash('sha256');
let sentBytes = 0;
async function pumpBulk(sock: VirtualSocket): Promise<void> {
  const block = randomBytes(1 << 20);
  for (let i = 0; !stop; i++) {
    const chunk = Buffer.from(block);
    chunk.writeUInt32BE(i, 0);
    sentHash.update(chunk);
    sentBytes += chunk.length;
    if (!sock.write(chunk)) await once(sock, 'drain');
  }
  sock.end();
}

const rtts: number[] = [];
async function pingPong(sock: VirtualSocket): Promise<void> {
  const msg = randomBytes(4096);
  let got = 0;
  let done: (() => void) | null = null;
  sock.on('data', (d: Buffer) => {
    got += d.length;
    if (got >= msg.length && done) done();
  });
  while (!stop) {
    const t0 = process.hrtime.bigint();
    got = 0;
    await new Promise<void>((resolve) => {
      done = resolve;
      sock.write(msg);
    });
    rtts.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  sock.end();
}

const pct = (xs: number[], p: number): number => (xs.length ? xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]! : NaN);
let last = device.channels.map((c) => c.bytesSent);
let rttFrom = 0;
const ticker = setInterval(() => {
  const now = device.channels.map((c) => c.bytesSent);
  const per = device.channels.map((c, i) => `${c.appClass[0]}${c.index}=${((now[i]! - (last[i] ?? 0)) / 1e6).toFixed(0)}`).join(' ');
  last = now;
  const window = rtts.slice(rttFrom).sort((a, b) => a - b);
  rttFrom = rtts.length;
  console.log(`MB/s per channel: ${per} | latency 4KB rtt p50=${pct(window, 50).toFixed(0)}µs p99=${pct(window, 99).toFixed(0)}µs (${window.length} pings)`);
}, 1000);

const started = Date.now();
const reply = (async () => {
  const parts: Buffer[] = [];
  for await (const c of bulk) parts.push(c as Buffer);
  return JSON.parse(Buffer.concat(parts).toString()) as { sha256: string; bytes: number };
})();
const work = Promise.all([pumpBulk(bulk), pingPong(ping)]);
setTimeout(() => (stop = true), seconds * 1000);
await work;
const result = await reply;
clearInterval(ticker);
const elapsed = (Date.now() - started) / 1000;
const all = [...rtts].sort((a, b) => a - b);
const ok = result.sha256 === sentHash.digest('hex') && result.bytes === sentBytes;
console.log('--- summary ---');
console.log(`bulk: ${(sentBytes / 2 ** 20).toFixed(0)} MiB in ${elapsed.toFixed(1)} s = ${((sentBytes * 8) / elapsed / 1e9).toFixed(2)} Gbit/s over ${device.channelsOf('throughput').length} channels; SHA-256 at both ends ${ok ? 'equal' : 'DIFFERENT'}`);
console.log(`share per channel: ${device.channels.map((c) => `${c.appClass[0]}${c.index}=${((100 * c.bytesSent) / Math.max(1, sentBytes)).toFixed(1)}%`).join(' ')}`);
console.log(`latency socket: ${all.length} ping-pongs of 4 KB, p50=${pct(all, 50).toFixed(0)}µs p99=${pct(all, 99).toFixed(0)}µs p99.9=${pct(all, 99.9).toFixed(0)}µs`);
await stack.close();
peer.send('exit');
await once(peer, 'exit');
process.exitCode = ok ? 0 : 1;
