import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkStackAddress } from './addresses.js';
import { DEMO_DEFAULT_SECONDS, parseDemoSeconds } from './delegate.js';
import { resolveTunnelOptions } from './options.js';

const MAIN = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));

/** Runs the built CLI; resolves with its exit code and output (never rejects). */
function cli(args: string[], timeout = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { timeout, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: unknown }).code as number | null) : 0;
      resolve({ code: typeof code === 'number' ? code : null, stdout, stderr });
    });
  });
}

describe('netchannel CLI: versions, usage errors (exit 2) and runtime failures (exit 1)', () => {
  it('--version prints the version from package.json', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    const r = await cli(['--version']);
    expect(r).toMatchObject({ code: 0 });
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it('--help documents the exit codes', async () => {
    expect((await cli(['--help'])).stdout).toMatch(/Exit codes: 0 ok, 1 runtime failure.*2 usage error/s);
    expect((await cli(['tunnel', '--help'])).stdout).toMatch(/1 runtime failure.*\n?.*2 usage error/);
  });

  it.each([
    [['tunnel', '--peer', 'foo:7000', '--route', '6380=127.0.0.1:6379'], /--peer "foo:7000" is not a valid stack address.*no scheme/],
    [['tunnel', '--peer', 'tcp://foo', '--route', '6380=127.0.0.1:6379'], /--peer "tcp:\/\/foo" .*tcp:\/\/host:port/],
    [['tunnel', '--peer', 'tcp://127.0.0.1:0', '--route', '6380=127.0.0.1:6379'], /--peer .*port 0 .*out of range/],
    [['tunnel', '--peer', 'quic://h:1', '--route', '6380=127.0.0.1:6379'], /--peer .*scheme 'quic' is not one of tcp:\/\/, unix:\/\//],
    [['tunnel', '--listen', 'tcp://127.0.0.1'], /--listen "tcp:\/\/127.0.0.1" is not a valid stack address/],
    [['tunnel', '--listen', 'unix://relative.sock'], /--listen .*absolute path/],
    [['tunnel', '--peer', 'tcp://127.0.0.1:7000', '--route', '6380=nowhere'], /--route target .*must be host:port/],
    [['tunnel', '--peer', 'tcp://127.0.0.1:7000', '--route', '6380=a:1', '6380=b:2'], /--route local port 6380 is given twice/],
    [['tunnel', '--listen', 'tcp://127.0.0.1:0', '--allow', 'x'], /--allow entry must be host:port/],
    [['tunnel', '--no-such-flag'], /unknown option '--no-such-flag'/],
    [['tunnel'], /give --listen/],
    [[], /Usage: netchannel/],
    [['demo', 'abc'], /demo seconds must be an integer 2-86400, got "abc"/],
    [['demo', '1'], /demo seconds must be an integer 2-86400, got "1"/],
    [['demo', '5', '6'], /too many arguments/],
  ])('%j exits 2 with a message naming the value', async (args, message) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stdout + r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/RangeError|\n\s+at /);
    expect(r.stdout).not.toMatch(/tunnel ready/);
  });

  it('a listen address already in use is a runtime failure: exit 1, not ready', async () => {
    const busy = createServer().listen(0, '127.0.0.1');
    await once(busy, 'listening');
    try {
      const { port } = busy.address() as AddressInfo;
      const r = await cli(['tunnel', '--listen', `tcp://127.0.0.1:${port}`]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/EADDRINUSE|in use/);
      expect(r.stdout).not.toMatch(/tunnel ready/);
    } finally {
      busy.close();
    }
  });

  it('demo: the help shows the default the demo really uses; the argument is checked', async () => {
    const source = readFileSync(new URL('../examples/demo/main.ts', import.meta.url), 'utf8');
    expect(/process\.argv\[2\] \?\? (\d+)/.exec(source)?.[1]).toBe(String(DEMO_DEFAULT_SECONDS));
    expect((await cli(['demo', '--help'])).stdout).toContain(`(default: ${DEMO_DEFAULT_SECONDS})`);
    expect(parseDemoSeconds('12')).toBe(12);
    for (const bad of ['', '0', '-3', '2.5', '1e3', '86401']) expect(() => parseDemoSeconds(bad)).toThrow(expect.objectContaining({ code: 'NETCHANNEL_ERR_INVALID_ARG' }));
  });

  it('address checks accept what the tunnel stack can dial or listen on', () => {
    expect(checkStackAddress('tcp://[::1]:7000', '--peer', 'dial')).toBe('tcp://[::1]:7000');
    expect(checkStackAddress('tcp://0.0.0.0:0', '--listen', 'listen')).toBe('tcp://0.0.0.0:0');
    expect(checkStackAddress('unix:///tmp/nc.sock', '--peer', 'dial')).toBe('unix:///tmp/nc.sock');
    expect(() => checkStackAddress(7000, '--peer', 'dial')).toThrow(/--peer must be an address/);
    expect(() => resolveTunnelOptions({ peer: 'tcp://h:1', route: ['0=a:1', '0=a:2'] })).not.toThrow();
  });
});
