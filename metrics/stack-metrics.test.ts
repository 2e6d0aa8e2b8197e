import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { Registry, register as globalRegistry } from 'prom-client';
import { Subject } from 'rxjs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError, type StackEvent, type VirtualSocket } from '../index.js';
import { event, stackPair, within, type StackPair } from '../test/pair.js';
import {
  MAX_ERROR_CODES,
  METRIC_NAMES,
  StackMetrics,
  serveMetrics,
  withDefaultMetrics,
  type DeviceChannelLike,
  type MetricsServer,
  type PeerLike,
  type SocketLike,
} from './index.js';

const POLICIES = { throughput: 'round-robin', latency: 'dedicated' } as const;
const MiB = 1024 * 1024;

// ---- helpers ---------------------------------------------------------------------

/** One sample of the Prometheus text format. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses `name{a="x",b="y"} value` lines; skips comments and blank lines. */
function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/.exec(line);
    if (!m) throw new Error(`unparsable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    const raw = m[3]!;
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
    out.push({ name: m[1]!, labels, value });
  }
  return out;
}

/** Samples named `name` whose labels include `match`. */
function pick(samples: Sample[], name: string, match: Record<string, string> = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v));
}

/** Sum of the matching samples. */
function total(samples: Sample[], name: string, match: Record<string, string> = {}): number {
  return pick(samples, name, match).reduce((a, s) => a + s.value, 0);
}

/** The single matching sample's value (fails when there is not exactly one). */
function one(samples: Sample[], name: string, match: Record<string, string> = {}): number {
  const found = pick(samples, name, match);
  expect(found, `${name} ${JSON.stringify(match)}`).toHaveLength(1);
  return found[0]!.value;
}

async function scrapeRegistry(registry: Registry): Promise<Sample[]> {
  return parseExposition(await registry.metrics());
}

/** Real HTTP request over node:http (no keep-alive). */
function httpRequest(url: string, method = 'GET'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function scrapeHttp(url: string): Promise<Sample[]> {
  const res = await httpRequest(url);
  expect(res.status).toBe(200);
  return parseExposition(res.body);
}

/** Resolves once `cond()` holds, checking on every macrotask turn. */
function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  return within(
    new Promise<void>((resolve) => {
      const check = (): void => {
        if (cond()) resolve();
        else setTimeout(check, 1);
      };
      check();
    }),
    ms,
    what,
  );
}

let pair: StackPair | undefined;
let server: MetricsServer | undefined;
const disposables: StackMetrics[] = [];
afterEach(async () => {
  for (const m of disposables.splice(0)) m.dispose();
  await server?.close();
  server = undefined;
  await pair?.close();
  pair = undefined;
});

function metricsFor(source: ConstructorParameters<typeof StackMetrics>[0], registry = new Registry()): { metrics: StackMetrics; registry: Registry } {
  const metrics = new StackMetrics(source, registry, { policies: POLICIES });
  disposables.push(metrics);
  return { metrics, registry };
}

afterAll(async () => {
  // Nothing in this file may touch prom-client's global default registry.
  expect(await globalRegistry.getMetricsAsJSON()).toEqual([]);
});

// ---- real stacks -------------------------------------------------------------------

describe('StackMetrics on real stacks', () => {
  it('exposes live byte counters and queue gauges over HTTP while 32 MiB flow over tcp', async () => {
    pair = await stackPair('tcp', { channels: { throughput: 4, latency: 1 } });
    const { registry } = metricsFor(pair.client);
    server = await serveMetrics(registry, { port: 0 });
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/metrics`);

    const TOTAL = 32 * MiB;
    let received = 0;
    const vs = await pair.server.listen(7000);
    const sinkDone = new Promise<void>((resolve, reject) => {
      vs.once('connection', (s: VirtualSocket) => {
        s.on('data', (c: Buffer) => (received += c.length));
        s.on('error', reject);
        s.on('end', () => resolve());
      });
    });
    const sock = await pair.client.connect(pair.address, 7000);
    sock.resume(); // the sink sends nothing back, but the socket must read to its end to close
    const closed = event(sock, 'close', 30_000);
    let writerDone = false;
    // The last 8 MiB wait for the second scrape: both scrapes happen mid-transfer.
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    const writer = (async () => {
      const block = Buffer.alloc(256 * 1024, 0x5a);
      for (let sent = 0; sent < TOTAL; sent += block.length) {
        if (sent === TOTAL - 8 * MiB) await gate;
        if (!sock.write(block)) await event(sock, 'drain', 30_000);
      }
      sock.end();
      writerDone = true;
    })();

    await until(() => received >= 4 * MiB, 20_000, '4 MiB received');
    const s1 = await scrapeHttp(server.url);
    const during1 = received < TOTAL;
    await until(() => received >= 12 * MiB, 20_000, '12 MiB received');
    const s2 = await scrapeHttp(server.url);
    const during2 = received < TOTAL;
    openGate();
    await writer;
    await within(sinkDone, 30_000, 'sink end');
    await closed;
    const s3 = await scrapeHttp(server.url);

    // Both mid-transfer scrapes were answered before the transfer completed.
    expect(during1).toBe(true);
    expect(during2).toBe(true);
    expect(writerDone).toBe(true);

    // Channel byte counters grow between scrapes; the frames carry all payload bytes.
    const sent = [s1, s2, s3].map((s) => total(s, 'netchannel_channel_sent_bytes_total'));
    expect(sent[0]).toBeGreaterThan(0);
    expect(sent[1]).toBeGreaterThan(sent[0]!);
    expect(sent[2]).toBeGreaterThan(sent[1]!);
    expect(sent[2]).toBeGreaterThanOrEqual(TOTAL);
    const frames = [s1, s2, s3].map((s) => total(s, 'netchannel_channel_sent_frames_total'));
    expect(frames[1]).toBeGreaterThan(frames[0]!);
    expect(frames[2]).toBeGreaterThan(frames[1]!);
    // The server echoes nothing, but credit grants come back: received bytes grow too.
    expect(total(s3, 'netchannel_channel_received_bytes_total')).toBeGreaterThan(total(s1, 'netchannel_channel_received_bytes_total'));

    // Class-level byte counter: live socket while open, accumulated after close.
    const written = [s1, s2, s3].map((s) => one(s, 'netchannel_socket_bytes_total', { class: 'throughput', direction: 'written' }));
    expect(written[0]).toBeGreaterThanOrEqual(4 * MiB);
    expect(written[1]).toBeGreaterThanOrEqual(written[0]!);
    expect(written[2]).toBe(TOTAL);
    expect(one(s1, 'netchannel_sockets_open', { class: 'throughput' })).toBe(1);
    expect(one(s3, 'netchannel_sockets_open', { class: 'throughput' })).toBe(0);
    expect(one(s3, 'netchannel_socket_opens_total', { class: 'throughput', side: 'connect' })).toBe(1);
    expect(one(s3, 'netchannel_socket_closes_total', { class: 'throughput' })).toBe(1);
    expect(one(s3, 'netchannel_socket_handshake_seconds_count', { class: 'throughput' })).toBe(1);
    expect(one(s3, 'netchannel_socket_handshake_seconds_bucket', { class: 'throughput', le: '+Inf' })).toBe(1);

    // Every live channel has a tx and an rx queue gauge with a sane value, and is up.
    for (const s of [s1, s2, s3]) {
      const channels = pick(s, 'netchannel_channel_sent_bytes_total');
      expect(channels).toHaveLength(5);
      for (const c of channels) {
        const labels = { peer: c.labels.peer!, channel: c.labels.channel! };
        expect(c.labels.peer).toBe(pair.server.hostId);
        expect(c.labels.transport).toBe('tcp');
        for (const direction of ['tx', 'rx']) {
          const q = one(s, 'netchannel_channel_queued_bytes', { ...labels, direction });
          expect(Number.isInteger(q)).toBe(true);
          expect(q).toBeGreaterThanOrEqual(0);
          expect(q).toBeLessThanOrEqual(TOTAL);
        }
        expect(one(s, 'netchannel_channel_up', labels)).toBe(1);
        const busy = one(s, 'netchannel_channel_busy_ratio', labels);
        expect(busy).toBeGreaterThanOrEqual(0);
        expect(busy).toBeLessThanOrEqual(1);
        expect(one(s, 'netchannel_channel_throughput_bytes_per_second', labels)).toBeGreaterThanOrEqual(0);
      }
    }
    expect(one(s3, 'netchannel_channel_opens_total', { class: 'throughput', transport: 'tcp' })).toBe(4);
    expect(one(s3, 'netchannel_channel_opens_total', { class: 'latency', transport: 'tcp' })).toBe(1);
    // The throughput policy placed the data segments on the throughput channels.
    expect(total(s3, 'netchannel_scheduler_decisions_total', { policy: 'round-robin' })).toBeGreaterThanOrEqual(TOTAL / (64 * 1024));
    expect(pick(s3, 'netchannel_errors_total')).toHaveLength(0);
  });

  it('keeps the number of series constant over 10,000 sockets opened and closed', async () => {
    pair = await stackPair('memory', { channels: { throughput: 4, latency: 1 } });
    const client = metricsFor(pair.client).registry;
    const serverSide = metricsFor(pair.server).registry;
    const vs = await pair.server.listen(7001);
    let serverClosed = 0;
    vs.on('connection', (s: VirtualSocket) => {
      s.on('close', () => serverClosed++);
      s.resume(); // allowHalfOpen is false: our side ends when the peer's FIN arrives
    });
    const address = pair.address;
    const client0 = pair.client;
    const openOne = async (): Promise<void> => {
      const s = await client0.connect(address, 7001);
      const closed = event(s, 'close', 20_000);
      s.resume();
      s.end('hello');
      await closed;
    };
    const BATCH = 100;
    const SOCKETS = 10_000;
    const runBatch = async (): Promise<void> => {
      await Promise.all(Array.from({ length: BATCH }, openOne));
    };

    await runBatch();
    await until(() => serverClosed === BATCH, 10_000, 'server sockets of batch 1 closed');
    const first = [await scrapeRegistry(client), await scrapeRegistry(serverSide)];
    for (let i = 1; i < SOCKETS / BATCH; i++) await runBatch();
    await until(() => serverClosed === SOCKETS, 10_000, 'all server sockets closed');
    const last = [await scrapeRegistry(client), await scrapeRegistry(serverSide)];

    for (const i of [0, 1]) {
      expect(last[i]!.length).toBe(first[i]!.length);
      expect(last[i]!.map((s) => `${s.name}${JSON.stringify(s.labels)}`).sort()).toEqual(first[i]!.map((s) => `${s.name}${JSON.stringify(s.labels)}`).sort());
    }
    const [c, s] = last as [Sample[], Sample[]];
    expect(total(c, 'netchannel_socket_opens_total')).toBe(SOCKETS);
    expect(one(c, 'netchannel_socket_opens_total', { class: 'throughput', side: 'connect' })).toBe(SOCKETS);
    expect(one(s, 'netchannel_socket_opens_total', { class: 'throughput', side: 'accept' })).toBe(SOCKETS);
    expect(one(c, 'netchannel_socket_closes_total', { class: 'throughput' })).toBe(SOCKETS);
    expect(one(c, 'netchannel_sockets_open', { class: 'throughput' })).toBe(0);
    expect(one(c, 'netchannel_socket_bytes_total', { class: 'throughput', direction: 'written' })).toBe(SOCKETS * 5);
    expect(one(s, 'netchannel_socket_bytes_total', { class: 'throughput', direction: 'read' })).toBe(SOCKETS * 5);
    expect(one(c, 'netchannel_socket_handshake_seconds_count', { class: 'throughput' })).toBe(SOCKETS);
    // No label carries a port or socket id: every label value comes from a small set.
    const values = new Set(c.flatMap((x) => Object.values(x.labels)));
    expect(values.size).toBeLessThan(64);
  });

  it('keeps separate values for two stacks with two registries in one process', async () => {
    pair = await stackPair('memory');
    const a = metricsFor(pair.client).registry;
    const b = metricsFor(pair.server).registry;
    const vs = await pair.server.listen(7002);
    const done = new Promise<void>((resolve) => {
      vs.once('connection', (s: VirtualSocket) => {
        let n = 0;
        s.on('data', (c: Buffer) => {
          n += c.length;
          if (n === 1000) s.end(Buffer.alloc(300));
        });
        s.on('close', () => resolve());
      });
    });
    const sock = await pair.client.connect(pair.address, 7002);
    sock.resume();
    sock.end(Buffer.alloc(1000));
    await event(sock, 'close');
    await within(done, 10_000, 'server socket close');
    const [ca, sb] = [await scrapeRegistry(a), await scrapeRegistry(b)];
    expect(one(ca, 'netchannel_socket_bytes_total', { direction: 'written', class: 'throughput' })).toBe(1000);
    expect(one(ca, 'netchannel_socket_bytes_total', { direction: 'read', class: 'throughput' })).toBe(300);
    expect(one(sb, 'netchannel_socket_bytes_total', { direction: 'read', class: 'throughput' })).toBe(1000);
    expect(one(sb, 'netchannel_socket_bytes_total', { direction: 'written', class: 'throughput' })).toBe(300);
    expect(one(ca, 'netchannel_socket_opens_total', { class: 'throughput', side: 'connect' })).toBe(1);
    expect(one(ca, 'netchannel_socket_opens_total', { class: 'throughput', side: 'accept' })).toBe(0);
    expect(one(sb, 'netchannel_socket_opens_total', { class: 'throughput', side: 'accept' })).toBe(1);
    expect(one(sb, 'netchannel_socket_opens_total', { class: 'throughput', side: 'connect' })).toBe(0);
    expect(new Set(pick(ca, 'netchannel_channel_sent_bytes_total').map((x) => x.labels.peer))).toEqual(new Set([pair.server.hostId]));
    expect(new Set(pick(sb, 'netchannel_channel_sent_bytes_total').map((x) => x.labels.peer))).toEqual(new Set([pair.client.hostId]));
    expect(one(ca, 'netchannel_socket_handshake_seconds_count', { class: 'throughput' })).toBe(1);
    expect(one(sb, 'netchannel_socket_handshake_seconds_count', { class: 'throughput' })).toBe(0);
  });

  it('drops the series of channels that close, and counts the closes', async () => {
    pair = await stackPair('memory', { channels: { throughput: 2, latency: 1 } });
    const { registry } = metricsFor(pair.client);
    const vs = await pair.server.listen(7003);
    vs.on('connection', (s: VirtualSocket) => s.resume());
    const sock = await pair.client.connect(pair.address, 7003);
    const before = await scrapeRegistry(registry);
    expect(pick(before, 'netchannel_channel_sent_bytes_total')).toHaveLength(3);
    expect(pick(before, 'netchannel_channel_queued_bytes')).toHaveLength(6);
    sock.resume();
    sock.end();
    await event(sock, 'close');
    await pair.client.close();
    const after = await scrapeRegistry(registry);
    for (const name of ['netchannel_channel_sent_bytes_total', 'netchannel_channel_queued_bytes', 'netchannel_channel_up', 'netchannel_scheduler_decisions_total']) {
      expect(pick(after, name), name).toHaveLength(0);
    }
    expect(one(after, 'netchannel_channel_closes_total', { class: 'throughput', transport: 'memory', reason: 'closed' })).toBe(2);
    expect(one(after, 'netchannel_channel_closes_total', { class: 'latency', transport: 'memory', reason: 'closed' })).toBe(1);
  });
});

// ---- serveMetrics --------------------------------------------------------------------

describe('serveMetrics', () => {
  it('serves only its path, answers 404 elsewhere and 405 to other methods; close() is idempotent', async () => {
    const registry = new Registry();
    pair = await stackPair('memory');
    metricsFor(pair.client, registry);
    const srv = await serveMetrics(registry, { port: 0, path: '/m' });
    server = srv;
    const base = `http://127.0.0.1:${srv.port}`;
    expect(srv.url).toBe(`${base}/m`);
    const ok = await httpRequest(`${base}/m?x=1`);
    expect(ok.status).toBe(200);
    expect(ok.headers['content-type']).toBe(registry.contentType);
    expect(parseExposition(ok.body).some((s) => s.name === 'netchannel_sockets_open')).toBe(true);
    for (const path of ['/', '/metrics', '/m/', '/mx', '/favicon.ico']) expect((await httpRequest(`${base}${path}`)).status, path).toBe(404);
    expect((await httpRequest(`${base}/m`, 'POST')).status).toBe(405);
    const head = await httpRequest(`${base}/m`, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');

    const c1 = srv.close();
    const c2 = srv.close();
    expect(c2).toBe(c1);
    await Promise.all([c1, c2]);
    await srv.close();
    await expect(httpRequest(`${base}/m`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(await globalRegistry.getMetricsAsJSON()).toEqual([]);
  });

  it('validates its options', async () => {
    const registry = new Registry();
    await expect(serveMetrics(registry, { port: -1 })).rejects.toThrow(InvalidArgumentError);
    await expect(serveMetrics(registry, { port: 1.5 })).rejects.toThrow(/options.port must be an integer 0-65535, got 1.5/);
    await expect(serveMetrics(registry, { path: 'metrics' })).rejects.toThrow(/options.path must start with '\/'/);
    await expect(serveMetrics(registry, { host: '' })).rejects.toThrow(/options.host/);
    await expect(serveMetrics({} as Registry)).rejects.toThrow(/registry must be a prom-client Registry/);
  });

  it('withDefaultMetrics adds process metrics under their standard names, or a prefix, to the given registry only', async () => {
    const names = (await withDefaultMetrics(new Registry()).getMetricsAsJSON()).map((m) => m.name);
    expect(names).toEqual(expect.arrayContaining(['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds']));
    const prefixed = (await withDefaultMetrics(new Registry(), 'app_').getMetricsAsJSON()).map((m) => m.name);
    expect(prefixed).toContain('app_process_cpu_seconds_total');
    for (const n of prefixed) expect(n.startsWith('app_')).toBe(true);
    expect(() => withDefaultMetrics(new Registry(), '1x')).toThrow(InvalidArgumentError);
    expect(await globalRegistry.getMetricsAsJSON()).toEqual([]);
  });
});

// ---- fakes: exact accounting ---------------------------------------------------------

/** A hand-driven source. */
function fakeSource() {
  const events = new Subject<StackEvent>();
  const peers = new Map<string, { device: { channels: DeviceChannelLike[] }; sockets: Map<number, SocketLike> }>();
  const source = {
    hostId: 'a'.repeat(32),
    get peers(): PeerLike[] {
      return [...peers].map(([remoteHostId, p]) => ({ remoteHostId, ...p }));
    },
    events$: events.asObservable(),
  };
  return { source, peers, events };
}

function fakeChannel(id: number, appClass: 'latency' | 'throughput', over: Partial<DeviceChannelLike['channel']> = {}): DeviceChannelLike {
  return {
    id,
    appClass,
    usable: true,
    throughput: 0,
    decisions: 0,
    busyRatio: 0,
    srtt: 0,
    deliveryRate: 0,
    inflightBytes: 0,
    stale: false,
    channel: { scheme: 'tcp', bytesSent: 0, bytesReceived: 0, framesSent: 0, framesReceived: 0, txQueuedBytes: 0, rxQueuedBytes: 0, ...over },
  };
}

const base = { at: 0, peer: 'p1' };

describe('StackMetrics accounting (fake source)', () => {
  it('reads per-channel values at scrape time and removes gone channels', async () => {
    const { source, peers } = fakeSource();
    const { registry } = metricsFor(source);
    const ch = { ...fakeChannel(7, 'throughput', { bytesSent: 100, txQueuedBytes: 42, rxQueuedBytes: 3 }), decisions: 9, busyRatio: 0.5, throughput: 1234 };
    const lat = { ...fakeChannel(8, 'latency'), usable: false };
    peers.set('p1', { device: { channels: [ch, lat] }, sockets: new Map() });
    let s = await scrapeRegistry(registry);
    const labels = { peer: 'p1', channel: '7', class: 'throughput', transport: 'tcp' };
    expect(one(s, 'netchannel_channel_sent_bytes_total', labels)).toBe(100);
    expect(one(s, 'netchannel_channel_queued_bytes', { ...labels, direction: 'tx' })).toBe(42);
    expect(one(s, 'netchannel_channel_queued_bytes', { ...labels, direction: 'rx' })).toBe(3);
    expect(one(s, 'netchannel_channel_busy_ratio', labels)).toBe(0.5);
    expect(one(s, 'netchannel_channel_throughput_bytes_per_second', labels)).toBe(1234);
    expect(one(s, 'netchannel_channel_up', labels)).toBe(1);
    expect(one(s, 'netchannel_channel_up', { channel: '8' })).toBe(0);
    expect(one(s, 'netchannel_scheduler_decisions_total', { policy: 'round-robin', peer: 'p1', channel: '7' })).toBe(9);
    expect(one(s, 'netchannel_scheduler_decisions_total', { policy: 'dedicated', peer: 'p1', channel: '8' })).toBe(0);
    (ch.channel as { bytesSent: number }).bytesSent = 250;
    s = await scrapeRegistry(registry);
    expect(one(s, 'netchannel_channel_sent_bytes_total', labels)).toBe(250);
    peers.get('p1')!.device.channels.splice(0, 1);
    s = await scrapeRegistry(registry);
    expect(pick(s, 'netchannel_channel_sent_bytes_total', { channel: '7' })).toHaveLength(0);
    expect(pick(s, 'netchannel_channel_sent_bytes_total', { channel: '8' })).toHaveLength(1);
  });

  it('keeps class totals monotonic across a socket leaving the table before its close event', async () => {
    const { source, peers, events } = fakeSource();
    const { registry } = metricsFor(source);
    const sock = { appClass: 'throughput' as const, bytesRead: 10, bytesWritten: 100, creditStalls: 2, destroyed: false };
    const sockets = new Map<number, SocketLike>([[1, sock]]);
    peers.set('p1', { device: { channels: [] }, sockets });
    const written = async () => one(await scrapeRegistry(registry), 'netchannel_socket_bytes_total', { class: 'throughput', direction: 'written' });
    expect(await written()).toBe(100);
    sock.destroyed = true; // destroyed, lingering in the table; 'socket-closed' not yet published
    expect(await written()).toBe(100);
    sockets.delete(1); // detached
    expect(await written()).toBe(100);
    events.next({ ...base, type: 'socket-closed', appClass: 'throughput', localPort: 70000, remotePort: 80, bytesRead: 10, bytesWritten: 100, creditStalls: 2 });
    expect(await written()).toBe(100);
    sockets.set(1, { ...sock }); // a closed socket still lingering after its event: not counted twice
    expect(await written()).toBe(100);
    sockets.set(2, { appClass: 'throughput', bytesRead: 0, bytesWritten: 50, creditStalls: 1, destroyed: false });
    const s = await scrapeRegistry(registry);
    expect(one(s, 'netchannel_socket_bytes_total', { class: 'throughput', direction: 'written' })).toBe(150);
    expect(one(s, 'netchannel_socket_bytes_total', { class: 'throughput', direction: 'read' })).toBe(10);
    expect(one(s, 'netchannel_flow_control_stalls_total', { class: 'throughput' })).toBe(3);
    expect(one(s, 'netchannel_sockets_open', { class: 'throughput' })).toBe(1);
    expect(one(s, 'netchannel_sockets_open', { class: 'latency' })).toBe(0);
  });

  it('counts HoL, remaps, scaling, refusals and errors from events, with bounded codes', async () => {
    const { source, events } = fakeSource();
    const { registry } = metricsFor(source);
    const hol = (type: 'hol-detected' | 'hol-resolved', localPort: number): StackEvent => ({ ...base, type, localPort, remotePort: 80, windowBytes: 1 });
    events.next(hol('hol-detected', 70001));
    events.next(hol('hol-detected', 70002));
    events.next(hol('hol-detected', 70002)); // same socket again: still one active
    events.next(hol('hol-resolved', 70001));
    let s = await scrapeRegistry(registry);
    expect(one(s, 'netchannel_hol_active')).toBe(1);
    expect(one(s, 'netchannel_hol_events_total', { event: 'detected' })).toBe(3);
    expect(one(s, 'netchannel_hol_events_total', { event: 'resolved' })).toBe(1);
    events.next({ ...base, type: 'socket-closed', appClass: 'throughput', localPort: 70002, remotePort: 80, bytesRead: 0, bytesWritten: 0, creditStalls: 0, code: 'NETCHANNEL_ERR_CONNECTION_RESET' });
    events.next({ ...base, type: 'socket-remapped', localPort: 1, remotePort: 2, mapping: 'pinned', channelId: 3 });
    events.next({ ...base, type: 'scaling', appClass: 'throughput', policy: 'saturation', from: 1, to: 2, direction: 'up', inputs: { blockedWaits: 1, meanOccupancy: 0.5, throughput: 1 } });
    events.next({ ...base, type: 'socket-refused', appClass: 'latency', remotePort: 81, code: 'NETCHANNEL_ERR_CONNECTION_REFUSED' });
    events.next({ ...base, type: 'channel-removed', channelId: 3, appClass: 'throughput', index: 0, transport: 'tcp', reason: 'failed', error: 'x', code: 'ECONNRESET' });
    events.next({ ...base, type: 'channel-added', channelId: 4, appClass: 'throughput', index: 1, transport: 'tcp' });
    events.next({ ...base, type: 'socket-opened', appClass: 'latency', localPort: 70003, remotePort: 81, side: 'connect', handshakeMs: 0.2 });
    s = await scrapeRegistry(registry);
    expect(one(s, 'netchannel_hol_active')).toBe(0);
    expect(one(s, 'netchannel_socket_remaps_total', { mapping: 'pinned' })).toBe(1);
    expect(one(s, 'netchannel_socket_remaps_total', { mapping: 'shared' })).toBe(0);
    expect(one(s, 'netchannel_scaling_actions_total', { class: 'throughput', policy: 'saturation', direction: 'up' })).toBe(1);
    expect(one(s, 'netchannel_socket_refusals_total', { class: 'latency', code: 'NETCHANNEL_ERR_CONNECTION_REFUSED' })).toBe(1);
    expect(one(s, 'netchannel_errors_total', { code: 'NETCHANNEL_ERR_CONNECTION_REFUSED' })).toBe(1);
    expect(one(s, 'netchannel_errors_total', { code: 'NETCHANNEL_ERR_CONNECTION_RESET' })).toBe(1);
    expect(one(s, 'netchannel_errors_total', { code: 'ECONNRESET' })).toBe(1);
    expect(one(s, 'netchannel_channel_closes_total', { class: 'throughput', transport: 'tcp', reason: 'failed' })).toBe(1);
    expect(one(s, 'netchannel_channel_opens_total', { class: 'throughput', transport: 'tcp' })).toBe(1);
    expect(one(s, 'netchannel_socket_handshake_seconds_bucket', { class: 'latency', le: '0.00025' })).toBe(1);
    expect(one(s, 'netchannel_socket_handshake_seconds_bucket', { class: 'latency', le: '0.0001' })).toBe(0);
    for (let i = 0; i < 2 * MAX_ERROR_CODES; i++) events.next({ ...base, type: 'socket-refused', appClass: 'throughput', remotePort: 1, code: `E${i}` });
    s = await scrapeRegistry(registry);
    expect(pick(s, 'netchannel_errors_total')).toHaveLength(MAX_ERROR_CODES + 1);
    expect(one(s, 'netchannel_errors_total', { code: 'OTHER' })).toBe(MAX_ERROR_CODES + 3);
  });

  it('registers exactly METRIC_NAMES, refuses a second instance on one registry, and dispose() unregisters', async () => {
    const { source, events } = fakeSource();
    const registry = new Registry();
    const m = new StackMetrics(source, registry, { policies: POLICIES });
    expect((await registry.getMetricsAsJSON()).map((x) => x.name).sort()).toEqual([...METRIC_NAMES].sort());
    expect(() => new StackMetrics(source, registry, { policies: POLICIES })).toThrow(/registry already has a metric named netchannel_/);
    m.dispose();
    m.dispose();
    expect(await registry.getMetricsAsJSON()).toEqual([]);
    expect(events.observed).toBe(false);
    const again = new StackMetrics(source, registry, { policies: POLICIES });
    again.dispose();
  });

  it('validates its arguments', () => {
    const { source } = fakeSource();
    const registry = new Registry();
    expect(() => new StackMetrics(source, registry, { policies: { throughput: 'rr' } as never })).toThrow(/options.policies.latency must be a non-empty string, got undefined/);
    expect(() => new StackMetrics(source, {} as Registry, { policies: POLICIES })).toThrow(InvalidArgumentError);
    expect(() => new StackMetrics({} as never, registry, { policies: POLICIES })).toThrow(/source must be a stack/);
  });
});

// ---- docs and dashboard stay in step with the code -----------------------------------

describe('docs/metrics.md and docs/grafana-dashboard.json', () => {
  const docs = (name: string): string => readFileSync(new URL(`../docs/${name}`, import.meta.url), 'utf8');

  it('documents every metric', () => {
    const md = docs('metrics.md');
    for (const name of METRIC_NAMES) expect(md, name).toContain(`| \`${name}\` |`);
  });

  it('is a well-formed dashboard whose queries use only exported metrics', () => {
    const dash = JSON.parse(docs('grafana-dashboard.json')) as {
      schemaVersion: number;
      __inputs: Array<{ name: string; pluginId: string }>;
      panels: Array<{ id: number; type: string; title: string; datasource?: { uid: string }; targets?: Array<{ expr: string }> }>;
    };
    expect(dash.schemaVersion).toBe(39);
    expect(dash.__inputs).toEqual([expect.objectContaining({ name: 'DS_PROMETHEUS', pluginId: 'prometheus' })]);
    expect(new Set(dash.panels.map((p) => p.id)).size).toBe(dash.panels.length);
    const known = new Set([...METRIC_NAMES, 'netchannel_workers']);
    const used = new Set<string>();
    for (const p of dash.panels.filter((x) => x.type !== 'row')) {
      expect(p.datasource?.uid, p.title).toBe('${DS_PROMETHEUS}');
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets ?? []) {
        for (const m of t.expr.matchAll(/netchannel_[a-z_]+/g)) {
          const name = m[0].replace(/_(bucket|count|sum)$/, '');
          expect(known.has(name), `${p.title}: ${m[0]}`).toBe(true);
          used.add(name);
        }
      }
    }
    const titles = dash.panels.map((p) => p.title);
    expect(titles).toContain('Workers (multi-core data path)');
    for (const name of ['netchannel_channel_sent_bytes_total', 'netchannel_channel_queued_bytes', 'netchannel_sockets_open', 'netchannel_socket_handshake_seconds', 'netchannel_scaling_actions_total', 'netchannel_hol_events_total', 'netchannel_errors_total', 'netchannel_channel_busy_ratio', 'netchannel_workers']) {
      expect(used.has(name), name).toBe(true);
    }
  });
});
