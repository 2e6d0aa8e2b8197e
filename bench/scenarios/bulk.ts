/**
 * bulk: one socket carries 1 GiB — netchannel (1 and 4 inline TCP channels) against raw
 * node:net, node:http2 (one stream, h2c) and yamux (one stream over TCP).
 * @packageDocumentation
 */
import type { Chart } from '../report/svg.js';
import { streamClient, streamServer, type StreamParams } from './stream.js';
import { compassLine, CPU_METRICS, cpuSeconds, med, ratio, ratiosAgainst, summaryOf, type Metric } from './summary.js';
import { barPanel } from './charts.js';
import type { CaseDef, Profile, Scenario } from './types.js';

const BYTES: Record<Profile, number> = { full: 1024 ** 3, quick: 128 * 1024 ** 2, tiny: 4 * 1024 ** 2 };
const BLOCK = 1024 * 1024;

const CASES: [string, StreamParams['kind']][] = [
  ['raw net', { kind: 'net' }],
  ['netchannel 1ch', { kind: 'netchannel', channels: 1 }],
  ['netchannel 4ch', { kind: 'netchannel', channels: 4 }],
  ['http2', { kind: 'http2' }],
  ['yamux', { kind: 'yamux' }],
];

/** Gbit/s, MB/s, MB per CPU-second (both processes) and the CPU columns. */
export const TRANSFER_METRICS: Metric[] = [
  { key: 'gbit', label: 'Gbit/s', digits: 2, value: (r) => (r.client['bytes']! * 8) / r.wallNs },
  { key: 'mbs', label: 'MB/s', digits: 0, value: (r) => (r.client['bytes']! * 1e3) / r.wallNs },
  { key: 'mbcpu', label: 'MB per CPU-s', digits: 0, value: (r) => r.client['bytes']! / 1e6 / cpuSeconds(r) },
  ...CPU_METRICS,
];

export const bulk: Scenario = {
  name: 'bulk',
  title: 'Bulk transfer, one socket',
  description:
    'One socket sends 1 GiB (quick: 128 MiB) in 1 MiB writes from client to server; the clock stops when the server has counted every byte and its 1-byte reply arrives. ' +
    'Cases: raw `node:net`; netchannel with 1 and 4 inline TCP channels (the socket is striped over them); `node:http2` (one POST stream on one h2c session, 4 MiB stream / 32 MiB session windows); yamux (one stream over one TCP connection, default windows). ' +
    'MB per CPU-s divides the bytes by the CPU seconds of both processes.',
  cases: (profile) => CASES.map(([label, kind]): CaseDef => ({ label, params: { kind, bytes: BYTES[profile], block: BLOCK } })),
  timeoutMs: (profile) => (profile === 'full' ? 180_000 : 60_000),
  server: streamServer,
  client: streamClient,
  report(records, cases) {
    const { m, header, rows } = summaryOf(records, cases, TRANSFER_METRICS);
    const nc = 'netchannel 4ch';
    const ratios = ratiosAgainst(cases, m, 'raw net', 'throughput', 'gbit', 'per CPU-s', 'mbcpu');
    const g = (l: string): number | null => med(m, l, 'gbit');
    const chart: Chart = {
      title: 'bulk: one socket, 1 MiB writes',
      subtitle: '1 GiB per run (quick: 128 MiB); bars = median, whiskers = min–max',
      panels: [barPanel('Throughput', 'Gbit/s', cases, m, 'gbit'), barPanel('Efficiency', 'MB per CPU-second (client + server)', cases, m, 'mbcpu')],
    };
    return {
      header,
      rows,
      ratios,
      notes: ['"netchannel" in the compass lines is the 4-channel case (the default configuration).'],
      chart,
      compass: [
        compassLine('bulk: netchannel / raw net', ratio(g(nc), g('raw net')), '>=', 1.0, '1.0'),
        compassLine('bulk: netchannel / http2', ratio(g(nc), g('http2')), '>=', 2.5, '2.5'),
        compassLine('bulk: netchannel / yamux', ratio(g(nc), g('yamux')), '>=', 3, '3'),
      ],
      medians: m,
    };
  },
};
