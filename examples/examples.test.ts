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

  it('demo (npm start): two processes, striped bulk transfer with equal SHA-256, latency figures', async () => {
    const out = await example('dist/examples/demo/main.js', ['2']);
    expect(out).toMatch(/SHA-256 at both ends equal/);
    expect(out).toMatch(/share per channel: t0=2\d\.\d% t1=2\d\.\d% t2=2\d\.\d% t3=2\d\.\d%/);
    expect(out).toMatch(/latency socket: \d+ ping-pongs of 4 KB, p50=\d+µs p99=\d+µs/);
  }, 60_000);
});
