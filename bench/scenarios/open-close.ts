/**
 * open-close: virtual socket open + close against TCP connect + accept + close, one at a
 * time and 64 at a time.
 * @packageDocumentation
 */
import net from 'node:net';
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import { createStack } from '../../index.js';
import { LatencyRecorder } from '../lib/histogram.js';
import { closeStack, stackOptions, VPORT } from '../pipes/netchannel.js';
import type { Chart } from '../report/svg.js';
import { groupedPanel } from './charts.js';
import { compassLine, CPU_METRICS, cpuSeconds, med, ratio, ratioLine, summaryOf, type Metric } from './summary.js';
import type { CaseDef, ClientSide, Json, Profile, Scenario, ServerSide } from './types.js';

const DURATION: Record<Profile, number> = { full: 1500, quick: 500, tiny: 150 };
const CONCURRENCY = 64;

interface OcParams {
  kind: 'net' | 'netchannel';
  concurrency: number;
  durationMs: number;
}

/** Server sockets just read to the end (which ends them too: no half-open). */
function accept(s: Duplex): void {
  s.on('error', () => {});
  s.resume();
}

async function server(params: { [k: string]: Json }): Promise<ServerSide> {
  const p = params as unknown as OcParams;
  if (p.kind === 'net') {
    const srv = net.createServer(accept);
    srv.listen({ port: 0, host: '127.0.0.1', backlog: 4096 });
    await once(srv, 'listening');
    return { target: (srv.address() as net.AddressInfo).port, stop: () => ({}), teardown: () => new Promise((r) => srv.close(() => r())) };
  }
  const stack = await createStack(stackOptions(4, 0, true, true));
  (await stack.listen(VPORT)).on('connection', accept);
  return { target: stack.addresses[0]!, stop: () => ({}), teardown: () => closeStack(stack) };
}

async function closeSocket(s: Duplex): Promise<void> {
  const closed = once(s, 'close');
  s.resume();
  s.end();
  await closed;
}

async function client(params: { [k: string]: Json }, target: Json): Promise<ClientSide> {
  const p = params as unknown as OcParams;
  let open: () => Promise<Duplex>;
  let close = async (): Promise<void> => {};
  if (p.kind === 'net') {
    const port = target as number;
    open = async () => {
      const s = net.connect({ port, host: '127.0.0.1' });
      await once(s, 'connect');
      return s;
    };
  } else {
    const stack = await createStack(stackOptions(4, 0, true));
    open = () => stack.connect(target as string, VPORT);
    close = () => closeStack(stack);
    await closeSocket(await open()); // dials the channels: untimed
  }
  return {
    run: async () => {
      const rec = new LatencyRecorder();
      let ops = 0;
      const end = performance.now() + p.durationMs;
      const t0 = process.hrtime.bigint();
      const worker = async (): Promise<void> => {
        while (performance.now() < end) {
          const t = process.hrtime.bigint();
          await closeSocket(await open());
          rec.recordSince(t);
          ops++;
        }
      };
      await Promise.all(Array.from({ length: p.concurrency }, worker));
      const l = rec.figures();
      return { ops, elapsedNs: Number(process.hrtime.bigint() - t0), p50Us: l.p50Us, p99Us: l.p99Us };
    },
    teardown: close,
  };
}

const METRICS: Metric[] = [
  { key: 'rate', label: 'open+close/s', digits: 0, value: (r) => (r.client['ops']! * 1e9) / r.client['elapsedNs']! },
  { key: 'percpu', label: 'per CPU-s', digits: 0, value: (r) => r.client['ops']! / cpuSeconds(r) },
  { key: 'p50', label: 'p50 µs', digits: 0, value: (r) => r.client['p50Us']! },
  { key: 'p99', label: 'p99 µs', digits: 0, value: (r) => r.client['p99Us']! },
  ...CPU_METRICS,
];

const MODES: [string, number][] = [
  ['sequential', 1],
  [`${CONCURRENCY} concurrent`, CONCURRENCY],
];
const KINDS: [string, OcParams['kind']][] = [
  ['TCP', 'net'],
  ['netchannel', 'netchannel'],
];

export const openClose: Scenario = {
  name: 'open-close',
  title: 'Socket open + close rate',
  description:
    `Open a socket, end it and wait for it to close, repeated for ${DURATION.full / 1000} s (quick: ${DURATION.quick / 1000} s), one at a time and ${CONCURRENCY} at a time. ` +
    'TCP: `net.connect` to a `net.Server` on loopback (connect + accept + FIN both ways). netchannel: `stack.connect` to a virtual server over 4 already-open channels (SYNC / SYNC_ACK, FIN both ways). The server reads each socket to its end.',
  cases: (profile) => KINDS.flatMap(([k, kind]) => MODES.map(([mode, concurrency]): CaseDef => ({ label: `${k} ${mode}`, params: { kind, concurrency, durationMs: DURATION[profile] } }))),
  timeoutMs: () => 60_000,
  server,
  client,
  report(records, cases) {
    const { m, header, rows } = summaryOf(records, cases, METRICS);
    const conc = `${CONCURRENCY} concurrent`;
    const r = (mode: string): number | null => ratio(med(m, `netchannel ${mode}`, 'rate'), med(m, `TCP ${mode}`, 'rate'));
    const chart: Chart = {
      title: 'open-close: socket open + close rate',
      subtitle: 'bars = median, whiskers = min–max',
      panels: [
        groupedPanel('Rate', 'open + close per second', MODES.map(([mode]) => mode), KINDS.map(([k]) => ({ name: k, key: 'rate', label: (mode: string) => `${k} ${mode}` })), m),
        groupedPanel('Efficiency', 'open + close per CPU-second', MODES.map(([mode]) => mode), KINDS.map(([k]) => ({ name: k, key: 'percpu', label: (mode: string) => `${k} ${mode}` })), m),
      ],
    };
    return {
      header,
      rows,
      ratios: MODES.map(([mode]) => ratioLine(`netchannel / TCP, ${mode}`, r(mode))),
      notes: [`The compass line uses the ${conc} rate.`],
      chart,
      compass: [compassLine('open-close: netchannel / TCP', r(conc), '>=', 20, '20')],
      medians: m,
    };
  },
};
