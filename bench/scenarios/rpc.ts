/**
 * rpc: 4 KB requests and 4 KB responses with 64 in flight. Long-lived connections are
 * pipelined (8 connections × 8 outstanding): raw net (8 TCP connections), netchannel
 * (8 virtual sockets over 1, 2 or 4 channels), yamux (8 streams on one connection);
 * node:http2 uses its idiom, one stream per request, 64 concurrent on one session.
 * @packageDocumentation
 */
import { dial, listen, type Dialer, type KindSpec, type Pipe, type Target } from '../pipes/index.js';
import { LatencyRecorder } from '../lib/histogram.js';
import type { Chart } from '../report/svg.js';
import { barPanel } from './charts.js';
import { responder } from './handlers.js';
import { compassLine, CPU_METRICS, cpuSeconds, med, ratio, ratiosAgainst, summaryOf, type Metric } from './summary.js';
import type { CaseDef, ClientSide, Json, Profile, Scenario, ServerSide } from './types.js';

const SIZE = 4096;
const CONNS = 8;
const DEPTH = 8;
const DURATION: Record<Profile, number> = { full: 3000, quick: 1000, tiny: 200 };

interface RpcParams {
  kind: KindSpec;
  /** `pipelined`: `conns` long-lived pipes with `depth` outstanding each; `per-request`: conns × depth concurrent request streams. */
  mode: 'pipelined' | 'per-request';
  conns: number;
  depth: number;
  durationMs: number;
}

const REQUEST = new Uint8Array(SIZE).fill(0x71);
const RESPONSE = new Uint8Array(SIZE).fill(0x72);

async function server(params: { [k: string]: Json }): Promise<ServerSide> {
  const p = params as unknown as RpcParams;
  const listener = await listen(p.kind, (pipe) => {
    const consume = responder(pipe, SIZE, RESPONSE);
    pipe.onData((c) => consume(c.byteLength));
  });
  return { target: listener.target as unknown as Json, stop: () => ({}), teardown: () => listener.close() };
}

/** State of one measured phase. */
class Load {
  running = true;
  ops = 0;
  outstanding = 0;
  lastNs = 0n;
  readonly lat = new LatencyRecorder();
  private idle: (() => void) | null = null;
  done(startNs: bigint): void {
    this.ops++;
    this.lastNs = process.hrtime.bigint();
    this.lat.recordSince(startNs);
  }
  /** Resolves when nothing is outstanding any more. */
  settled(): Promise<void> {
    return this.outstanding === 0 ? Promise.resolve() : new Promise((resolve) => (this.idle = resolve));
  }
  release(): void {
    if (--this.outstanding === 0) this.idle?.();
  }
}

/** One long-lived pipe: on every full response, record it and send the next request. */
function pipelined(pipe: Pipe, load: Load, depth: number): () => void {
  const starts: bigint[] = [];
  let acc = 0;
  const send = (): void => {
    load.outstanding++;
    starts.push(process.hrtime.bigint());
    pipe.write(REQUEST);
  };
  pipe.onData((chunk) => {
    acc += chunk.byteLength;
    while (acc >= SIZE) {
      acc -= SIZE;
      load.done(starts.shift()!);
      if (load.running) send();
      load.release();
    }
  });
  return () => {
    for (let i = 0; i < depth; i++) send();
  };
}

/** One worker of the per-request mode: open a stream, send, read the response, close; repeat. */
async function perRequestWorker(dialer: Dialer, load: Load): Promise<void> {
  while (load.running) {
    load.outstanding++;
    const t = process.hrtime.bigint();
    const pipe = await dialer.open();
    let got = 0;
    pipe.onData((c) => (got += c.byteLength));
    pipe.write(REQUEST);
    await pipe.close();
    if (got !== SIZE) throw new Error(`per-request stream got ${got} response bytes, expected ${SIZE}`);
    load.done(t);
    load.release();
  }
}

async function client(params: { [k: string]: Json }, target: Json): Promise<ClientSide> {
  const p = params as unknown as RpcParams;
  const dialer = await dial(p.kind, target as unknown as Target);
  const pipes = p.mode === 'pipelined' ? await Promise.all(Array.from({ length: p.conns }, () => dialer.open())) : [];
  return {
    run: async () => {
      const load = new Load();
      const t0 = process.hrtime.bigint();
      let workers: Promise<void>[] = [];
      if (p.mode === 'pipelined') pipes.map((pipe) => pipelined(pipe, load, p.depth)).forEach((start) => start());
      else workers = Array.from({ length: p.conns * p.depth }, () => perRequestWorker(dialer, load));
      await new Promise((resolve) => setTimeout(resolve, p.durationMs));
      load.running = false;
      await Promise.all(workers);
      await load.settled();
      const l = load.lat.figures();
      return { ops: load.ops, elapsedNs: Number(load.lastNs - t0), p50Us: l.p50Us, p99Us: l.p99Us, p999Us: l.p999Us };
    },
    teardown: () => dialer.close(),
  };
}

const METRICS: Metric[] = [
  { key: 'kops', label: 'kops/s', digits: 1, value: (r) => (r.client['ops']! * 1e6) / r.client['elapsedNs']! },
  { key: 'opscpu', label: 'kops per CPU-s', digits: 1, value: (r) => r.client['ops']! / 1e3 / cpuSeconds(r) },
  { key: 'p50', label: 'p50 µs', digits: 0, value: (r) => r.client['p50Us']! },
  { key: 'p99', label: 'p99 µs', digits: 0, value: (r) => r.client['p99Us']! },
  ...CPU_METRICS,
];

const CASES: [string, KindSpec, RpcParams['mode']][] = [
  ['raw net', { kind: 'net' }, 'pipelined'],
  ['netchannel 1ch', { kind: 'netchannel', channels: 1 }, 'pipelined'],
  ['netchannel 2ch', { kind: 'netchannel', channels: 2 }, 'pipelined'],
  ['netchannel 4ch', { kind: 'netchannel', channels: 4 }, 'pipelined'],
  ['http2', { kind: 'http2' }, 'per-request'],
  ['yamux', { kind: 'yamux' }, 'pipelined'],
];

export const rpc: Scenario = {
  name: 'rpc',
  title: 'Request/response, 64 in flight',
  description:
    `4 KB requests answered with 4 KB responses for ${DURATION.full / 1000} s (quick: ${DURATION.quick / 1000} s), ${CONNS * DEPTH} requests in flight. ` +
    `Comparable concurrency: the application holds ${CONNS} connections with ${DEPTH} pipelined requests each — ${CONNS} TCP connections for raw net, ${CONNS} virtual sockets for netchannel (spread over 1, 2 or 4 channels), ${CONNS} streams on one TCP connection for yamux. ` +
    `HTTP/2 is used the way RPC frameworks use it: one stream per request, ${CONNS * DEPTH} concurrent streams on one session. ` +
    'kops per CPU-s divides completed requests by the CPU seconds of both processes; latency is per request (send to full response).',
  cases: (profile) => CASES.map(([label, kind, mode]): CaseDef => ({ label, params: { kind, mode, conns: CONNS, depth: DEPTH, durationMs: DURATION[profile] } })),
  timeoutMs: () => 60_000,
  server,
  client,
  report(records, cases) {
    const { m, header, rows } = summaryOf(records, cases, METRICS);
    const nc = 'netchannel 4ch';
    const ratios = ratiosAgainst(cases, m, 'raw net', 'ops/s', 'kops', 'ops per CPU-s', 'opscpu');
    const chart: Chart = {
      title: `rpc: 4 KB request / 4 KB response, ${CONNS * DEPTH} in flight`,
      subtitle: 'bars = median, whiskers = min–max; http2 = one stream per request',
      panels: [barPanel('Rate', 'thousand requests per second', cases, m, 'kops'), barPanel('Efficiency', 'thousand requests per CPU-second', cases, m, 'opscpu')],
    };
    return {
      header,
      rows,
      ratios,
      notes: ['"netchannel" in the compass line is the 4-channel case (the default configuration).'],
      chart,
      compass: [compassLine('rpc: netchannel / raw net ops per CPU-s', ratio(med(m, nc, 'opscpu'), med(m, 'raw net', 'opscpu')), '>=', 1.5, '1.5')],
      medians: m,
    };
  },
};
