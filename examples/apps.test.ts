import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { haveBinary } from './tunnel-apps/apps.js';

const run = promisify(execFile);
const root = new URL('..', import.meta.url);

/** Runs a compiled example the way its line in examples/README.md does. */
async function example(name: string, args: string[] = []): Promise<string> {
  const { stdout } = await run(process.execPath, [`dist/examples/${name}`, ...args], { cwd: root, timeout: 120_000 });
  return stdout;
}

describe('examples/README.md commands', () => {
  it('bulk: one socket over 4 channels, Gbit/s, even shares, equal SHA-256', async () => {
    const out = await example('bulk/main.js', ['64']);
    expect(out).toMatch(/bulk: 64 MiB in [\d.]+ s = [\d.]+ Gbit\/s over 4 channels/);
    const shares = [...out.matchAll(/t\d=([\d.]+)%/g)].map((m) => Number(m[1]));
    expect(shares).toHaveLength(4);
    for (const s of shares) expect(s).toBeGreaterThan(15); // striped over all four
    expect(out).toMatch(/SHA-256 equal at both ends/);
  });

  it('rpc-pingpong: p50/p99 of 4 KB round trips on a latency socket', async () => {
    const out = await example('rpc-pingpong/main.js', ['1000']);
    const m = /1000 round trips of 4 KB on a latency socket: p50=(\d+)µs p99=(\d+)µs/.exec(out);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeLessThanOrEqual(Number(m![2]));
  });

  it('http: GET and POST through node:http on virtual sockets', async () => {
    const out = await example('http/main.js');
    expect(out).toContain('GET /index -> 200 hello from /index');
    expect(out).toContain('POST /upload (1 MiB) -> 200 received 1048576 bytes');
  });

  it('http2: concurrent streams, POST and 4 MiB over one virtual socket', async () => {
    const out = await example('http2/main.js');
    expect(out).toContain('10 concurrent GET streams on one virtual socket: 200 hello /stream/0 … 200 hello /stream/9');
    expect(out).toContain('http2 POST: 200 payload over h2');
    expect(out).toContain('http2 POST 4 MiB: echoed 4194304 bytes, equal=true');
  });

  it('kv: get/set/del over rpc, 1,000 concurrent requests, typed remote error', async () => {
    const out = await example('kv/main.js');
    expect(out).toContain('get greeting -> hello over netchannel');
    expect(out).toContain('1000 concurrent sets and gets: all match; 1001 keys');
    expect(out).toContain('get greeting -> remote error KV_NOT_FOUND: no such key: greeting');
  });

  const apps = ['redis-server', 'redis-benchmark', 'iperf3'].every(haveBinary);
  it.skipIf(!apps && !process.env.CI)('tunnel-apps/compare: redis and iperf3 direct vs tunnel', async () => {
    const out = await example('tunnel-apps/compare.js', ['1', '5000']);
    expect(out).toMatch(/redis SET \(50 conns\)\s+[\d,]+ ops\/s\s+[\d,]+ ops\/s/);
    expect(out).toMatch(/redis GET -P 16 \(50 conns\)\s+[\d,]+ ops\/s\s+[\d,]+ ops\/s/);
    expect(out).toMatch(/iperf3 1 stream, 1 s\s+[\d.]+ Gbit\/s\s+[\d.]+ Gbit\/s/);
  }, 120_000);
});
