/**
 * isolation: one latency socket does 4 KB ping-pong while 8 throughput sockets saturate
 * the same two processes; and the same ping-pong alone (unloaded baseline).
 * @packageDocumentation
 */
import { randomBytes } from 'node:crypto';
import { within } from '../lib/deadline.js';
import { LatencyRecorder } from '../lib/histogram.js';
import { dial, listen, type KindSpec, type Pipe, type Target } from '../pipes/index.js';
import type { Chart } from '../report/svg.js';
import { barPanel, groupedPanel } from './charts.js';
import { responder, routeByTag, TAG } from './handlers.js';
import { compassLine, CPU_METRICS, med, ratio, ratioLine, summaryOf, type Metric } from './summary.js';
import type { CaseDef, ClientSide, Json, Profile, Scenario, ServerSide } from './types.js';

const SIZE = 4096;
const BULK_PIPES = 8;
const BULK_BLOCK = 256 * 1024;
const DURATION: Record<Profile, number> = { full: 3000, quick: 1000, tiny: 200 };
const WARM: Record<Profile, number> = { full: 300, quick: 200, tiny: 50 };

interface IsoParams {
  kind: KindSpec;
  loaded: boolean;
  durationMs: number;
  warmMs: number;
}

const PING = new Uint8Array(SIZE).fill(0x70);
const BULK = randomBytes(BULK_BLOCK);

async function server(params: { [k: string]: Json }): Promise<ServerSide> {
  const p = params as unknown as IsoParams;
  let bulkBytes = 0;
  let b0 = 0;
  let t0 = 0n;
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
    },
    stop: () => ({ bulkBytes: bulkBytes - b0, bulkNs: Number(process.hrtime.bigint() - t0) }),
    teardown: () => listener.close(),
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
  const lat = await dialer.open({ latency: true });
  lat.write(new Uint8Array([TAG.latency]));
  const bulk: Pipe[] = [];
  for (let i = 0; p.loaded && i < BULK_PIPES; i++) {
    const b = await dialer.open();
    b.write(new Uint8Array([TAG.bulk]));
    bulk.push(b);
  }
  let waiting: (() => void) | null = null;
  let acc = 0;
  lat.onData((c) => {
    acc += c.byteLength;
    if (acc >= SIZE) {
      acc -= SIZE;
      waiting?.();
    }
  });
  const pong = (): Promise<void> => new Promise((resolve) => (waiting = resolve));
  return {
    run: async () => {
      let stop = false;
      const writers = bulk.map((b) => saturate(b, () => stop));
      if (p.loaded) await new Promise((resolve) => setTimeout(resolve, p.warmMs));
      const rec = new LatencyRecorder();
      const end = performance.now() + p.durationMs;
      while (performance.now() < end) {
        const t = process.hrtime.bigint();
        const got = pong();
        lat.write(PING);
        await got;
        rec.recordSince(t);
      }
      stop = true;
      await within(Promise.all(writers), 10_000);
      const f = rec.figures();
      return { samples: f.count, p50Us: f.p50Us, p99Us: f.p99Us, p999Us: f.p999Us, maxUs: f.maxUs };
    },
    teardown: () => dialer.close(),
  };
}

const METRICS: Metric[] = [
  { key: 'p50', label: 'p50 µs', digits: 0, value: (r) => r.client['p50Us']! },
  { key: 'p99', label: 'p99 µs', digits: 0, value: (r) => r.client['p99Us']! },
  { key: 'p999', label: 'p99.9 µs', digits: 0, value: (r) => r.client['p999Us']! },
  { key: 'samples', label: 'pings', digits: 0, value: (r) => r.client['samples']! },
  { key: 'bulk', label: 'bulk Gbit/s', digits: 2, value: (r) => (r.server['bulkBytes']! * 8) / r.server['bulkNs']! },
  ...CPU_METRICS,
];

const KINDS: [string, KindSpec][] = [
  ['raw net', { kind: 'net' }],
  ['netchannel iso on', { kind: 'netchannel', channels: 4, latencyChannels: 1, isolation: true }],
  ['netchannel iso off', { kind: 'netchannel', channels: 4, latencyChannels: 0, isolation: false }],
  ['http2', { kind: 'http2' }],
  ['yamux', { kind: 'yamux' }],
];
const UNLOADED = ' (unloaded)';

export const isolation: Scenario = {
  name: 'isolation',
  title: 'Latency isolation under bulk load',
  description:
    `A latency socket does closed-loop 4 KB ping-pong for ${DURATION.full / 1000} s (quick: ${DURATION.quick / 1000} s) while ${BULK_PIPES} throughput sockets send as fast as they can in the same two processes; each case also runs unloaded (ping-pong alone) as its baseline. ` +
    `raw net: ${BULK_PIPES + 1} separate TCP connections; netchannel iso on: 4 throughput channels + 1 latency channel, the latency socket on the latency channel with receive priority; netchannel iso off: \`scheduler: { isolation: false }\` and \`channels: { latency: 0 }\`, so the latency socket shares the 4 throughput channels; http2 and yamux: ${BULK_PIPES + 1} streams on one connection. ` +
    'Bulk Gbit/s is what the server received during the run.',
  cases: (profile) =>
    [true, false].flatMap((loaded) => KINDS.map(([label, kind]): CaseDef => ({ label: loaded ? label : label + UNLOADED, params: { kind, loaded, durationMs: DURATION[profile], warmMs: WARM[profile] } }))),
  timeoutMs: () => 60_000,
  server,
  client,
  report(records, cases) {
    const { m, header, rows } = summaryOf(records, cases, METRICS);
    const ratios = KINDS.map(([l]) => `${ratioLine(`${l}: p99 loaded / unloaded`, ratio(med(m, l, 'p99'), med(m, l + UNLOADED, 'p99')))}; ${ratioLine('p99.9', ratio(med(m, l, 'p999'), med(m, l + UNLOADED, 'p999')))}`);
    const labels = KINDS.map(([l]) => l);
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
        barPanel('Bulk throughput beside the ping-pong', 'Gbit/s (8 sockets together)', cases.filter((c) => !c.label.endsWith(UNLOADED)), m, 'bulk'),
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
      ],
      medians: m,
    };
  },
};
