/**
 * Drives real applications — redis-server/redis-benchmark/redis-cli and iperf3 (from
 * Debian's packages) — on loopback, for the tunnel tests and compare.ts.
 * @packageDocumentation
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo } from 'node:net';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** True when `bin` is on the PATH. */
export function haveBinary(bin: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;
}

/** A free TCP port on 127.0.0.1 (bound and released; good enough on a quiet loopback). */
export async function freePort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

/** Resolves once 127.0.0.1:port accepts a TCP connection (polling), or rejects after `ms`. */
export async function waitForPort(port: number, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A child process we started, with a stop that waits for its exit. */
export interface Service {
  readonly port: number;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

function service(port: number, child: ChildProcess): Service {
  const exited = new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
  return {
    port,
    child,
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Starts `redis-server` on 127.0.0.1:port without persistence. */
export async function startRedis(port: number): Promise<Service> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], { stdio: 'ignore' });
  const svc = service(port, child);
  await waitForPort(port);
  return svc;
}

/** Requests per second by command, e.g. `{ SET: 81234.5, GET: 90000 }`. */
export type RedisRates = Record<string, number>;

/** Runs `redis-benchmark -q` against 127.0.0.1:port and parses its rates. */
export async function redisBenchmark(port: number, opts: { requests?: number; pipeline?: number; tests?: string } = {}): Promise<RedisRates> {
  const args = ['-h', '127.0.0.1', '-p', String(port), '-n', String(opts.requests ?? 20_000), '-q', '-t', opts.tests ?? 'set,get'];
  if (opts.pipeline) args.push('-P', String(opts.pipeline));
  const { stdout } = await run('redis-benchmark', args, { timeout: 120_000 });
  const rates: RedisRates = {};
  // -q prints progress lines ending in \r, then "SET: 81234.57 requests per second, p50=…".
  for (const m of stdout.matchAll(/([A-Z]+): ([\d.]+) requests per second/g)) rates[m[1]!] = Number(m[2]);
  if (Object.keys(rates).length === 0) throw new Error(`redis-benchmark printed no rates: ${JSON.stringify(stdout.slice(-300))}`);
  return rates;
}

/** Runs `redis-cli -p port ...args` and returns its trimmed output. */
export async function redisCli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 30_000 });
  return stdout.trim();
}

/**
 * Starts a one-off `iperf3 -s -1` on 127.0.0.1:port (it exits after one test). Ready
 * when it prints "Server listening" — probing the port would use up its one test.
 */
export async function startIperfServer(port: number): Promise<Service> {
  const child = spawn('iperf3', ['-s', '-1', '--forceflush', '-B', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const svc = service(port, child);
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`iperf3 -s did not start on port ${port}: ${out}`)), 10_000);
    const onData = (d: Buffer): void => {
      out += d.toString();
      if (!/Server listening/.test(out)) return;
      clearTimeout(timer);
      resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`iperf3 -s exited with ${code}: ${out}`));
    });
  });
  child.stdout!.resume();
  child.stderr!.resume();
  return svc;
}

/** Result of one iperf3 client run. */
export interface IperfResult {
  /** Receiver-side throughput, bits per second. */
  receivedBps: number;
  /** Sender-side throughput, bits per second. */
  sentBps: number;
}

/** Runs `iperf3 -c 127.0.0.1 -p port -t seconds -J` and parses the summary. */
export async function iperfClient(port: number, seconds = 3): Promise<IperfResult> {
  const { stdout } = await run('iperf3', ['-c', '127.0.0.1', '-p', String(port), '-t', String(seconds), '-J'], { timeout: (seconds + 30) * 1000 });
  const json = JSON.parse(stdout) as { error?: string; end?: { sum_received?: { bits_per_second?: number }; sum_sent?: { bits_per_second?: number } } };
  if (json.error) throw new Error(`iperf3: ${json.error}`);
  const receivedBps = json.end?.sum_received?.bits_per_second;
  const sentBps = json.end?.sum_sent?.bits_per_second;
  if (typeof receivedBps !== 'number' || typeof sentBps !== 'number') throw new Error('iperf3 -J printed no end.sum_received/sum_sent');
  return { receivedBps, sentBps };
}
