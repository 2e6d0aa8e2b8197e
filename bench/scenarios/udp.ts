/**
 * udp: netchannel over udp:// channels against tcp:// channels in the same run. Bulk
 * (one socket over 1 and 4 channels: Gbit/s, CPU-s per GB), 4 KB RPC (8 sockets × 8 in
 * flight: p50/p99/p99.9) and the latency class (one latency socket, one 4 KB request at
 * a time) through the impairment proxy, lossless and at 1% loss.
 * @packageDocumentation
 */
import { dial, listen, type KindSpec, type Pipe, type Target } from '../pipes/index.js';
import { LatencyRecorder } from '../lib/histogram.js';
import type { Chart } from '../report/svg.js';
import { barPanel } from './charts.js';
import { responder } from './handlers.js';
import { streamClient, streamServer } from './stream.js';
import { CPU_METRICS, cpuSeconds, med, ratio, ratioLine, summaryOf, type Metric } from './summary.js';
import type { CaseDef, ClientSide, Json, Profile, Scenario, ServerSide } from './types.js';

const SIZE = 4096;
const BYTES: Record<Profile, number> = { full: 1024 ** 3, quick: 128 * 1024 ** 2, tiny: 4 * 1024 ** 2 };
const DURATION: Record<Profile, number> = { full: 2000, quick: 1000, tiny: 200 };
const REQUEST = new Uint8Array(SIZE).fill(0x75);
const RESPONSE = new Uint8Array(SIZE).fill(0x76);

type Mode = 'bulk' | 'rpc' | 'latency';

interface UdpParams {
  mode: Mode;
  kind: KindSpec;
  bytes: number;
  block: number;
  conns: number;
  depth: number;
  durationMs: number;
}

const nc = (channels: number, transport: 'tcp' | 'udp', extra: Partial<Extract<KindSpec, { kind: 'netchannel' }>> = {}): KindSpec => ({
  kind: 'netchannel',
  channels,
  transport: transport === 'tcp' ? { kind: 'tcp' } : { kind: 'udp' },
  ...extra,
});

const CASES: [string, Mode, KindSpec][] = [
  ['tcp 1ch bulk', 'bulk', nc(1, 'tcp')],
  ['udp 1ch bulk', 'bulk', nc(1, 'udp')],
  ['tcp 4ch bulk', 'bulk', nc(4, 'tcp')],
  ['udp 4ch bulk', 'bulk', nc(4, 'udp')],
  ['tcp 1ch rpc', 'rpc', nc(1, 'tcp')],
  ['udp 1ch rpc', 'rpc', nc(1, 'udp')],
  ['tcp 4ch rpc', 'rpc', nc(4, 'tcp')],
  ['udp 4ch rpc', 'rpc', nc(4, 'udp')],
  ['udp latency, proxy lossless', 'latency', { kind: 'netchannel', channels: 1, latencyChannels: 1, transport: { kind: 'udp', proxy: true } }],
  ['udp latency, proxy 1% loss', 'latency', { kind: 'netchannel', channels: 1, latencyChannels: 1, transport: { kind: 'udp', proxy: true, loss: 0.01 } }],
];

async function server(params: { [k: string]: Json }): Promise<ServerSide> {
  const p = params as unknown as UdpParams;
  if (p.mode === 'bulk') return streamServer({ kind: p.kind as unknown as Json, bytes: p.bytes, block: p.block });
  const listener = await listen(p.kind, (pipe) => {
    const consume = responder(pipe, SIZE, RESPONSE);
    pipe.onData((c) => consume(c.byteLength));
  });
  return { target: listener.target as unknown as Json, stop: () => ({}), teardown: () => listener.close() };
}

/** One pipe with `depth` requests outstanding: every full response is recorded and replaced. */
function pipelined(pipe: Pipe, depth: number, lat: LatencyRecorder, state: { running: boolean; ops: number; outstanding: number; idle?: () => void }): void {
  const starts: bigint[] = [];
  let acc = 0;
  const send = (): void => {
    state.outstanding++;
    starts.push(process.hrtime.bigint());
    pipe.write(REQUEST);
  };
  pipe.onData((chunk) => {
    acc += chunk.byteLength;
    while (acc >= SIZE) {
      acc -= SIZE;
      lat.recordSince(starts.shift()!);
      state.ops++;
      if (state.running) send();
      if (--state.outstanding === 0) state.idle?.();
    }
  });
  for (let i = 0; i < depth; i++) send();
}

async function client(params: { [k: string]: Json }, target: Json): Promise<ClientSide> {
  const p = params as unknown as UdpParams;
  if (p.mode === 'bulk') return streamClient({ kind: p.kind as unknown as Json, bytes: p.bytes, block: p.block }, target);
  const dialer = await dial(p.kind, target as unknown as Target);
  const pipes = await Promise.all(Array.from({ length: p.conns }, () => dialer.open({ latency: p.mode === 'latency' })));
  return {
    run: async () => {
      const lat = new LatencyRecorder();
      const state: { running: boolean; ops: number; outstanding: number; idle?: () => void } = { running: true, ops: 0, outstanding: 0 };
      const t0 = process.hrtime.bigint();
      for (const pipe of pipes) pipelined(pipe, p.depth, lat, state);
      await new Promise((resolve) => setTimeout(resolve, p.durationMs));
      state.running = false;
      if (state.outstanding > 0) await new Promise<void>((resolve) => (state.idle = resolve));
      const l = lat.figures();
      return { ops: state.ops, elapsedNs: Number(process.hrtime.bigint() - t0), p50Us: l.p50Us, p99Us: l.p99Us, p999Us: l.p999Us };
    },
    teardown: () => dialer.close(),
  };
}

const bulkOnly = (f: (r: Parameters<Metric['value']>[0]) => number): Metric['value'] => (r) => (r.client['bytes'] === undefined ? NaN : f(r));
const rpcOnly = (f: (r: Parameters<Metric['value']>[0]) => number): Metric['value'] => (r) => (r.client['ops'] === undefined ? NaN : f(r));

const METRICS: Metric[] = [
  { key: 'gbit', label: 'Gbit/s', digits: 2, value: bulkOnly((r) => (r.client['bytes']! * 8) / r.wallNs) },
  { key: 'cpugb', label: 'CPU-s per GB', digits: 2, value: bulkOnly((r) => cpuSeconds(r) / (r.client['bytes']! / 1e9)) },
  { key: 'kops', label: 'kops/s', digits: 1, value: rpcOnly((r) => (r.client['ops']! * 1e6) / r.client['elapsedNs']!) },
  { key: 'p50', label: 'p50 µs', digits: 0, value: rpcOnly((r) => r.client['p50Us']!) },
  { key: 'p99', label: 'p99 µs', digits: 0, value: rpcOnly((r) => r.client['p99Us']!) },
  { key: 'p999', label: 'p99.9 µs', digits: 0, value: rpcOnly((r) => r.client['p999Us']!) },
  ...CPU_METRICS,
];

export const udpScenario: Scenario = {
  name: 'udp',
  title: 'udp:// channels against tcp:// channels',
  description:
    `netchannel with udp:// channels (65,000-byte datagrams on loopback) against tcp:// channels, two processes. ` +
    `Bulk: one socket sends ${BYTES.full / 1024 ** 3} GiB (quick: ${BYTES.quick / 1024 ** 2} MiB) over 1 and 4 channels; CPU-s per GB counts both processes. ` +
    `RPC: 8 sockets × 8 pipelined 4 KB requests (4 KB responses) for ${DURATION.full / 1000} s. ` +
    'Latency: one latency-class socket, one 4 KB request at a time, through the UDP impairment proxy (bench/lib/udp-impair-proxy.ts, in the server process), lossless and with 1% of datagrams dropped in each direction.',
  cases: (profile) =>
    CASES.map(([label, mode, kind]): CaseDef => ({
      label,
      params: {
        mode,
        kind: kind as unknown as Json,
        bytes: BYTES[profile],
        block: 1024 * 1024,
        conns: mode === 'latency' ? 1 : 8,
        depth: mode === 'latency' ? 1 : 8,
        durationMs: DURATION[profile],
      },
    })),
  timeoutMs: () => 60_000,
  server,
  client,
  report(records, cases) {
    const { m, header, rows } = summaryOf(records, cases, METRICS);
    const clean = rows.map((r) => r.map((cell) => (cell.startsWith('NaN') ? '–' : cell)));
    const r = (a: string, b: string, key: string): number | null => ratio(med(m, a, key), med(m, b, key));
    const ratios = [
      ratioLine('udp 1ch / tcp 1ch bulk Gbit/s', r('udp 1ch bulk', 'tcp 1ch bulk', 'gbit')),
      ratioLine('udp 4ch / tcp 4ch bulk Gbit/s', r('udp 4ch bulk', 'tcp 4ch bulk', 'gbit')),
      ratioLine('udp 4ch / tcp 4ch rpc p99', r('udp 4ch rpc', 'tcp 4ch rpc', 'p99')),
      ratioLine('latency p99 at 1% loss / lossless', r('udp latency, proxy 1% loss', 'udp latency, proxy lossless', 'p99')),
    ];
    const bulkCases = cases.filter((c) => c.params['mode'] === 'bulk');
    const rpcCases = cases.filter((c) => c.params['mode'] !== 'bulk');
    const chart: Chart = {
      title: 'udp: udp:// vs tcp:// channels',
      subtitle: 'bars = median, whiskers = min–max',
      panels: [barPanel('Bulk throughput', 'Gbit/s', bulkCases, m, 'gbit'), barPanel('4 KB request p99', 'µs (log)', rpcCases, m, 'p99', 1, true)],
    };
    return {
      header,
      rows: clean,
      ratios,
      notes: ['No goal for udp against tcp bulk rates: udp:// exists for paths where TCP is unavailable or unwanted; the figures show what it costs.'],
      chart,
      compass: [],
      medians: Object.fromEntries(Object.entries(m).map(([label, v]) => [label, Object.fromEntries(Object.entries(v).filter(([, s]) => !Number.isNaN(s.median)))])),
    };
  },
};
