/**
 * `npm start`: two stacks in two processes on loopback. A bulk virtual socket is
 * striped over 4 TCP channels while a latency socket ping-pongs 4 KB on its own
 * channel; a line per second shows per-channel throughput and latency percentiles;
 * `/metrics` is served meanwhile. Then the same workload runs over raw node:net
 * sockets in the same processes, and a summary compares the two.
 *   node dist/examples/demo/main.js [seconds = 30]
 * @packageDocumentation
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { createStack } from '../../index.js';
import { pct, runWorkload, type WorkloadResult } from './workload.js';

const total = Number(process.argv[2] ?? 30);
const ncSeconds = Math.max(1, Math.round(total * 0.7));
const rawSeconds = Math.max(1, total - ncSeconds);
const peer = fork(fileURLToPath(new URL('./peer.js', import.meta.url)));
const [addr] = (await once(peer, 'message')) as [{ address: string; rawSink: number; rawEcho: number }];
const stack = await createStack({ channels: { throughput: 4, latency: 1 } });
const metrics = await stack.serveMetrics({ port: 0 });
console.log(`peer stack at ${addr.address}; this stack opens 4 throughput + 1 latency channels; metrics at ${metrics.url}`);

// Phase 1: netchannel.
const bulk = await stack.connect(addr.address, 80, { appClass: 'throughput' });
const ping = await stack.connect(addr.address, 7, { appClass: 'latency' });
const device = [...stack.peers.values()][0]!.device;
const rtts: number[] = [];
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
const nc = await runWorkload(bulk, ping, AbortSignal.timeout(ncSeconds * 1000), rtts);
clearInterval(ticker);
const shares = device.channels.map((c) => `${c.appClass[0]}${c.index}=${((100 * c.bytesSent) / Math.max(1, nc.bytes)).toFixed(1)}%`).join(' ');

// Phase 2: the same workload on raw node:net sockets (one per stream), same processes.
console.log(`--- raw node:net, same workload, ${rawSeconds} s ---`);
const connect = async (port: number): Promise<net.Socket> => {
  const s = net.connect({ host: '127.0.0.1', port, noDelay: true });
  await once(s, 'connect');
  return s;
};
const raw = await runWorkload(await connect(addr.rawSink), await connect(addr.rawEcho), AbortSignal.timeout(rawSeconds * 1000), []);

const line = (name: string, r: WorkloadResult): string => {
  const s = [...r.rtts].sort((a, b) => a - b);
  return `${name}: bulk ${((r.bytes * 8) / r.seconds / 1e9).toFixed(2)} Gbit/s (SHA-256 ${r.hashOk ? 'equal' : 'DIFFERENT'}); latency 4 KB rtt p50=${pct(s, 50).toFixed(0)}µs p99=${pct(s, 99).toFixed(0)}µs p99.9=${pct(s, 99.9).toFixed(0)}µs over ${s.length} pings`;
};
const p99 = (r: WorkloadResult): number => pct([...r.rtts].sort((a, b) => a - b), 99);
console.log('--- summary ---');
console.log(line('netchannel (4+1 channels)', nc));
console.log(`share per channel: ${shares}`);
console.log(line('raw node:net (2 sockets)', raw));
console.log(`ratios: bulk netchannel/raw = ${(nc.bytes / nc.seconds / (raw.bytes / raw.seconds)).toFixed(2)}; latency p99 raw/netchannel = ${(p99(raw) / p99(nc)).toFixed(2)} (higher is better for netchannel)`);
await stack.close();
peer.send('exit');
await once(peer, 'exit');
process.exitCode = nc.hashOk && raw.hashOk ? 0 : 1;
