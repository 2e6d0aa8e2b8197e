/**
 * overhead: the cost of the netchannel layers on one inline TCP channel against raw
 * node:net, as throughput per CPU-second, with 64 KiB writes (a typical stream chunk, so
 * per-write costs show).
 * @packageDocumentation
 */
import type { Chart } from '../report/svg.js';
import { TRANSFER_METRICS } from './bulk.js';
import { barPanel } from './charts.js';
import { streamClient, streamServer } from './stream.js';
import { compassLine, med, ratio, ratioLine, summaryOf } from './summary.js';
import type { KindSpec } from '../pipes/index.js';
import type { Profile, Scenario } from './types.js';

const NET: KindSpec = { kind: 'net' };
const NC1: KindSpec = { kind: 'netchannel', channels: 1 };

const BYTES: Record<Profile, number> = { full: 512 * 1024 ** 2, quick: 64 * 1024 ** 2, tiny: 4 * 1024 ** 2 };
const BLOCK = 64 * 1024;

export const overhead: Scenario = {
  name: 'overhead',
  title: 'Overhead of one inline channel',
  description:
    'One socket sends 512 MiB (quick: 64 MiB) in 64 KiB writes: raw `node:net` against netchannel with a single inline TCP channel, so the only difference is the netchannel layers (virtual socket, sequence numbers, credit, framing, scheduler). ' +
    'The figure of merit is MB per CPU-second of both processes.',
  cases: (profile) => [
    { label: 'raw net', params: { kind: NET, bytes: BYTES[profile], block: BLOCK } },
    { label: 'netchannel 1ch', params: { kind: NC1, bytes: BYTES[profile], block: BLOCK } },
  ],
  timeoutMs: (profile) => (profile === 'full' ? 120_000 : 60_000),
  server: streamServer,
  client: streamClient,
  report(records, cases) {
    const { m, header, rows } = summaryOf(records, cases, TRANSFER_METRICS);
    const perCpu = ratio(med(m, 'netchannel 1ch', 'mbcpu'), med(m, 'raw net', 'mbcpu'));
    const chart: Chart = {
      title: 'overhead: netchannel on one inline channel vs raw net, 64 KiB writes',
      subtitle: 'bars = median, whiskers = min–max',
      panels: [barPanel('Efficiency', 'MB per CPU-second (client + server)', cases, m, 'mbcpu'), barPanel('Throughput', 'MB/s', cases, m, 'mbs')],
    };
    return {
      header,
      rows,
      ratios: [ratioLine('netchannel 1ch / raw net throughput', ratio(med(m, 'netchannel 1ch', 'mbs'), med(m, 'raw net', 'mbs'))), ratioLine('netchannel 1ch / raw net per CPU-s', perCpu)],
      notes: [],
      chart,
      compass: [compassLine('overhead: netchannel 1ch / raw net per CPU-s', perCpu, '>=', 0.95, '0.95')],
      medians: m,
    };
  },
};
