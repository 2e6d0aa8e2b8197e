import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = new URL('..', import.meta.url);

/** Runs a compiled example the way its README line does. */
async function example(path: string, args: string[] = []): Promise<string> {
  const { stdout } = await run(process.execPath, [path, ...args], { cwd: root, timeout: 120_000 });
  return stdout;
}

describe('examples run from their README lines', () => {
  it('custom-policy: a third-party policy spreads one socket over all 4 channels', async () => {
    const out = await example('dist/examples/custom-policy/main.js');
    const shares = [...out.matchAll(/channel (\d): ([\d.]+)%/g)].map((m) => Number(m[2]));
    expect(shares).toHaveLength(4);
    for (const s of shares) expect(s).toBeGreaterThan(15);
  });

  it('demo (npm start): two processes, striped bulk with equal SHA-256, raw node:net comparison, /metrics', async () => {
    const out = await example('dist/examples/demo/main.js', ['3']);
    expect(out).toMatch(/metrics at http:\/\/127\.0\.0\.1:\d+\/metrics/);
    expect(out).toMatch(/MB\/s per channel: t0=\d+ t1=\d+ t2=\d+ t3=\d+ l0=\d+ \| latency 4KB rtt p50=\d+µs/);
    expect(out).toMatch(/netchannel \(4\+1 channels\): bulk [\d.]+ Gbit\/s \(SHA-256 equal\); latency 4 KB rtt p50=\d+µs p99=\d+µs/);
    expect(out).toMatch(/share per channel: t0=2\d\.\d% t1=2\d\.\d% t2=2\d\.\d% t3=2\d\.\d%/);
    expect(out).toMatch(/raw node:net \(2 sockets\): bulk [\d.]+ Gbit\/s \(SHA-256 equal\)/);
    expect(out).toMatch(/ratios: bulk netchannel\/raw = [\d.]+; latency p99 raw\/netchannel = [\d.]+/);
  }, 60_000);
});
