/**
 * Multi-core data path benchmark: channels inline vs on 1 or 2 channel workers, with
 * 0, 1 or 2 copy workers, against raw node:net in the same run. Server and client are
 * separate child processes on loopback; CPU is per process
 * (`process.cpuUsage()`, so worker threads are included).
 *
 * Scenarios (every figure the median of `--runs` rounds after one warm-up round):
 * 1. bulk: one socket writes `--bytes` (default 256 MiB) from 1 MiB SharedArrayBuffer
 *    blocks; MB/s and MB per CPU-second (client + server CPU).
 * 2. rpc: `--rpc-sockets` (default 32) sockets, each a closed loop of 4 KB request →
 *    4 KB reply, for `--seconds`; RPCs/s.
 * 3. latency: one latency-class socket, 4 KB ping-pong for `--seconds`, p50/p99/p99.9,
 *    alone and with 8 throughput sockets saturating the same client process.
 *
 * Stacks open 4 throughput + 1 latency channel. With channel workers, the stack's dials
 * carry the channel's class (`ChannelOptions.appClass`): with 2 workers, the latency
 * channel gets worker 0 and the throughput channels worker 1. Copy workers only have a
 * hook in the `'shared'` hand-off (copying shared-memory payloads into the ring), so
 * copy-worker cases run with handoff 'shared'.
 *
 * Usage: `node dist/bench/multicore.js [--bytes N] [--runs N] [--seconds S] [--only bulk,rpc,latency] [--json FILE]`
 * @packageDocumentation
 */
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createStack, tcp, type Stack } from '../index.js';
import { CopyPool, inWorkers, DEFAULT_HANDOFF, type HandoffMode } from '../workers/index.js';
import { ForkedChild, serveParent, type Message } from './lib/child.js';
import { deadline } from './lib/deadline.js';
import { LatencyRecorder, type LatencyFigures } from './lib/histogram.js';
import { machineInfo, machineLine } from './lib/machine.js';
import { renderTable, summarize } from './lib/stats.js';

// ---- cases -------------------------------------------------------------------------

/** A netchannel stack configuration. */
interface StackSpec {
  /** 0 = channels inline on the main thread. */
  channelWorkers: 0 | 1 | 2;
  copyWorkers: 0 | 1 | 2;
  handoff: HandoffMode;
}

type Spec = { kind: 'net' } | ({ kind: 'nc' } & StackSpec);

function label(s: Spec): string {
  if (s.kind === 'net') return 'raw node:net';
  const ch = s.channelWorkers === 0 ? 'inline' : `${s.channelWorkers} ch-worker${s.channelWorkers > 1 ? 's' : ''} (${s.handoff})`;
  return s.copyWorkers === 0 ? ch : `${ch} + ${s.copyWorkers} copy`;
}

const nc = (channelWorkers: 0 | 1 | 2, copyWorkers: 0 | 1 | 2 = 0, handoff: HandoffMode = DEFAULT_HANDOFF): Spec => ({ kind: 'nc', channelWorkers, copyWorkers, handoff });
const OTHER: HandoffMode = DEFAULT_HANDOFF === 'transfer' ? 'shared' : 'transfer';

const BULK_CASES: Spec[] = [
  { kind: 'net' },
  nc(0),
  nc(1),
  nc(2),
  nc(1, 0, OTHER),
  nc(2, 0, OTHER),
  nc(1, 1, 'shared'),
  nc(1, 2, 'shared'),
  nc(2, 1, 'shared'),
  nc(2, 2, 'shared'),
];
const RPC_CASES: Spec[] = [{ kind: 'net' }, nc(0), nc(1), nc(2)];
const LATENCY_CASES: Spec[] = [{ kind: 'net' }, nc(0), nc(2)];

// ---- messages ----------------------------------------------------------------------

interface ServeMsg extends Message {
  type: 'serve';
  spec: Spec;
  bytes: number;
}
type Target = { kind: 'net'; ports: Ports } | { kind: 'nc'; address: string };
interface Ports {
  bulk: number;
  echo: number;
  sink: number;
}
interface ReadyMsg extends Message {
  type: 'ready';
  target: Target;
}
interface BulkMsg extends Message {
  type: 'bulk';
  spec: Spec;
  target: Target;
  bytes: number;
}
interface BulkDoneMsg extends Message {
  type: 'bulk-done';
  wallNs: number;
  cpuUs: number;
}
interface ServerBulkMsg extends Message {
  type: 'server-bulk';
  cpuUs: number;
}
interface RpcMsg extends Message {
  type: 'rpc';
  spec: Spec;
  target: Target;
  sockets: number;
  seconds: number;
}
interface RpcDoneMsg extends Message {
  type: 'rpc-done';
  rpcs: number;
  wallNs: number;
}
interface LatencyMsg extends Message {
  type: 'latency';
  spec: Spec;
  target: Target;
  load: number;
  seconds: number;
}
interface LatencyDoneMsg extends Message {
  type: 'latency-done';
  figures: LatencyFigures;
  loadMBps: number;
}

/** Virtual ports of the netchannel server. */
const VPORT = { bulk: 80, echo: 81, sink: 82 } as const;
const RPC_SIZE = 4096;

// ---- stacks ------------------------------------------------------------------------

interface NcEnd {
  stack: Stack;
  close(): Promise<void>;
}

async function ncStack(spec: StackSpec, listen: boolean): Promise<NcEnd> {
  const copyPool = spec.copyWorkers > 0 ? new CopyPool({ min: spec.copyWorkers, max: spec.copyWorkers }) : null;
  const factory = spec.channelWorkers > 0 ? inWorkers('tcp', { workers: spec.channelWorkers, handoff: spec.handoff, copyPool, ...(process.env.NC_RXWINDOW && { rxWindow: Number(process.env.NC_RXWINDOW) }) }) : null;
  const transports = factory ? [factory] : [tcp()];
  const stack = await createStack({ transports, channels: { throughput: 4, latency: 1 }, ...(listen && { listen: ['tcp://127.0.0.1:0'] }), metrics: { enabled: false } });
  return {
    stack,
    async close() {
      await stack.close();
      if (factory) await Promise.all([...factory.drivers].map((d) => d.close()));
      await copyPool?.close();
    },
  };
}

// ---- server role -------------------------------------------------------------------

function serverRole(): void {
  let teardown: (() => Promise<void>) | null = null;
  serveParent(async (msg, send) => {
    if (msg.type === 'serve') {
      const { spec, bytes } = msg as ServeMsg;
      const onBulk = (s: Duplex): void => countAndReply(s, bytes, send);
      const onEcho = (s: Duplex): void => void s.pipe(s);
      const onSink = (s: Duplex): void => void s.on('data', () => {}).on('error', () => {});
      if (spec.kind === 'net') {
        const servers = [onBulk, onEcho, onSink].map((fn) => net.createServer({ noDelay: true }, (s) => {
          s.on('error', () => {});
          fn(s);
        }));
        const ports = await Promise.all(
          servers.map(async (srv) => {
            srv.listen(0, '127.0.0.1');
            await once(srv, 'listening');
            return (srv.address() as net.AddressInfo).port;
          }),
        );
        teardown = async () => {
          for (const srv of servers) srv.close();
        };
        send<ReadyMsg>({ type: 'ready', target: { kind: 'net', ports: { bulk: ports[0]!, echo: ports[1]!, sink: ports[2]! } } });
      } else {
        const end = await ncStack(spec, true);
        (await end.stack.listen(VPORT.bulk)).on('connection', onBulk);
        (await end.stack.listen(VPORT.echo)).on('connection', onEcho);
        (await end.stack.listen(VPORT.sink)).on('connection', onSink);
        teardown = () => end.close();
        send<ReadyMsg>({ type: 'ready', target: { kind: 'nc', address: end.stack.addresses[0]! } });
      }
    } else if (msg.type === 'teardown') {
      await teardown?.();
      teardown = null;
      send({ type: 'closed' });
    } else {
      throw new Error(`server: unknown command ${msg.type}`);
    }
  });
}

function countAndReply(s: Duplex, bytes: number, send: (m: Message) => void): void {
  let cpu0: NodeJS.CpuUsage | null = null;
  let got = 0;
  s.on('error', () => {});
  s.on('data', (c: Buffer) => {
    cpu0 ??= process.cpuUsage();
    got += c.length;
    if (got >= bytes && cpu0) {
      const u = process.cpuUsage(cpu0);
      cpu0 = null;
      s.write('D');
      const done: ServerBulkMsg = { type: 'server-bulk', cpuUs: u.user + u.system };
      send(done);
    }
  });
}

// ---- client role -------------------------------------------------------------------

interface ClientConn {
  connect(port: keyof Ports, appClass: 'latency' | 'throughput'): Promise<Duplex>;
  close(): Promise<void>;
}

async function clientConn(spec: Spec, target: Target): Promise<ClientConn> {
  if (spec.kind === 'net' || target.kind === 'net') {
    const ports = (target as { ports: Ports }).ports;
    const socks: net.Socket[] = [];
    return {
      async connect(port) {
        const s = net.connect({ host: '127.0.0.1', port: ports[port], noDelay: true });
        await once(s, 'connect');
        s.on('error', () => {});
        socks.push(s);
        return s;
      },
      async close() {
        for (const s of socks) s.destroy();
      },
    };
  }
  const end = await ncStack(spec, false);
  return {
    async connect(port, appClass) {
      const s = await end.stack.connect(target.address, VPORT[port], { appClass });
      s.on('error', () => {});
      return s;
    },
    close: () => end.close(),
  };
}

/** 64 blocks of 1 MiB in shared memory, cycled (a block is reused 64 MiB later, long acknowledged). */
let blocks: Buffer[] = [];
function sharedBlocks(): Buffer[] {
  if (blocks.length === 0) {
    blocks = Array.from({ length: 64 }, (_, i) => {
      const b = Buffer.from(new SharedArrayBuffer(1 << 20));
      for (let k = 0; k < b.length; k += 4) b.writeUInt32LE((k * 2654435761 + i) >>> 0, k);
      return b;
    });
  }
  return blocks;
}

async function writeBulk(s: Duplex, bytes: number, stop?: () => boolean): Promise<number> {
  const bs = sharedBlocks();
  let sent = 0;
  for (let i = 0; sent < bytes && !(stop?.() ?? false); i++) {
    const b = bs[i % bs.length]!;
    const n = Math.min(b.length, bytes - sent);
    sent += n;
    if (!s.write(n === b.length ? b : b.subarray(0, n))) {
      // A destroyed socket never drains: stop on close too.
      await new Promise<void>((resolve) => {
        const done = (): void => {
          s.off('drain', done);
          s.off('close', done);
          resolve();
        };
        s.on('drain', done);
        s.on('close', done);
      });
      if (s.destroyed) break;
    }
  }
  return sent;
}

async function runBulk(m: BulkMsg): Promise<BulkDoneMsg> {
  const conn = await clientConn(m.spec, m.target);
  try {
    const s = await conn.connect('bulk', 'throughput');
    const replied = once(s, 'data');
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await writeBulk(s, m.bytes);
    await replied;
    const wallNs = Number(process.hrtime.bigint() - t0);
    const u = process.cpuUsage(cpu0);
    return { type: 'bulk-done', wallNs, cpuUs: u.user + u.system };
  } finally {
    await conn.close();
  }
}

async function runRpc(m: RpcMsg): Promise<RpcDoneMsg> {
  const conn = await clientConn(m.spec, m.target);
  try {
    const socks = await Promise.all(Array.from({ length: m.sockets }, () => conn.connect('echo', 'throughput')));
    const req = Buffer.alloc(RPC_SIZE, 7);
    const endAt = performance.now() + m.seconds * 1000;
    const t0 = process.hrtime.bigint();
    let rpcs = 0;
    await Promise.all(
      socks.map(
        (s) =>
          new Promise<void>((resolve) => {
            let got = 0;
            s.on('data', (c: Buffer) => {
              got += c.length;
              while (got >= RPC_SIZE) {
                got -= RPC_SIZE;
                rpcs++;
                if (performance.now() >= endAt) {
                  s.removeAllListeners('data');
                  resolve();
                  return;
                }
                s.write(req);
              }
            });
            s.write(req);
          }),
      ),
    );
    return { type: 'rpc-done', rpcs, wallNs: Number(process.hrtime.bigint() - t0) };
  } finally {
    await conn.close();
  }
}

async function runLatency(m: LatencyMsg): Promise<LatencyDoneMsg> {
  const conn = await clientConn(m.spec, m.target);
  try {
    const ping = await conn.connect('echo', 'latency');
    const loaders = await Promise.all(Array.from({ length: m.load }, () => conn.connect('sink', 'throughput')));
    let stop = false;
    let loadBytes = 0;
    const load = loaders.map((s) => writeBulk(s, Number.MAX_SAFE_INTEGER, () => stop).then((n) => void (loadBytes += n)));
    const rec = new LatencyRecorder();
    const msg = Buffer.alloc(RPC_SIZE, 1);
    // Let the load reach steady state before measuring.
    if (m.load > 0) await new Promise((r) => setTimeout(r, 300));
    const t0 = performance.now();
    const endAt = t0 + m.seconds * 1000;
    await new Promise<void>((resolve) => {
      let got = 0;
      let start = process.hrtime.bigint();
      ping.on('data', (c: Buffer) => {
        got += c.length;
        if (got < RPC_SIZE) return;
        got -= RPC_SIZE;
        rec.recordSince(start);
        if (performance.now() >= endAt) return resolve();
        start = process.hrtime.bigint();
        ping.write(msg);
      });
      ping.write(msg);
    });
    const secs = (performance.now() - t0) / 1000;
    stop = true;
    for (const s of loaders) s.destroy();
    await Promise.allSettled(load);
    return { type: 'latency-done', figures: rec.figures(), loadMBps: loadBytes / 1e6 / secs };
  } finally {
    await conn.close();
  }
}

function clientRole(): void {
  serveParent(async (msg, send) => {
    if (msg.type === 'bulk') send(await runBulk(msg as BulkMsg));
    else if (msg.type === 'rpc') send(await runRpc(msg as RpcMsg));
    else if (msg.type === 'latency') send(await runLatency(msg as LatencyMsg));
    else throw new Error(`client: unknown command ${msg.type}`);
  });
}

// ---- orchestration -----------------------------------------------------------------

interface Args {
  bytes: number;
  runs: number;
  seconds: number;
  rpcSockets: number;
  only: Set<string>;
  json: string | undefined;
  timeoutMs: number;
}

function parseArgs(argv: string[]): Args & { role: string | undefined } {
  const get = (k: string): string | undefined => {
    const i = argv.indexOf(k);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const num = (k: string, d: number): number => {
    const v = get(k);
    if (v === undefined) return d;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${k} must be a positive number, got ${JSON.stringify(v)}`);
    return n;
  };
  return {
    role: get('--role'),
    bytes: Math.round(num('--bytes', 256 * 2 ** 20)),
    runs: Math.round(num('--runs', 3)),
    seconds: num('--seconds', 2),
    rpcSockets: Math.round(num('--rpc-sockets', 32)),
    only: new Set((get('--only') ?? 'bulk,rpc,latency').split(',')),
    json: get('--json'),
    timeoutMs: num('--timeout', 120) * 1000,
  };
}

const med = (v: number[]): number => summarize(v).median;
const fmt = (n: number, d = 0): string => n.toFixed(d);
/** A ratio with two decimals, or two significant digits when it is below 0.1. */
const ratio = (n: number): string => (n >= 0.1 ? n.toFixed(2) : n.toPrecision(2));

async function orchestrate(args: Args): Promise<void> {
  const self = fileURLToPath(import.meta.url);
  const server = new ForkedChild('server', self, ['--role', 'server']);
  const client = new ForkedChild('client', self, ['--role', 'client']);
  const kill = (): void => {
    server.kill();
    client.kill();
  };
  process.once('SIGINT', () => {
    kill();
    process.exit(130);
  });
  const m = await machineInfo(1000);
  console.log(`multicore: ${args.runs} rounds (+1 warm-up) per scenario; bulk ${args.bytes / 2 ** 20} MiB; rpc ${args.rpcSockets} sockets x 4 KB for ${args.seconds} s; latency 4 KB ping-pong for ${args.seconds} s`);
  console.log(`${machineLine(m)}\ndefault hand-off: ${DEFAULT_HANDOFF}; stacks: 4 throughput + 1 latency channel\n`);
  const raw: Record<string, unknown[]> = { bulk: [], rpc: [], latency: [] };
  const serve = async (spec: Spec): Promise<Target> => (await server.request<ReadyMsg, ServeMsg>({ type: 'serve', spec, bytes: args.bytes }, 'ready')).target;
  const teardown = (): Promise<Message> => server.request({ type: 'teardown' }, 'closed');
  const step = <T>(p: Promise<T>, what: string): Promise<T> => deadline(p, args.timeoutMs, what, kill);
  try {
    if (args.only.has('bulk')) {
      const res = new Map<string, Array<{ mbps: number; mbPerCpuS: number; clientCores: number; serverCores: number }>>();
      for (let round = 0; round <= args.runs; round++) {
        for (let k = 0; k < BULK_CASES.length; k++) {
          const spec = BULK_CASES[(k + round) % BULK_CASES.length]!;
          const what = `bulk round ${round} ${label(spec)}`;
          const r = await step(
            (async () => {
              const target = await serve(spec);
              const srv = server.expect<ServerBulkMsg>('server-bulk');
              srv.catch(() => {});
              const c = await client.request<BulkDoneMsg, BulkMsg>({ type: 'bulk', spec, target, bytes: args.bytes }, 'bulk-done');
              const s = await srv;
              await teardown();
              return { c, s };
            })(),
            what,
          );
          const secs = r.c.wallNs / 1e9;
          const rec = { mbps: args.bytes / 1e6 / secs, mbPerCpuS: args.bytes / 1e6 / ((r.c.cpuUs + r.s.cpuUs) / 1e6), clientCores: r.c.cpuUs / 1e6 / secs, serverCores: r.s.cpuUs / 1e6 / secs };
          raw.bulk!.push({ round, case: label(spec), ...rec });
          console.log(`${what.padEnd(58)} ${fmt(rec.mbps)} MB/s, ${fmt(rec.mbPerCpuS)} MB/CPU-s${round === 0 ? ' (warm-up)' : ''}`);
          if (round > 0) res.set(label(spec), [...(res.get(label(spec)) ?? []), rec]);
        }
      }
      const base = res.get(label({ kind: 'net' }))!;
      const baseMbps = med(base.map((x) => x.mbps));
      const baseEff = med(base.map((x) => x.mbPerCpuS));
      console.log(`\nbulk, one socket, ${args.bytes / 2 ** 20} MiB (medians of ${args.runs}):`);
      console.log(
        renderTable(
          ['case', 'MB/s', 'vs net', 'MB/CPU-s', 'vs net', 'client cores', 'server cores'],
          BULK_CASES.map((spec) => {
            const rs = res.get(label(spec))!;
            const mbps = med(rs.map((x) => x.mbps));
            const eff = med(rs.map((x) => x.mbPerCpuS));
            return [label(spec), fmt(mbps), ratio(mbps / baseMbps), fmt(eff), ratio(eff / baseEff), fmt(med(rs.map((x) => x.clientCores)), 2), fmt(med(rs.map((x) => x.serverCores)), 2)];
          }),
        ),
      );
      console.log('(inline + copy workers: not measured — the copy pool has no hook on inline channels until the VNS send path is wired)\n');
    }
    if (args.only.has('rpc')) {
      const res = new Map<string, number[]>();
      for (let round = 0; round <= args.runs; round++) {
        for (let k = 0; k < RPC_CASES.length; k++) {
          const spec = RPC_CASES[(k + round) % RPC_CASES.length]!;
          const what = `rpc round ${round} ${label(spec)}`;
          const r = await step(
            (async () => {
              const target = await serve(spec);
              const c = await client.request<RpcDoneMsg, RpcMsg>({ type: 'rpc', spec, target, sockets: args.rpcSockets, seconds: args.seconds }, 'rpc-done');
              await teardown();
              return c;
            })(),
            what,
          );
          const rate = r.rpcs / (r.wallNs / 1e9);
          raw.rpc!.push({ round, case: label(spec), rate });
          console.log(`${what.padEnd(58)} ${fmt(rate)} RPC/s${round === 0 ? ' (warm-up)' : ''}`);
          if (round > 0) res.set(label(spec), [...(res.get(label(spec)) ?? []), rate]);
        }
      }
      const base = med(res.get(label({ kind: 'net' }))!);
      console.log(`\n4 KB RPC, ${args.rpcSockets} sockets (medians of ${args.runs}):`);
      console.log(renderTable(['case', 'RPC/s', 'vs net'], RPC_CASES.map((spec) => [label(spec), fmt(med(res.get(label(spec))!)), ratio(med(res.get(label(spec))!) / base)])));
      console.log('');
    }
    if (args.only.has('latency')) {
      const res = new Map<string, Array<LatencyFigures & { loadMBps: number }>>();
      const key = (spec: Spec, load: number): string => `${label(spec)}${load > 0 ? ' + 8 bulk' : ''}`;
      for (let round = 0; round <= args.runs; round++) {
        for (let k = 0; k < LATENCY_CASES.length; k++) {
          const spec = LATENCY_CASES[(k + round) % LATENCY_CASES.length]!;
          for (const load of [0, 8]) {
            const what = `latency round ${round} ${key(spec, load)}`;
            const r = await step(
              (async () => {
                const target = await serve(spec);
                const c = await client.request<LatencyDoneMsg, LatencyMsg>({ type: 'latency', spec, target, load, seconds: args.seconds }, 'latency-done');
                await teardown();
                return c;
              })(),
              what,
            );
            raw.latency!.push({ round, case: key(spec, load), ...r.figures, loadMBps: r.loadMBps });
            console.log(`${what.padEnd(58)} p50 ${r.figures.p50Us} µs, p99 ${r.figures.p99Us} µs, p99.9 ${r.figures.p999Us} µs (${r.figures.count} pings${load ? `, load ${fmt(r.loadMBps)} MB/s` : ''})${round === 0 ? ' (warm-up)' : ''}`);
            if (round > 0) res.set(key(spec, load), [...(res.get(key(spec, load)) ?? []), { ...r.figures, loadMBps: r.loadMBps }]);
          }
        }
      }
      console.log(`\n4 KB ping-pong on a latency socket (µs, medians of ${args.runs}):`);
      const rows: string[][] = [];
      for (const load of [0, 8]) {
        const base = res.get(key({ kind: 'net' }, load))!;
        const b50 = med(base.map((x) => x.p50Us));
        const b99 = med(base.map((x) => x.p99Us));
        for (const spec of LATENCY_CASES) {
          const rs = res.get(key(spec, load))!;
          const p50 = med(rs.map((x) => x.p50Us));
          const p99 = med(rs.map((x) => x.p99Us));
          const p999 = med(rs.map((x) => x.p999Us));
          rows.push([key(spec, load), fmt(p50), fmt(p99), fmt(p999), ratio(p50 / b50), ratio(p99 / b99), fmt(med(rs.map((x) => x.count))), load ? fmt(med(rs.map((x) => x.loadMBps))) : '-']);
        }
      }
      console.log(renderTable(['case', 'p50', 'p99', 'p99.9', 'p50 vs net', 'p99 vs net', 'pings', 'load MB/s'], rows));
    }
  } finally {
    await Promise.all([server.shutdown(), client.shutdown()]);
  }
  if (args.json) {
    await writeFile(args.json, JSON.stringify({ machine: m, args: { ...args, only: [...args.only] }, raw }, null, 2) + '\n');
    console.log(`\nraw figures written to ${args.json}`);
  }
}

function main(): void {
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
  if (args.role === 'server') return serverRole();
  if (args.role === 'client') return clientRole();
  orchestrate(args).then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(`multicore benchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exit(1);
    },
  );
}

main();
