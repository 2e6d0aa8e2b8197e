/**
 * Scheduler-feedback benchmark (two processes on loopback, links shaped with tc htb on
 * `lo`; needs root and tc, skips with a message otherwise):
 *
 * - **slow channel:** one socket over 4 channels with one shaped to 10 MB/s, against the
 *   same socket over 3 clean channels (under the same htb root, no channel filtered);
 * - **black hole:** one of 4 channels shaped to 8 bit/s mid-transfer (nothing passes,
 *   nothing closes): the longest gap between deliveries at the receiver;
 * - **two paths**, each shaped to 40 MB/s: one socket over one path, over
 *   `connect([a, b])`, and over one address plus the peer's advertised one;
 * - **no regression:** 4 equal channels, `earliestCompletion()` (default) against
 *   `roundRobin()`, unshaped.
 *
 * Usage: `node dist/bench/feedback.js [--runs N] [--seconds S] [--only slow,black,…]` (medians of N
 * runs; `--only` keeps the cases whose name contains one of the comma-separated words).
 * @packageDocumentation
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createStack, roundRobin, type PolicyFactory, type Stack, type VirtualSocket } from '../index.js';

const SELF = fileURLToPath(import.meta.url);

/** Runs `tc` with `args`; throws when it fails. */
function tc(...args: string[]): void {
  execFileSync('tc', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Removes our qdisc from lo (ignores "nothing to delete"). */
function tcReset(): void {
  try {
    tc('qdisc', 'del', 'dev', 'lo', 'root');
  } catch {
    // none installed
  }
}

/** Installs htb on lo with a fast default class; `classes` maps classid minor → rate. */
function tcSetup(classes: Record<number, string>): void {
  tcReset();
  tc('qdisc', 'add', 'dev', 'lo', 'root', 'handle', '1:', 'htb', 'default', '10', 'r2q', '1000');
  tc('class', 'add', 'dev', 'lo', 'parent', '1:', 'classid', '1:10', 'htb', 'rate', '100gbit', 'burst', '4mb', 'cburst', '4mb');
  for (const [minor, rate] of Object.entries(classes)) {
    tc('class', 'add', 'dev', 'lo', 'parent', '1:', 'classid', `1:${minor}`, 'htb', 'rate', rate, 'ceil', rate, 'burst', '64kb', 'cburst', '64kb');
  }
}

/** Sends packets with IP source port `port` (or destination port with `dst`) to class `minor`. */
function tcFilter(port: number, minor: number, dst = false): void {
  tc('filter', 'add', 'dev', 'lo', 'protocol', 'ip', 'parent', '1:', 'prio', '1', 'u32', 'match', 'ip', dst ? 'dport' : 'sport', String(port), '0xffff', 'flowid', `1:${minor}`);
}

/** Local port of a channel address `tcp://host:port`. */
const portOf = (address: string): number => Number(address.slice(address.lastIndexOf(':') + 1));

// ---- the server process -------------------------------------------------------------

async function serve(): Promise<void> {
  const server = await createStack({ listen: ['tcp://127.0.0.1:0', 'tcp://127.0.0.2:0'], advertise: ['tcp://127.0.0.2:0'], channels: { throughput: 4, latency: 0 } });
  (await server.listen(80)).on('connection', (s: VirtualSocket) => {
    let last = performance.now();
    let maxGap = 0;
    let bytes = 0;
    s.on('data', (d: Buffer) => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
      bytes += d.length;
    });
    s.on('end', () => {
      process.send!({ bytes, maxGap });
      s.end();
    });
  });
  process.send!({ addresses: server.addresses });
}

// ---- the client side ------------------------------------------------------------------

interface Result {
  mbps: number;
  maxGapMs: number;
}

/** Starts the server child; resolves with its addresses. */
async function startServer(): Promise<{ child: ChildProcess; addresses: string[] }> {
  const child = fork(SELF, ['--serve'], { stdio: 'inherit' });
  const addresses = await new Promise<string[]>((resolve) => child.once('message', (m: { addresses: string[] }) => resolve(m.addresses)));
  return { child, addresses };
}

/**
 * One run: a fresh client stack connects to `to`, `shape(client)` adjusts tc, then it
 * writes for `seconds` and ends; the server reports bytes and its longest gap.
 */
async function run(to: string | string[], opts: { throughput: number; policy?: PolicyFactory; paths?: 'advertised' }, seconds: number, shape: (client: Stack) => void, midway?: (client: Stack) => void): Promise<Result> {
  const { child, addresses } = await startServer();
  const target = typeof to === 'string' ? addresses[Number(to)]! : to.map((i) => addresses[Number(i)]!);
  const client = await createStack({ channels: { throughput: opts.throughput, latency: 0 }, ...(opts.policy && { scheduler: { throughput: opts.policy } }), ...(opts.paths && { paths: opts.paths }) });
  try {
    const sock = await client.connect(target, 80);
    shape(client);
    const block = Buffer.alloc(1 << 20, 1);
    const t0 = performance.now();
    let fired = false;
    while (performance.now() - t0 < seconds * 1000) {
      if (!fired && midway && performance.now() - t0 > (seconds * 1000) / 3) {
        fired = true;
        midway(client);
      }
      if (!sock.write(block)) await new Promise((r) => sock.once('drain', r));
    }
    const report = new Promise<{ bytes: number; maxGap: number }>((resolve) => child.once('message', resolve));
    sock.end();
    const r = await report;
    const elapsed = (performance.now() - t0) / 1000;
    return { mbps: r.bytes / 1e6 / elapsed, maxGapMs: r.maxGap };
  } finally {
    client.destroy();
    child.kill();
    tcReset();
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const runs = Number(args[args.indexOf('--runs') + 1] ?? 3) || 3;
  const seconds = Number(args[args.indexOf('--seconds') + 1] ?? 4) || 4;
  try {
    tcSetup({});
    tcReset();
  } catch (err) {
    console.log(`feedback bench skipped: tc htb on lo is not available here (${(err as Error).message.split('\n')[0]}); run as root on Linux with iproute2`);
    return;
  }
  const channelPorts = (c: Stack): number[] => c.peers[0]!.device.channels.map((dc) => portOf(dc.channel.localAddress));
  const cases: Array<[string, () => Promise<Result>]> = [
    // The same htb root as the shaped case (no channel filtered), so that the ratio is the scheduler's and not the qdisc's.
    ['3 clean channels', () => run('0', { throughput: 3 }, seconds, () => tcSetup({ 20: '80mbit' }))],
    ['4 channels, one at 10 MB/s', () => run('0', { throughput: 4 }, seconds, (c) => (tcSetup({ 20: '80mbit' }), tcFilter(channelPorts(c)[0]!, 20)))],
    ['4 channels, one at 10 MB/s, roundRobin', () => run('0', { throughput: 4, policy: roundRobin() }, seconds, (c) => (tcSetup({ 20: '80mbit' }), tcFilter(channelPorts(c)[0]!, 20)))],
    ['4 channels, one black-holed at 1/3', () => run('0', { throughput: 4 }, seconds, () => tcSetup({ 20: '8bit' }), (c) => tcFilter(channelPorts(c)[0]!, 20))],
    ['one path at 40 MB/s', () => run('0', { throughput: 4 }, seconds, (c) => shapePaths(c))],
    ['connect([a, b]), each at 40 MB/s', () => run(['0', '1'], { throughput: 4 }, seconds, (c) => shapePaths(c))],
    ["connect(a) + b advertised, each at 40 MB/s", () => run('0', { throughput: 4, paths: 'advertised' }, seconds, (c) => shapePaths(c))],
    ['4 equal channels, earliestCompletion', () => run('0', { throughput: 4 }, seconds, () => {})],
    ['4 equal channels, roundRobin', () => run('0', { throughput: 4, policy: roundRobin() }, seconds, () => {})],
  ];
  const onlyAt = args.indexOf('--only');
  const only = onlyAt >= 0 ? (args[onlyAt + 1] ?? '').split(',').filter(Boolean) : [];
  if (only.length > 0) cases.splice(0, cases.length, ...cases.filter(([name]) => name === '3 clean channels' || only.some((w) => name.includes(w))));
  const results = new Map<string, Result[]>();
  // Interleaved rounds: every case once per round.
  for (let r = 0; r < runs; r++) {
    for (const [name, fn] of cases) {
      const res = await fn();
      results.set(name, [...(results.get(name) ?? []), res]);
      console.log(`round ${r + 1} ${name}: ${res.mbps.toFixed(1)} MB/s, longest receiver gap ${res.maxGapMs.toFixed(0)} ms`);
    }
  }
  const med = (name: string): Result => {
    const rs = results.get(name) ?? [{ mbps: NaN, maxGapMs: NaN }];
    return { mbps: median(rs.map((x) => x.mbps)), maxGapMs: median(rs.map((x) => x.maxGapMs)) };
  };
  console.log(`\n--- medians of ${runs} runs, ${seconds} s each ---`);
  for (const [name] of cases) console.log(`${name.padEnd(44)} ${med(name).mbps.toFixed(1).padStart(8)} MB/s   longest gap ${med(name).maxGapMs.toFixed(0).padStart(6)} ms`);
  // Ratio of the medians, and in brackets the median of the per-round ratios (each round runs both cases back to back, so slow drift of the machine cancels).
  const ratio = (a: string, b: string): string => {
    const ra = results.get(a);
    const rb = results.get(b);
    if (!ra || !rb) return '-';
    return `${(med(a).mbps / med(b).mbps).toFixed(2)} [per round ${median(ra.map((x, i) => x.mbps / rb[i]!.mbps)).toFixed(2)}]`;
  };
  console.log(`slow channel: 4 (one at 10 MB/s) / 3 clean = ${ratio('4 channels, one at 10 MB/s', '3 clean channels')} (goal >= 1.0); roundRobin: ${ratio('4 channels, one at 10 MB/s, roundRobin', '3 clean channels')}`);
  console.log(`black hole: longest receiver stall = ${med('4 channels, one black-holed at 1/3').maxGapMs.toFixed(0)} ms (goal < 2000)`);
  console.log(`two paths: connect([a,b]) / one path = ${ratio('connect([a, b]), each at 40 MB/s', 'one path at 40 MB/s')}; advertised / one path = ${ratio('connect(a) + b advertised, each at 40 MB/s', 'one path at 40 MB/s')} (goal >= 1.8)`);
  console.log(`no regression: earliestCompletion / roundRobin, 4 equal channels = ${ratio('4 equal channels, earliestCompletion', '4 equal channels, roundRobin')}`);
}

/** Shapes each listen address (by destination port) to 40 MB/s, in its own class. */
function shapePaths(client: Stack): void {
  tcSetup({ 30: '320mbit', 31: '320mbit' });
  const ports = [...new Set(client.peers[0]!.device.channels.map((dc) => portOf(dc.channel.remoteAddress)))];
  // Both listeners: whichever the client uses. Ports of 127.0.0.1 and 127.0.0.2 listeners differ.
  for (const [i, p] of ports.entries()) tcFilter(p, 30 + (i % 2), true);
}

if (process.argv.includes('--serve')) void serve();
else
  main().catch((err) => {
    tcReset();
    console.error(err);
    process.exit(1);
  });
