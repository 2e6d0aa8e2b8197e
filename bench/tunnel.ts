/**
 * Tunnel benchmark: HTTP through `netchannel tunnel` (entry + exit, two processes)
 * against the same two-process topology built from plain node:net proxies
 * (`net.connect` plus `pipe` both ways) and from socat, under wrk.
 *
 *   wrk → middle process 1 → middle process 2 → node:http target (1 KiB and 1 MiB responses)
 *
 * For every middle pair it prints the median requests/s and MB/s of wrk, and the CPU
 * seconds the two middle processes spent per GB of responses and per 1,000 responses
 * (from /proc: user + system, socat's forked children included), with same-run ratios
 * against the node:net pair and socat. Rounds are interleaved (every pair once per
 * round). Needs wrk (Debian: `apt-get install wrk`); skips with a message without it;
 * socat is optional.
 *
 *   node dist/bench/tunnel.js [--runs 5] [--seconds 5] [--connections 16]
 *   node dist/bench/cli.js tunnel [--runs 5]
 * @packageDocumentation
 */
import { spawn, spawnSync, fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { spawnTunnel, type TunnelProcess } from '../cli/tunnel/spawn.js';

const SELF = fileURLToPath(import.meta.url);
const MAIN = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const SIZES: Array<[string, number]> = [
  ['1k', 1024],
  ['1m', 1024 * 1024],
];

/** Options of {@link tunnelBench}. */
export interface TunnelBenchOptions {
  /** Measured runs per case (medians are printed). @default 5 */
  runs?: number;
  /** Seconds per wrk run. @default 5 */
  seconds?: number;
  /** wrk connections. @default 16 */
  connections?: number;
}

/** One middle pair: its two process ids and the port wrk connects to. */
interface Middle {
  name: string;
  port: number;
  pids: number[];
  stop(): Promise<void>;
}

interface Sample {
  rps: number;
  mbps: number;
  cpuS: number;
  requests: number;
  bytes: number;
}

const haveBinary = (bin: string): boolean => spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** CPU seconds of `pid` so far: user + system, plus those of its reaped children. */
function cpuOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14-17 of proc(5) (utime, stime, cutime, cstime) are 11-14 after the command.
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / CLK_TCK;
}

/** A child running this file in `role` that reports its listening port. */
async function forkRole(role: string, ...args: string[]): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(SELF, ['--role', role, ...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const [port] = (await once(child, 'message')) as [number];
  return { child, port };
}

const stopChild = async (c: ChildProcess): Promise<void> => {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const gone = once(c, 'exit');
  c.kill('SIGKILL');
  await gone;
};

async function netPair(target: number): Promise<Middle> {
  const exit = await forkRole('proxy', String(target));
  const entry = await forkRole('proxy', String(exit.port));
  return { name: 'node:net proxy pair', port: entry.port, pids: [entry.child.pid!, exit.child.pid!], stop: async () => void (await Promise.all([stopChild(entry.child), stopChild(exit.child)])) };
}

async function socatPair(target: number): Promise<Middle> {
  const ports = [await freePort(), await freePort()];
  const start = (listen: number, to: number): ChildProcess => spawn('socat', [`TCP-LISTEN:${listen},bind=127.0.0.1,reuseaddr,fork`, `TCP:127.0.0.1:${to}`], { stdio: 'ignore' });
  const exit = start(ports[1]!, target);
  const entry = start(ports[0]!, ports[1]!);
  for (const p of ports) await waitListening(p);
  return { name: 'socat pair', port: ports[0]!, pids: [entry.pid!, exit.pid!], stop: async () => void (await Promise.all([stopChild(entry), stopChild(exit)])) };
}

async function tunnelPair(target: number): Promise<Middle> {
  const exit: TunnelProcess = await spawnTunnel(MAIN, ['--listen', 'tcp://127.0.0.1:0', '--allow', `127.0.0.1:${target}`]);
  const entry: TunnelProcess = await spawnTunnel(MAIN, ['--peer', exit.addresses[0]!, '--route', `0=127.0.0.1:${target}`]);
  return {
    name: 'netchannel tunnel',
    port: entry.routePorts[0]!,
    pids: [entry.child.pid!, exit.child.pid!],
    // SIGTERM first: a graceful exit (which also lets NODE_OPTIONS=--cpu-prof write its profile).
    stop: async () => {
      for (const t of [entry, exit]) {
        const code = await Promise.race([t.stop('SIGTERM'), new Promise<'late'>((r) => setTimeout(() => r('late'), 3000))]);
        if (code === 'late') await t.stop('SIGKILL');
      }
    },
  };
}

async function freePort(): Promise<number> {
  const s = net.createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

/** Resolves once something accepts on `port` (polls every 20 ms, at most 5 s). */
async function waitListening(port: number): Promise<void> {
  for (let i = 0; i < 250; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after 5 s`);
}

/** Runs wrk against `port`/`path`; parses requests and bytes read. */
function wrk(port: number, path: string, seconds: number, connections: number): Promise<{ requests: number; bytes: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    const p = spawn('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '10s', `http://127.0.0.1:${port}${path}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    p.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    p.once('exit', (code) => {
      const m = /(\d+) requests in ([\d.]+)(m?s), ([\d.]+)([KMGT]?B) read/.exec(out);
      if (code !== 0 || !m) return reject(new Error(`wrk failed (${code}): ${out}`));
      const unit = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 }[m[5]!]!;
      const errors = /Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)/.exec(out);
      if (errors) process.stderr.write(`wrk on :${port}${path}: ${errors[0]}\n`);
      resolve({ requests: Number(m[1]), bytes: Number(m[4]) * unit, seconds: Number(m[2]) / (m[3] === 'ms' ? 1000 : 1) });
    });
    p.once('error', reject);
  });
}

/** Runs the benchmark and prints its table. Returns false when it was skipped. */
export async function tunnelBench(options: TunnelBenchOptions = {}): Promise<boolean> {
  const runs = options.runs ?? 5;
  const seconds = options.seconds ?? 5;
  const connections = options.connections ?? 16;
  if (!haveBinary('wrk')) {
    console.log('tunnel bench skipped: wrk is not installed (Debian: apt-get install wrk)');
    return false;
  }
  const target = await forkRole('target');
  const makers: Array<(t: number) => Promise<Middle>> = [netPair, tunnelPair];
  if (haveBinary('socat')) makers.push(socatPair);
  else console.log('socat is not installed: its pair is left out (Debian: apt-get install socat)');
  const middles: Middle[] = [];
  try {
    for (const make of makers) middles.push(await make(target.port));
    const results = new Map<string, Sample[]>();
    console.log(`tunnel bench: wrk -t1 -c${connections}, ${seconds} s per run, ${runs} runs per case (+1 warm-up), rounds interleaved; load before: ${loadavg()}`);
    for (let r = 0; r <= runs; r++) {
      for (const [label, size] of SIZES) {
        for (const m of middles) {
          const before = m.pids.reduce((n, pid) => n + cpuOf(pid), 0);
          const w = await wrk(m.port, `/${label}`, r === 0 ? 1 : seconds, connections);
          // socat's per-connection children are reaped once wrk's connections closed.
          await new Promise((res) => setTimeout(res, 100));
          const cpuS = m.pids.reduce((n, pid) => n + cpuOf(pid), 0) - before;
          if (r === 0) continue; // warm-up
          const s: Sample = { rps: w.requests / w.seconds, mbps: w.bytes / 1e6 / w.seconds, cpuS, requests: w.requests, bytes: w.bytes };
          const key = `${m.name} ${label}`;
          results.set(key, [...(results.get(key) ?? []), s]);
          console.log(`round ${r} ${key.padEnd(26)} ${s.rps.toFixed(0).padStart(7)} req/s ${s.mbps.toFixed(1).padStart(8)} MB/s  middle CPU ${cpuS.toFixed(2)} s (${((cpuS / w.bytes) * 1e9).toFixed(2)} CPU-s/GB)`);
        }
      }
    }
    report(results, middles.map((m) => m.name), SIZES.map(([label]) => label));
    console.log(`load after: ${loadavg()}`);
  } finally {
    for (const m of middles) await m.stop();
    await stopChild(target.child);
  }
  return true;
}

const loadavg = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

function report(results: Map<string, Sample[]>, names: string[], labels: string[]): void {
  const med = (key: string, f: (s: Sample) => number): number => median((results.get(key) ?? []).map(f));
  const perGb = (s: Sample): number => (s.cpuS / s.bytes) * 1e9;
  const per1k = (s: Sample): number => (s.cpuS / s.requests) * 1000;
  console.log('\n--- medians ---');
  console.log(`${'middle pair'.padEnd(22)} size ${'req/s'.padStart(9)} ${'MB/s'.padStart(9)} ${'CPU-s/GB'.padStart(9)} ${'CPU-s/1k req'.padStart(13)}`);
  for (const label of labels) {
    for (const n of names) {
      const k = `${n} ${label}`;
      console.log(`${n.padEnd(22)} ${label.padEnd(4)} ${med(k, (s) => s.rps).toFixed(0).padStart(9)} ${med(k, (s) => s.mbps).toFixed(1).padStart(9)} ${med(k, perGb).toFixed(2).padStart(9)} ${med(k, per1k).toFixed(3).padStart(13)}`);
    }
  }
  const ratio = (a: string, b: string, f: (s: Sample) => number): string => (results.has(a) && results.has(b) ? (med(a, f) / med(b, f)).toFixed(2) : '-');
  for (const label of labels) {
    const t = `netchannel tunnel ${label}`;
    console.log(
      `${label}: tunnel / node:net pair = ${ratio(t, `node:net proxy pair ${label}`, (s) => s.rps)} req/s (goal >= 1.0); CPU per GB tunnel / pair = ${ratio(t, `node:net proxy pair ${label}`, perGb)}, tunnel / socat = ${ratio(t, `socat pair ${label}`, perGb)}`,
    );
  }
}

// ---- child roles ------------------------------------------------------------------------

async function role(name: string, rest: string[]): Promise<void> {
  if (name === 'target') {
    const bodies = new Map(SIZES.map(([l, n]) => [`/${l}`, Buffer.alloc(n, 120)]));
    const srv = http.createServer((req, res) => {
      const body = bodies.get(req.url ?? '');
      res.writeHead(body ? 200 : 404, { 'content-length': body?.length ?? 0 });
      res.end(body);
    });
    srv.keepAliveTimeout = 60_000;
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    process.send!((srv.address() as AddressInfo).port);
    return;
  }
  if (name === 'proxy') {
    const to = Number(rest[0]);
    const srv = net.createServer((c) => {
      const u = net.connect(to, '127.0.0.1');
      const kill = (): void => void (c.destroy(), u.destroy());
      c.on('error', kill);
      u.on('error', kill);
      c.pipe(u);
      u.pipe(c);
    });
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    process.send!((srv.address() as AddressInfo).port);
    return;
  }
  throw new Error(`unknown role ${name}`);
}

if (process.argv[1] === SELF) {
  const { values } = parseArgs({ options: { role: { type: 'string' }, runs: { type: 'string' }, seconds: { type: 'string' }, connections: { type: 'string' } }, allowPositionals: true, strict: false });
  if (typeof values.role === 'string') {
    process.on('disconnect', () => process.exit(0));
    await role(values.role, process.argv.slice(process.argv.indexOf(values.role) + 1));
  } else {
    const num = (v: unknown, d: number): number => (typeof v === 'string' && Number(v) > 0 ? Number(v) : d);
    await tunnelBench({ runs: num(values.runs, 5), seconds: num(values.seconds, 5), connections: num(values.connections, 16) });
  }
}
