/**
 * isolation: one latency socket does 4 KB ping-pong while 8 throughput sockets saturate
 * the same two processes; and the same ping-pong alone (unloaded baseline). A variant
 * runs 8 latency sockets (each its own closed loop) beside the 8 bulk ones.
 * @packageDocumentation
 */
import { randomBytes } from 'node:crypto';
import { within } from '../lib/deadline.js';
import { LatencyRecorder } from '../lib/histogram.js';
import { dial, listen, type KindSpec, type Pipe, type Target } from '../pipes/index.js';
import type { Chart } from '../report/svg.js';
import { barPanel, groupedPanel } from './charts.js';
import { responder, routeByTag, TAG } from './handlers.js';
import { joinRunTraces, saveTrace, traceLines, TRACE_FIGURE } from './iso-trace.js';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { compassLine, CPU_METRICS, med, ratio, ratioLine, summaryOf, type Metric } from './summary.js';
import type { CaseDef, ClientSide, Json, Profile, Scenario, ServerSide } from './types.js';

const SIZE = 4096;
const BULK_PIPES = 8;
const BULK_BLOCK = 256 * 1024;
/** Latency sockets of the many-latency variant (the thesis's second isolation setup). */
const MANY_LATENCY = 8;
const DURATION: Record<Profile, number> = { full: 3000, quick: 1000, tiny: 200 };
const WARM: Record<Profile, number> = { full: 300, quick: 200, tiny: 50 };

interface IsoParams {
  kind: KindSpec;
  loaded: boolean;
  durationMs: number;
  warmMs: number;
  /** Latency sockets doing ping-pong at once (each closed-loop). */
  latencySockets: number;
}

const PING = new Uint8Array(SIZE).fill(0x70);
const BULK = randomBytes(BULK_BLOCK);

async function server(params: { [k: string]: Json }): Promise<ServerSide> {
  const p = params as unknown as IsoParams;
  let bulkBytes = 0;
  let b0 = 0;
  let t0 = 0n;
  let loop: ReturnType<typeof loopDelay> | null = null;
  const listener = await listen(p.kind, (pipe) =>
    routeByTag(pipe, {
      [TAG.latency]: (lp) => responder(lp, SIZE, PING),
      [TAG.bulk]: () => (n) => (bulkBytes += n),
    }),
  );
  return {
    target: listener.target as unknown as Json,
    start: () => {
      b0 = bulkBytes;
      t0 = process.hrtime.bigint();
      listener.latencyTrace?.(); // clears what the warm-up recorded
      loop = loopDelay();
    },
    stop: () => {
      const trace = listener.latencyTrace?.();
      return {
        bulkBytes: bulkBytes - b0,
        bulkNs: Number(process.hrtime.bigint() - t0),
        ...loop?.stop(),
        ...(trace?.enabled && { [TRACE_FIGURE]: saveTrace(trace) }),
      };
    },
    teardown: () => listener.close(),
  };
}

/** Event-loop delay from now until `stop()`: its p99 and max, µs. */
function loopDelay(): { stop(): { loopP99Us: number; loopMaxUs: number } } {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  return {
    stop: () => {
      h.disable();
      return { loopP99Us: h.percentile(99) / 1000, loopMaxUs: h.max / 1000 };
    },
  };
}

/** Writes until `stop()` says so. */
async function saturate(pipe: Pipe, stopped: () => boolean): Promise<void> {
  while (!stopped()) {
    if (!pipe.write(BULK)) await pipe.drained();
  }
}

async function client(params: { [k: string]: Json }, target: Json): Promise<ClientSide> {
  const p = params as unknown as IsoParams;
  const dialer = await dial(p.kind, target as unknown as Target);
  const lats: Array<{ pipe: Pipe; pong(): Promise<void> }> = [];
  for (let i = 0; i < p.latencySockets; i++) lats.push(await latencyPipe(await dialer.open({ latency: true })));
  const bulk: Pipe[] = [];
  for (let i = 0; p.loaded && i < BULK_PIPES; i++) {
    const b = await dialer.open();
    b.write(new Uint8Array([TAG.bulk]));
    bulk.push(b);
  }
  return {
    run: async () => {
      let stop = false;
      const writers = bulk.map((b) => saturate(b, () => stop));
      if (p.loaded) await new Promise((resolve) => setTimeout(resolve, p.warmMs));
      const rec = new LatencyRecorder();
      dialer.latencyTrace?.(); // clears what the warm-up recorded
      const loop = loopDelay();
      const end = performance.now() + p.durationMs;
      await Promise.all(
        lats.map(async ({ pipe, pong }) => {
          while (performance.now() < end) {
            const t = process.hrtime.bigint();
            const got = pong();
            pipe.write(PING);
            await got;
            rec.recordSince(t);
          }
        }),
      );
      stop = true;
      await within(Promise.all(writers), 10_000);
      const loopFigures = loop.stop();
      const trace = dialer.latencyTrace?.();
      const f = rec.figures();
      return {
        samples: f.count,
        p50Us: f.p50Us,
        p99Us: f.p99Us,
        p999Us: f.p999Us,
        maxUs: f.maxUs,
        ...loopFigures,
        ...(trace?.enabled && { [TRACE_FIGURE]: saveTrace(trace) }),
      };
    },
    teardown: () => dialer.close(),
  };
}

/** Tags `pipe` as a latency socket; `pong()` resolves when the next 4 KB reply has arrived. */
async function latencyPipe(pipe: Pipe): Promise<{ pipe: Pipe; pong(): Promise<void> }> {
  pipe.write(new Uint8Array([TAG.latency]));
  let waiting: (() => void) | null = null;
  let acc = 0;
  pipe.onData((c) => {
    acc += c.byteLength;
    if (acc >= SIZE) {
      acc -= SIZE;
      waiting?.();
    }
  });
  return { pipe, pong: () => new Promise((resolve) => (waiting = resolve)) };
}

const METRICS: Metric[] = [
  { key: 'p50', label: 'p50 µs', digits: 0, value: (r) => r.client['p50Us']! },
  { key: 'p99', label: 'p99 µs', digits: 0, value: (r) => r.client['p99Us']! },
  { key: 'p999', label: 'p99.9 µs', digits: 0, value: (r) => r.client['p999Us']! },
  { key: 'samples', label: 'pings', digits: 0, value: (r) => r.client['samples']! },
  { key: 'bulk', label: 'bulk Gbit/s', digits: 2, value: (r) => (r.server['bulkBytes']! * 8) / r.server['bulkNs']! },
  { key: 'loop', label: 'loop delay p99 µs (client/server max)', digits: 0, value: (r) => Math.max(r.client['loopP99Us'] ?? 0, r.server['loopP99Us'] ?? 0) },
  ...CPU_METRICS,
];

const TRACED = 'netchannel iso on, traced';
const KINDS: [string, KindSpec][] = [
  ['raw net', { kind: 'net' }],
  ['netchannel iso on', { kind: 'netchannel', channels: 4, latencyChannels: 1, isolation: true }],
  // The same, with the latency trace on (per-stage figures); separate, so that the
  // headline case does not carry the trace's own cost.
  [TRACED, { kind: 'netchannel', channels: 4, latencyChannels: 1, isolation: true, trace: true }],
  ['netchannel iso off', { kind: 'netchannel', channels: 4, latencyChannels: 0, isolation: false }],
  ['http2', { kind: 'http2' }],
  ['yamux', { kind: 'yamux' }],
];
const UNLOADED = ' (unloaded)';
const MANY = `, ${MANY_LATENCY} lat`;
/** Kinds that also run the many-latency variant (loaded only). */
const MANY_KINDS = KINDS.filter(([l]) => l === 'raw net' || l === 'netchannel iso on' || l === 'yamux');

export const isolation: Scenario = {
  name: 'isolation',
  title: 'Latency isolation under bulk load',
  description:
    `A latency socket does closed-loop 4 KB ping-pong for ${DURATION.full / 1000} s (quick: ${DURATION.quick / 1000} s) while ${BULK_PIPES} throughput sockets send as fast as they can in the same two processes; each case also runs unloaded (ping-pong alone) as its baseline. ` +
    `raw net: ${BULK_PIPES + 1} separate TCP connections; netchannel iso on: 4 throughput channels + 1 latency channel, the latency socket on the latency channel with receive priority (", traced": the same with the latency trace on, which prints where the time goes per stage); netchannel iso off: \`scheduler: { isolation: false }\` and \`channels: { latency: 0 }\`, so the latency socket shares the 4 throughput channels; http2 and yamux: ${BULK_PIPES + 1} streams on one connection. ` +
    `Cases ending "${', ' + MANY_LATENCY} lat" run ${MANY_LATENCY} latency sockets at once, each its own closed loop, beside the same bulk load (all their round trips in one histogram). ` +
    'Bulk Gbit/s is what the server received during the run.',
  cases: (profile) => [
    ...[true, false].flatMap((loaded) => KINDS.map(([label, kind]): CaseDef => ({ label: loaded ? label : label + UNLOADED, params: { kind, loaded, durationMs: DURATION[profile], warmMs: WARM[profile], latencySockets: 1 } }))),
    ...MANY_KINDS.map(([label, kind]): CaseDef => ({ label: label + MANY, params: { kind, loaded: true, durationMs: DURATION[profile], warmMs: WARM[profile], latencySockets: MANY_LATENCY } })),
  ],
  timeoutMs: () => 60_000,
  server,
  client,
  report(records, cases) {
    joinRunTraces(records);
    const { m, header, rows } = summaryOf(records, cases, METRICS);
    const ratios = [
      ...KINDS.map(([l]) => `${ratioLine(`${l}: p99 loaded / unloaded`, ratio(med(m, l, 'p99'), med(m, l + UNLOADED, 'p99')))}; ${ratioLine('p99.9', ratio(med(m, l, 'p999'), med(m, l + UNLOADED, 'p999')))}`),
      ...cases.flatMap((c) => traceLines(c.label, records)),
      ...MANY_KINDS.filter(([l]) => l !== 'raw net').map(([l]) => `${ratioLine(`raw net / ${l} p99, 1 latency socket`, ratio(med(m, 'raw net', 'p99'), med(m, l, 'p99')))}; ${ratioLine(`${MANY_LATENCY} latency sockets`, ratio(med(m, 'raw net' + MANY, 'p99'), med(m, l + MANY, 'p99')))}`),
    ];
    const labels = KINDS.map(([l]) => l).filter((l) => l !== TRACED);
    const chart: Chart = {
      title: `isolation: 4 KB ping-pong beside ${BULK_PIPES} saturating sockets`,
      subtitle: 'bars = median over runs, whiskers = min–max; latency axis is logarithmic',
      panels: [
        groupedPanel(
          'Ping-pong round-trip latency',
          'µs',
          labels,
          [
            { name: 'unloaded p99.9', key: 'p999', label: (c) => c + UNLOADED },
            { name: 'loaded p50', key: 'p50' },
            { name: 'loaded p99', key: 'p99' },
            { name: 'loaded p99.9', key: 'p999' },
          ],
          m,
          true,
        ),
        barPanel('Bulk throughput beside the ping-pong', 'Gbit/s (8 sockets together)', cases.filter((c) => !c.label.endsWith(UNLOADED) && !c.label.endsWith(MANY)), m, 'bulk'),
      ],
    };
    const nc = 'netchannel iso on';
    return {
      header,
      rows,
      ratios,
      notes: ['"loaded/isolated" compares the netchannel iso-on latency socket with bulk load to the same socket alone; "netchannel" is iso on.'],
      chart,
      compass: [
        compassLine('isolation: latency p99.9 loaded/isolated', ratio(med(m, nc, 'p999'), med(m, nc + UNLOADED, 'p999')), '<=', 2, '2'),
        compassLine('isolation: raw net loaded p99 / netchannel loaded p99', ratio(med(m, 'raw net', 'p99'), med(m, nc, 'p99')), '>=', 10, '10'),
        compassLine(`isolation: raw net / netchannel loaded p99, ${MANY_LATENCY} latency sockets`, ratio(med(m, 'raw net' + MANY, 'p99'), med(m, nc + MANY, 'p99')), '>=', 10, '10'),
      ],
      medians: m,
    };
  },
};
