/**
 * idle-memory: bytes per idle virtual socket (100,000 of them) against bytes per idle
 * TCP socket, in both processes, from heapUsed + external after full collections.
 * @packageDocumentation
 */
import net from 'node:net';
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import { createStack } from '../../index.js';
import { sleep } from '../lib/deadline.js';
import { openFilesLimit } from '../lib/machine.js';
import { settledMemory, type MemoryFigures } from '../lib/memory.js';
import { closeStack, stackOptions, VPORT } from '../pipes/netchannel.js';
import type { Chart } from '../report/svg.js';
import { groupedPanel } from './charts.js';
import { compassLine, med, summaryOf, type Metric } from './summary.js';
import type { CaseDef, ClientSide, Json, Profile, Scenario, ServerSide } from './types.js';

/**
 * Virtual sockets opened (full: just under the 16,384 ephemeral virtual ports a stack
 * has towards one peer host, docs/wire-format.md; 100,000 no longer fit since ports are
 * allocated per peer).
 */
const NC_COUNT: Record<Profile, number> = { full: 16_000, quick: 10_000, tiny: 1_000 };
const TCP_COUNT: Record<Profile, number> = { full: 10_000, quick: 2_000, tiny: 500 };
/** File descriptors kept free for everything else when sizing the TCP case. */
const FD_RESERVE = 1_000;
const CONCURRENCY = 256;

interface MemParams {
  kind: 'net' | 'netchannel';
  count: number;
}

function delta(a: MemoryFigures, b: MemoryFigures, n: number): { heapPerSocket: number; rssPerSocket: number } {
  return { heapPerSocket: (b.heapPlusExternal - a.heapPlusExternal) / n, rssPerSocket: (b.rss - a.rss) / n };
}

async function server(params: { [k: string]: Json }): Promise<ServerSide> {
  const p = params as unknown as MemParams;
  const sockets: Duplex[] = [];
  const keep = (s: Duplex): void => {
    s.on('error', () => {});
    sockets.push(s);
  };
  let teardown: () => Promise<void>;
  let target: Json;
  if (p.kind === 'net') {
    const srv = net.createServer(keep);
    srv.listen({ port: 0, host: '127.0.0.1', backlog: 4096 });
    await once(srv, 'listening');
    target = (srv.address() as net.AddressInfo).port;
    teardown = async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => srv.close(() => r()));
    };
  } else {
    const stack = await createStack(stackOptions(4, 0, true, true));
    (await stack.listen(VPORT)).on('connection', keep);
    target = stack.addresses[0]!;
    teardown = () => closeStack(stack, 15_000);
  }
  let base: MemoryFigures | null = null;
  return {
    target,
    start: async () => {
      base = await settledMemory();
    },
    stop: async () => {
      while (sockets.length < p.count) await sleep(10);
      return { count: sockets.length, ...delta(base!, await settledMemory(), sockets.length) };
    },
    teardown: async () => {
      await teardown();
      sockets.length = 0;
    },
  };
}

async function client(params: { [k: string]: Json }, target: Json): Promise<ClientSide> {
  const p = params as unknown as MemParams;
  const sockets: Duplex[] = [];
  let open: () => Promise<Duplex>;
  let teardown: () => Promise<void>;
  if (p.kind === 'net') {
    open = async () => {
      const s = net.connect({ port: target as number, host: '127.0.0.1' });
      s.on('error', () => {});
      await once(s, 'connect');
      return s;
    };
    teardown = async () => {
      for (const s of sockets) s.destroy();
    };
  } else {
    const stack = await createStack(stackOptions(4, 0, true));
    open = async () => {
      const s = await stack.connect(target as string, VPORT);
      s.on('error', () => {});
      return s;
    };
    teardown = () => closeStack(stack, 15_000);
    const warm = await open(); // dials the channels before the baseline
    warm.destroy();
  }
  return {
    run: async () => {
      const base = await settledMemory();
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < p.count) {
          next++;
          sockets.push(await open());
        }
      };
      const t0 = process.hrtime.bigint();
      await Promise.all(Array.from({ length: Math.min(CONCURRENCY, p.count) }, worker));
      const openNs = Number(process.hrtime.bigint() - t0);
      return { count: sockets.length, openNs, ...delta(base, await settledMemory(), sockets.length) };
    },
    teardown: async () => {
      await teardown();
      sockets.length = 0;
    },
  };
}

const METRICS: Metric[] = [
  { key: 'count', label: 'sockets', digits: 0, value: (r) => r.client['count']! },
  { key: 'server', label: 'server B/socket', digits: 0, value: (r) => r.server['heapPerSocket']! },
  { key: 'client', label: 'client B/socket', digits: 0, value: (r) => r.client['heapPerSocket']! },
  { key: 'serverRss', label: 'server RSS B/socket', digits: 0, value: (r) => r.server['rssPerSocket']! },
  { key: 'clientRss', label: 'client RSS B/socket', digits: 0, value: (r) => r.client['rssPerSocket']! },
  { key: 'openRate', label: 'opened/s', digits: 0, value: (r) => (r.client['count']! * 1e9) / r.client['openNs']! },
];

/** TCP sockets the open-files limit allows (each process holds one descriptor per socket). */
function tcpCount(profile: Profile): number {
  const limit = openFilesLimit() ?? 1024;
  return Math.max(0, Math.min(TCP_COUNT[profile], limit - FD_RESERVE));
}

export const idleMemory: Scenario = {
  name: 'idle-memory',
  title: 'Memory per idle socket',
  description:
    `Open ${NC_COUNT.full.toLocaleString('en-US')} idle virtual sockets (quick: ${NC_COUNT.quick.toLocaleString('en-US')}) over 4 channels, or ${TCP_COUNT.full.toLocaleString('en-US')} idle TCP sockets (quick: ${TCP_COUNT.quick.toLocaleString('en-US')}; bounded by \`ulimit -n\`, one descriptor per socket in each process), ${CONCURRENCY} connects at a time. ` +
    'Each process measures heapUsed + external after forced full collections (`--expose-gc`) before and after; the difference divided by the socket count is the cost per socket in that process. RSS deltas are shown too (they include native memory such as libuv handles, which heapUsed + external do not see; kernel socket buffers are in neither).',
  execArgv: ['--expose-gc', '--max-old-space-size=4096'],
  cases: (profile) => {
    const cases: CaseDef[] = [{ label: 'netchannel', params: { kind: 'netchannel', count: NC_COUNT[profile] } }];
    const tcp = tcpCount(profile);
    if (tcp >= 100) cases.push({ label: 'TCP', params: { kind: 'net', count: tcp } });
    return cases;
  },
  timeoutMs: (profile) => (profile === 'full' ? 180_000 : 60_000),
  server,
  client,
  report(records, cases) {
    const { m, header, rows } = summaryOf(records, cases, METRICS);
    const s = med(m, 'netchannel', 'server');
    const c = med(m, 'netchannel', 'client');
    const worst = s === null || c === null ? null : Math.max(s, c);
    const labels = cases.map((x) => x.label);
    const chart: Chart = {
      title: 'idle-memory: bytes per idle socket',
      subtitle: `netchannel at ${NC_COUNT.full.toLocaleString('en-US')} sockets, TCP at up to ${TCP_COUNT.full.toLocaleString('en-US')} (full profile); bars = median, whiskers = min–max`,
      panels: [
        groupedPanel('heapUsed + external per socket', 'bytes per socket', labels, [{ name: 'server process', key: 'server' }, { name: 'client process', key: 'client' }], m),
        groupedPanel('RSS per socket', 'bytes per socket', labels, [{ name: 'server process', key: 'serverRss' }, { name: 'client process', key: 'clientRss' }], m),
      ],
    };
    const notes = ['The compass line takes the larger of the two processes (heapUsed + external) for netchannel.'];
    if (!cases.some((x) => x.label === 'TCP')) notes.push('TCP case skipped: `ulimit -n` too low.');
    return {
      header,
      rows,
      ratios: [],
      notes,
      chart,
      compass: [compassLine('idle-memory: bytes per idle socket', worst, '<=', 2048, '2048', 0)],
      medians: m,
    };
  },
};
