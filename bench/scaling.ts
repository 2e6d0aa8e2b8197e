/**
 * Receiver-bound scaling bench: a wire-protocol load generator on plain node:net
 * (bench/lib/wire-gen.ts, in this process) feeds a receiving stack in a child process
 * whose app counts bytes, so the receiver, not the sender, is the bottleneck. It compares
 * the receiver inline against channel workers (1 and 2, both hand-offs, with and without
 * copy workers) and prints MB/s, receiver cores and generator cores, medians of
 * interleaved rounds (every configuration once per round), with ratios against inline.
 *
 * With channel workers the receiver listens on one address per worker (listeners are
 * spread over the workers, one each), and the generator dials its channels round-robin
 * over those addresses, so the accepted channels are spread over the workers too.
 *
 * Shapes: bulk (4 sockets, 62 KiB frames), short (64 sockets, 4 KiB frames) and echo
 * (64 sockets, 4 KiB frames, the receiver pipes every socket back: RPC-like).
 *
 *   node dist/bench/scaling.js [--rounds 3] [--seconds 4] [--only bulk,short,echo]
 *     [--configs inline,w1-shared,w3-transfer,w2-shared+copy1,…] [--channels 4]
 *     [--transport tcp|unix] [--cpu-prof DIR (profiles every receiver thread)] [--json FILE]
 *   node dist/bench/scaling.js --elastic [--seconds 6]   (elastic channel workers: events under load)
 *   node dist/bench/cli.js scaling [--runs 3]
 * SCALING_NODE_OPTIONS (e.g. `--trace-gc`) adds Node options to every receiver child.
 * @packageDocumentation
 */
import { writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { createStack, type StackOptions, type VirtualSocket } from '../index.js';
import { parseHostPort } from '../netdriver/address.js';
import { ForkedChild, serveParent, type Message } from './lib/child.js';
import { renderTable, summarize } from './lib/stats.js';
import { WireGenerator } from './lib/wire-gen.js';

const SELF = fileURLToPath(import.meta.url);
const MB = 1e6;

/** One receiver configuration. */
interface Config {
  name: string;
  /** Listen addresses (one per channel worker). */
  listeners: number;
  workers?: StackOptions['workers'];
}

/** The transport between generator and receiver. */
type Transport = 'tcp' | 'unix';

/** A listen address as the generator dials it. */
function dialAddress(a: string): { host: string; port: number } | { path: string } {
  return a.startsWith('unix://') ? { path: a.slice('unix://'.length) } : parseHostPort(a, 'tcp', false);
}

/** A traffic shape. */
interface Shape {
  name: string;
  sockets: number;
  frameBytes: number;
  echo: boolean;
}

const SHAPES: Shape[] = [
  { name: 'bulk', sockets: 4, frameBytes: 62 * 1024, echo: false },
  { name: 'short', sockets: 64, frameBytes: 4 * 1024, echo: false },
  { name: 'echo', sockets: 64, frameBytes: 4 * 1024, echo: true },
];

/** The default configurations: inline, 1 and 2 channel workers in both hand-offs, 2 shared + 1 copy worker. */
export const DEFAULT_CONFIGS = ['inline', 'w1-shared', 'w1-transfer', 'w2-shared', 'w2-transfer', 'w2-shared+copy1'];

/**
 * A configuration by name: `inline`, or `w<N>-<shared|transfer>[+copy<M>]` (N channel
 * workers, min = max, and M copy workers).
 * @throws Error naming the accepted forms.
 */
export function configByName(name: string): Config {
  if (name === 'inline') return { name, listeners: 1 };
  const m = /^w([1-9][0-9]?)-(shared|transfer)(?:\+copy([1-9]))?$/.exec(name);
  if (!m) throw new Error(`unknown receiver configuration ${JSON.stringify(name)}: use inline or w<N>-<shared|transfer>[+copy<M>], e.g. w2-shared+copy1`);
  const n = Number(m[1]);
  const copy = m[3] === undefined ? 0 : Number(m[3]);
  return { name, listeners: n, workers: { channel: { min: n, max: n }, handoff: m[2] as 'shared' | 'transfer', ...(copy > 0 ? { copy: { min: copy, max: copy } } : {}) } };
}

interface Sample extends Message {
  type: 'sample';
  bytes: number;
  cpuUs: number;
  elu: number;
  at: number;
}

// ---- the receiver (child process) -------------------------------------------------
async function receiver(config: Config, echo: boolean, transport: Transport): Promise<void> {
  const stack = await createStack({ listen: Array.from({ length: config.listeners }, (_, i) => (transport === 'unix' ? `unix://${tmpdir()}/netchannel-scaling-${process.pid}-${i}.sock` : 'tcp://127.0.0.1:0')), ...(config.workers ? { workers: config.workers } : {}) });
  let bytes = 0;
  (await stack.listen(80)).on('connection', (s: VirtualSocket) => {
    s.on('error', () => {});
    s.on('data', (d: Buffer) => (bytes += d.length));
    if (echo) s.pipe(s);
  });
  const t0 = performance.now();
  const scaling: string[] = [];
  stack.events$.subscribe((e) => {
    if (e.type === 'worker-scaling') scaling.push(`${((performance.now() - t0) / 1000).toFixed(1)} s: ${e.kind} workers ${e.from} → ${e.to} (${e.action}, idle capacity ${e.idleCapacity.toFixed(2)} cores)`);
  });
  let elu = performance.eventLoopUtilization();
  serveParent(async (msg, send) => {
    if (msg.type === 'events') {
      const metric = (await stack.registry.metrics()).split('\n').filter((l) => l.startsWith('netchannel_worker_scaling_total{kind="channel"'));
      send({ type: 'events', lines: scaling, metric, at: (performance.now() - t0) / 1000 });
      return;
    }
    if (msg.type !== 'sample') return;
    const cpu = process.cpuUsage();
    const e = performance.eventLoopUtilization(elu);
    elu = performance.eventLoopUtilization();
    send({ type: 'sample', bytes, cpuUs: cpu.user + cpu.system, elu: e.utilization, at: performance.now() } satisfies Sample);
  });
  process.send!({ type: 'ready', addresses: stack.addresses });
}

// ---- the driver ----------------------------------------------------------------------
interface Result {
  mbs: number;
  receiverCores: number;
  generatorCores: number;
  /** System (kernel) share of the generator cores. */
  generatorSys: number;
  mainElu: number;
}

async function runOnce(config: Config, shape: Shape, seconds: number, channels: number, cpuProf: string | undefined, transport: Transport): Promise<Result> {
  const execArgv = [...(cpuProf ? ['--cpu-prof', '--cpu-prof-dir', cpuProf] : []), ...(process.env.SCALING_NODE_OPTIONS?.split(' ').filter(Boolean) ?? [])];
  const child = new ForkedChild(`receiver ${config.name}`, SELF, ['--receiver', JSON.stringify({ config, echo: shape.echo, transport })], execArgv);
  try {
    const ready = await child.expect<Message & { addresses: string[] }>('ready');
    const addresses = ready.addresses.map(dialAddress);
    const gen = await WireGenerator.start({ addresses, channels, sockets: shape.sockets, frameBytes: shape.frameBytes, port: 80, echo: shape.echo });
    try {
      await sleep(1000); // warm-up
      const a = await child.request<Sample>({ type: 'sample' }, 'sample');
      const g0 = process.cpuUsage();
      await sleep(seconds * 1000);
      const b = await child.request<Sample>({ type: 'sample' }, 'sample');
      const g = process.cpuUsage(g0);
      const wall = (b.at - a.at) / 1000;
      if (gen.stats.resets > 0 || gen.stats.errors.length > 0) throw new Error(`${config.name}/${shape.name}: ${gen.stats.resets} resets (by reason ${JSON.stringify(gen.stats.resetReasons)}), errors ${gen.stats.errors.join('; ')}`);
      await gen.finish(30_000);
      return { mbs: (b.bytes - a.bytes) / MB / wall, receiverCores: (b.cpuUs - a.cpuUs) / 1e6 / wall, generatorCores: (g.user + g.system) / 1e6 / wall, generatorSys: g.system / 1e6 / wall, mainElu: b.elu };
    } finally {
      gen.close();
    }
  } finally {
    await child.shutdown(3000);
  }
}

/**
 * Elastic channel workers under the receiver-bound load: one receiver with
 * `workers: { channel: { min: 1, max: 2 } }` and one listen address, idle, then the
 * short-message load for `seconds`, then idle again; prints its `worker-scaling` events
 * with their times and the `netchannel_worker_scaling_total` series.
 */
export async function elasticDemo(seconds = 6, channels = 4): Promise<void> {
  const config: Config = { name: 'elastic', listeners: 1, workers: { channel: { min: 1, max: 2 } } };
  const child = new ForkedChild('receiver elastic', SELF, ['--receiver', JSON.stringify({ config, echo: false, transport: 'tcp' })]);
  try {
    const ready = await child.expect<Message & { addresses: string[] }>('ready');
    const addresses = ready.addresses.map(dialAddress);
    const shape = SHAPES.find((x) => x.name === 'short')!;
    // A first connection starts the pool; then 2 s idle, the load, 3 s idle.
    const probe = await WireGenerator.start({ addresses, channels: 1, sockets: 1, frameBytes: 1024, port: 80, maxBytes: 1024 });
    await probe.finish();
    probe.close();
    await sleep(2000);
    const loadAt = (await child.request<Message & { at: number }>({ type: 'events' }, 'events')).at;
    const gen = await WireGenerator.start({ addresses, channels, sockets: shape.sockets, frameBytes: shape.frameBytes, port: 80 });
    await sleep(seconds * 1000);
    const a = await child.request<Sample>({ type: 'sample' }, 'sample');
    await gen.finish(30_000);
    gen.close();
    const stopAt = (await child.request<Message & { at: number }>({ type: 'events' }, 'events')).at;
    await sleep(3000);
    const ev = await child.request<Message & { lines: string[]; metric: string[] }>({ type: 'events' }, 'events');
    console.log(`\nelastic channel workers (min 1, max 2, one listener): load from ${loadAt.toFixed(1)} s to ${stopAt.toFixed(1)} s (${(a.bytes / MB).toFixed(0)} MB received)`);
    for (const l of ev.lines) console.log(`  ${l}`);
    if (ev.lines.length === 0) console.log('  (no worker-scaling event)');
    for (const m of ev.metric) console.log(`  ${m}`);
  } finally {
    await child.shutdown(3000);
  }
}

/** Options of {@link scalingBench}. */
export interface ScalingBenchOptions {
  /** Interleaved rounds (medians are printed). @default 3 */
  rounds?: number;
  /** Measured seconds per run (after 1 s of warm-up). @default 4 */
  seconds?: number;
  /** Shapes to run. @default all (bulk, short, echo) */
  only?: string[];
  /** Configurations by name ({@link configByName}). @default {@link DEFAULT_CONFIGS} */
  configs?: string[];
  /** TCP channels the generator opens. @default 4 */
  channels?: number;
  /** Transport between generator and receiver: loopback TCP, or unix sockets (less kernel work per byte). @default 'tcp' */
  transport?: Transport;
  /** Directory for receiver CPU profiles (every thread). */
  cpuProf?: string;
  /** Write the results as JSON here. */
  json?: string;
}

/** Runs the bench and prints one table per shape. */
export async function scalingBench(o: ScalingBenchOptions = {}): Promise<void> {
  const rounds = o.rounds ?? 3;
  const seconds = o.seconds ?? 4;
  const channels = o.channels ?? 4;
  const shapes = SHAPES.filter((s) => !o.only || o.only.includes(s.name));
  const list = (o.configs ?? DEFAULT_CONFIGS).map(configByName);
  console.log(`scaling bench: ${os.availableParallelism()} cores, load ${os.loadavg()[0]!.toFixed(2)}; ${rounds} interleaved rounds × ${seconds} s; generator: ${channels} ${o.transport ?? 'tcp'} channels in this process`);
  const out: Record<string, Record<string, Result[]>> = {};
  for (const shape of shapes) {
    out[shape.name] = {};
    for (let r = 0; r < rounds; r++) {
      for (const c of list) {
        const res = await runOnce(c, shape, seconds, channels, o.cpuProf, o.transport ?? 'tcp');
        (out[shape.name]![c.name] ??= []).push(res);
        process.stderr.write(`  ${shape.name} round ${r + 1} ${c.name}: ${res.mbs.toFixed(0)} MB/s, receiver ${res.receiverCores.toFixed(2)} cores (main ELU ${res.mainElu.toFixed(2)}), generator ${res.generatorCores.toFixed(2)} (kernel ${res.generatorSys.toFixed(2)})\n`);
      }
    }
    const byConfig = out[shape.name]!;
    const median = (rs: Result[], key: keyof Result): number => summarize(rs.map((x) => x[key])).median;
    const inline = byConfig.inline ? median(byConfig.inline, 'mbs') : NaN;
    const rows = list.map((c) => {
      const rs = byConfig[c.name]!;
      const mbs = summarize(rs.map((x) => x.mbs));
      return [
        c.name,
        mbs.median.toFixed(0),
        `${mbs.min.toFixed(0)}–${mbs.max.toFixed(0)}`,
        median(rs, 'receiverCores').toFixed(2),
        median(rs, 'mainElu').toFixed(2),
        (mbs.median / median(rs, 'receiverCores')).toFixed(0),
        median(rs, 'generatorCores').toFixed(2),
        Number.isNaN(inline) ? '—' : `${(mbs.median / inline).toFixed(2)}×`,
      ];
    });
    console.log(`\n${shape.name}: ${shape.sockets} sockets, ${shape.frameBytes / 1024} KiB frames${shape.echo ? ', echoed' : ''} (medians of ${rounds})`);
    console.log(renderTable(['receiver', 'MB/s', 'range', 'receiver cores', 'main ELU', 'MB per CPU-s', 'generator cores', 'vs inline'], rows));
  }
  if (o.json) writeFileSync(o.json, JSON.stringify(out, null, 2));
}

if (process.argv[1] === SELF) {
  const { values } = parseArgs({
    options: {
      receiver: { type: 'string' },
      rounds: { type: 'string', default: '3' },
      seconds: { type: 'string', default: '4' },
      only: { type: 'string' },
      configs: { type: 'string' },
      channels: { type: 'string', default: '4' },
      'cpu-prof': { type: 'string' },
      json: { type: 'string' },
      elastic: { type: 'boolean', default: false },
      transport: { type: 'string', default: 'tcp' },
    },
  });
  if (values.receiver !== undefined) {
    const { config, echo, transport } = JSON.parse(values.receiver) as { config: Config; echo: boolean; transport: Transport };
    await receiver(config, echo, transport);
  } else if (values.elastic) {
    await elasticDemo(Number(values.seconds), Number(values.channels));
    process.exit(0);
  } else {
    await scalingBench({
      rounds: Number(values.rounds),
      seconds: Number(values.seconds),
      only: values.only?.split(','),
      configs: values.configs?.split(','),
      channels: Number(values.channels),
      cpuProf: values['cpu-prof'],
      json: values.json,
      transport: values.transport === 'unix' ? 'unix' : 'tcp',
    });
    process.exit(0);
  }
}
