/**
 * Request/response latency: 4 KB round trips over the rpc message interface on a
 * latency-class virtual socket (its own channel); prints p50/p99/p99.9.
 * Run: `npm run build && node dist/examples/rpc-pingpong/main.js [roundTrips=5000]`.
 */
import { randomBytes } from 'node:crypto';
import { createStack } from '../../index.js';
import { rpcConnect, rpcListen } from '../../rpc/index.js';

const rounds = Number(process.argv[2] ?? 5000);
const server = await createStack({ listen: ['tcp://127.0.0.1:0'] });
const client = await createStack({ channels: { throughput: 2, latency: 1 } });

// The service echoes each request; the client sends one at a time (ping-pong).
const service = await rpcListen(server, 7, (payload) => payload);
const rpc = await rpcConnect(client, server.addresses[0]!, 7, { appClass: 'latency' });
const ping = randomBytes(4096);
for (let i = 0; i < 200; i++) await rpc.request(ping); // warm-up (JIT, channel buffers)

const rtts: number[] = [];
for (let i = 0; i < rounds; i++) {
  const t0 = process.hrtime.bigint();
  const pong = await rpc.request(ping);
  rtts.push(Number(process.hrtime.bigint() - t0) / 1000);
  if (pong.length !== ping.length) throw new Error('short answer');
}
rtts.sort((a, b) => a - b);
const pct = (p: number): number => Math.round(rtts[Math.min(rtts.length - 1, Math.floor((p / 100) * rtts.length))]!);
console.log(`rpc ping-pong: ${rounds} round trips of 4 KB on a latency socket: p50=${pct(50)}µs p99=${pct(99)}µs p99.9=${pct(99.9)}µs`);
await rpc.close();
await service.close();
await client.close();
await server.close();
