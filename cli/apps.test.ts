import { fileURLToPath } from 'node:url';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, haveBinary, iperfClient, redisBenchmark, redisCli, startIperfServer, startRedis, type Service } from '../examples/tunnel-apps/apps.js';
import { spawnTunnel, type TunnelProcess } from './tunnel/spawn.js';

const MAIN = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const BINARIES = ['redis-server', 'redis-benchmark', 'redis-cli', 'iperf3'];
const missing = BINARIES.filter((b) => !haveBinary(b));
// Outside CI a machine without the Debian packages skips; under CI they must be there.
const skip = missing.length > 0 && !process.env.CI;
if (skip) {
  console.warn(`cli/apps.test.ts skipped: missing ${missing.join(', ')} (apt-get install redis-server redis-tools iperf3)`);
}

describe.skipIf(skip)('real applications through netchannel tunnel', () => {
  let exit: TunnelProcess | undefined;
  let entry: TunnelProcess | undefined;
  let redis: Service | undefined;
  let iperfPort = 0;
  /** Holds iperf3's port until iperf3 starts, so no other test's socket takes it meanwhile. */
  let iperfHold: Server | undefined;
  let redisVia = 0;
  let iperfVia = 0;

  beforeAll(async () => {
    if (missing.length > 0) throw new Error(`CI is set but ${missing.join(', ')} not installed: .ci/run must apt-get install redis-server redis-tools iperf3`);
    redis = await startRedis(await freePort());
    iperfPort = await freePort();
    iperfHold = createServer();
    await new Promise<void>((r) => iperfHold!.listen(iperfPort, '127.0.0.1', r));
    exit = await spawnTunnel(MAIN, ['--listen', 'tcp://127.0.0.1:0']);
    entry = await spawnTunnel(MAIN, [
      '--peer', exit.addresses[0]!,
      '--route', `0=127.0.0.1:${redis.port}:latency`, `0=127.0.0.1:${iperfPort}:throughput`,
    ]);
    [redisVia, iperfVia] = entry.routePorts as [number, number];
  });

  afterAll(async () => {
    if (iperfHold?.listening) iperfHold.close();
    await entry?.stop();
    await exit?.stop();
    await redis?.stop();
  });

  it('redis-cli SET then GET returns the value', async () => {
    expect(await redisCli(redisVia, 'SET', 'netchannel:key', 'value through the tunnel')).toBe('OK');
    expect(await redisCli(redisVia, 'GET', 'netchannel:key')).toBe('value through the tunnel');
  });

  it('redis-benchmark -n 20000 -t set,get completes (50 connections, no pipelining)', async () => {
    const rates = await redisBenchmark(redisVia, { requests: 20_000 });
    expect(rates.SET).toBeGreaterThan(100);
    expect(rates.GET).toBeGreaterThan(100);
    console.log(`redis through tunnel: SET ${rates.SET} ops/s, GET ${rates.GET} ops/s`);
  }, 120_000);

  it('redis-benchmark -P 16 completes', async () => {
    const rates = await redisBenchmark(redisVia, { requests: 20_000, pipeline: 16 });
    expect(rates.SET).toBeGreaterThan(100);
    expect(rates.GET).toBeGreaterThan(100);
    console.log(`redis -P 16 through tunnel: SET ${rates.SET} ops/s, GET ${rates.GET} ops/s`);
  }, 120_000);

  it('iperf3 -t 3 completes (control + data connection through the tunnel)', async () => {
    await new Promise<void>((r) => iperfHold!.close(() => r()));
    const server = await startIperfServer(iperfPort);
    try {
      const r = await iperfClient(iperfVia, 3);
      expect(r.receivedBps).toBeGreaterThan(1e6);
      console.log(`iperf3 through tunnel: ${(r.receivedBps / 1e9).toFixed(2)} Gbit/s`);
    } finally {
      await server.stop();
    }
  }, 60_000);

  it('both tunnel processes exit 0 on SIGTERM after the load', async () => {
    expect(await entry!.stop()).toBe(0);
    expect(await exit!.stop()).toBe(0);
  });
});
