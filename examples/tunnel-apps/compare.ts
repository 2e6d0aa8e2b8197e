/**
 * redis and iperf3, direct vs through `netchannel tunnel`, in one run. Needs Debian's
 * redis-server, redis-tools and iperf3. Run: `npm run build && node
 * dist/examples/tunnel-apps/compare.js [iperfSeconds=3] [redisRequests=50000]`.
 *
 * Two tunnel processes on loopback (entry and exit, 4 throughput + 1 latency TCP
 * channels); redis rides a latency-class route, iperf3 a throughput-class route.
 * @packageDocumentation
 */
import { fileURLToPath } from 'node:url';
import { spawnTunnel } from '../../cli/tunnel/spawn.js';
import { freePort, haveBinary, iperfClient, redisBenchmark, startIperfServer, startRedis } from './apps.js';

const seconds = Number(process.argv[2] ?? 3);
const requests = Number(process.argv[3] ?? 50_000);
const missing = ['redis-server', 'redis-benchmark', 'iperf3'].filter((b) => !haveBinary(b));
if (missing.length > 0) {
  console.error(`missing ${missing.join(', ')}: apt-get install redis-server redis-tools iperf3`);
  process.exit(1);
}

// The services, and a tunnel to each of them.
const main = fileURLToPath(new URL('../../cli/main.js', import.meta.url));
const redis = await startRedis(await freePort());
const iperfPort = await freePort();
const exit = await spawnTunnel(main, ['--listen', 'tcp://127.0.0.1:0']);
const entry = await spawnTunnel(main, ['--peer', exit.addresses[0]!, '--channels', 'throughput=4,latency=1', '--route', `0=127.0.0.1:${redis.port}:latency`, `0=127.0.0.1:${iperfPort}:throughput`]);
const [redisVia, iperfVia] = entry.routePorts as [number, number];

const rows: Array<[string, number, number, string]> = [];
try {
  // redis-benchmark: 50 connections, without and with pipelining.
  for (const pipeline of [0, 16]) {
    const direct = await redisBenchmark(redis.port, { requests, pipeline });
    const tunnel = await redisBenchmark(redisVia, { requests, pipeline });
    for (const cmd of ['SET', 'GET']) {
      rows.push([`redis ${cmd}${pipeline ? ` -P ${pipeline}` : ''} (50 conns)`, direct[cmd] ?? NaN, tunnel[cmd] ?? NaN, 'ops/s']);
    }
  }
  // iperf3: one TCP stream (plus its control connection), one-off server per run.
  const iperf = async (port: number): Promise<number> => {
    const server = await startIperfServer(iperfPort);
    try {
      return (await iperfClient(port, seconds)).receivedBps / 1e9;
    } finally {
      await server.stop();
    }
  };
  const direct = await iperf(iperfPort);
  const tunnel = await iperf(iperfVia);
  rows.push([`iperf3 1 stream, ${seconds} s`, direct, tunnel, 'Gbit/s']);
} finally {
  await entry.stop();
  await exit.stop();
  await redis.stop();
}

const fmt = (v: number, unit: string): string => (unit === 'ops/s' ? `${Math.round(v).toLocaleString('en-US')} ${unit}` : `${v.toFixed(2)} ${unit}`);
console.log(`${'workload'.padEnd(28)}${'direct'.padStart(16)}${'tunnel'.padStart(16)}${'tunnel/direct'.padStart(15)}`);
for (const [name, d, t, unit] of rows) {
  console.log(`${name.padEnd(28)}${fmt(d, unit).padStart(16)}${fmt(t, unit).padStart(16)}${`${((100 * t) / d).toFixed(0)}%`.padStart(15)}`);
}
