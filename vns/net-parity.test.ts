/**
 * net.Socket parity, side by side: every behaviour runs on a real `net` pair on
 * loopback and on a VirtualSocket pair, and the observations (event sequences,
 * hadError, pending/readyState/connecting, address shapes, errors' presence) must be
 * equal. What may differ is listed in docs/net-differences.md and normalized here:
 * error codes (NETCHANNEL_ERR_* instead of errno names, checked by mapping).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStack, type Stack } from '../index.js';
import { tcp } from '../transports/tcp/index.js';
import { unix } from '../transports/unix/index.js';
import { within } from '../test/pair.js';

/** What both kinds of socket offer (net.Socket and VirtualSocket). */
type Sock = net.Socket | import('./virtual-socket.js').VirtualSocket;

/** A way to make sockets: a plain net server, or a pair of stacks. */
interface Backend {
  readonly name: string;
  /** A connecting client socket (returned at once) and the server side once accepted. */
  open(listener?: () => void): { client: Sock; accepted: Promise<Sock> };
  /** A socket to a port nobody listens on. */
  refused(): Sock;
  /** A connect with an already aborted signal. */
  aborted(): Sock;
  /** An unconnected socket; `start()` connects it the way pg does: `connect(port, host)`. */
  unconnected(): { sock: Sock; start(): void; accepted: Promise<Sock> };
  /** A fresh listening server (closed by the test). */
  server(): Promise<ServerLike>;
  close(): Promise<void>;
}

interface ServerLike {
  close(cb?: (err?: Error) => void): unknown;
  address(): unknown;
  listening: boolean;
  ref(): unknown;
  unref(): unknown;
  [Symbol.asyncDispose]?: unknown;
}

/** Maps our stable codes to the errno names net gives for the same event. */
const CODE_MAP: Record<string, string> = {
  NETCHANNEL_ERR_CONNECTION_RESET: 'ECONNRESET',
  NETCHANNEL_ERR_CONNECTION_REFUSED: 'ECONNREFUSED',
  // net gives ENOENT for a Unix socket path nobody listens on.
  ENOENT: 'ECONNREFUSED',
  NETCHANNEL_ERR_ABORTED: 'ABORT_ERR',
};

/** Records the events of a socket as strings; 'close' with its hadError, 'error' with its (mapped) code. */
function record(sock: Sock): string[] {
  track(sock);
  const log: string[] = [];
  for (const e of ['connect', 'ready', 'end', 'finish', 'timeout']) sock.on(e, () => log.push(e));
  sock.on('error', (err: Error & { code?: string }) => log.push(`error ${CODE_MAP[err.code ?? ''] ?? err.code}`));
  sock.on('close', (hadError?: boolean) => log.push(`close(${hadError})`));
  return log;
}

const closes = new WeakMap<Sock, Promise<void>>();

/** Starts watching for `'close'` (call before it can happen). */
function track(sock: Sock): Sock {
  if (!closes.has(sock)) closes.set(sock, new Promise<void>((r) => sock.once('close', () => r())));
  return sock;
}

/** Resolves once a tracked socket emitted `'close'`. */
function closed(sock: Sock): Promise<void> {
  const p = closes.get(sock);
  if (!p) throw new Error('socket not tracked');
  return within(p, 5000, 'close');
}

const states = (s: Sock): { pending: boolean; connecting: boolean; readyState: string; destroyed: boolean } => ({
  pending: s.pending,
  connecting: s.connecting,
  readyState: s.readyState,
  destroyed: s.destroyed,
});

/** A plain net server on loopback (IPv4, IPv6 or a Unix socket). */
async function netBackend(kind: 'ipv4' | 'ipv6' | 'unix'): Promise<Backend> {
  const dir = kind === 'unix' ? mkdtempSync(join(tmpdir(), 'nc-parity-')) : undefined;
  const host = kind === 'ipv6' ? '::1' : '127.0.0.1';
  const servers: net.Server[] = [];
  const listen = async (): Promise<{ server: net.Server; target: { port: number; host: string } | { path: string } }> => {
    const server = net.createServer();
    servers.push(server);
    const path = dir ? join(dir, `s${servers.length}.sock`) : undefined;
    await new Promise<void>((r) => (path ? server.listen(path, r) : server.listen(0, host, r)));
    return { server, target: path ? { path } : { port: (server.address() as net.AddressInfo).port, host } };
  };
  const main = await listen();
  const accept = (server: net.Server): Promise<Sock> => new Promise((r) => server.once('connection', r));
  return {
    name: `net ${kind}`,
    open(listener) {
      const accepted = accept(main.server);
      return { client: net.createConnection(main.target as net.NetConnectOpts, listener), accepted };
    },
    refused: () => (dir ? net.createConnection(join(dir, 'nobody.sock')) : net.createConnection(1, host)),
    aborted() {
      const ac = new AbortController();
      ac.abort();
      return net.createConnection({ ...(main.target as net.TcpNetConnectOpts), signal: ac.signal });
    },
    unconnected() {
      const sock = new net.Socket();
      const accepted = accept(main.server);
      const t = main.target as { port?: number; host?: string; path?: string };
      return { sock, accepted, start: () => (t.path ? sock.connect(t.path) : sock.connect(t.port!, t.host!)) };
    },
    server: async () => (await listen()).server as unknown as ServerLike,
    async close() {
      for (const s of servers) s.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Two stacks over tcp:// (IPv4 or IPv6) or unix://, virtual port 80. */
async function stackBackend(kind: 'ipv4' | 'ipv6' | 'unix'): Promise<Backend> {
  const dir = kind === 'unix' ? mkdtempSync(join(tmpdir(), 'nc-parity-')) : undefined;
  const listenAt = dir ? `unix://${join(dir, 's.sock')}` : kind === 'ipv6' ? 'tcp://[::1]:0' : 'tcp://127.0.0.1:0';
  const transports = [dir ? unix() : tcp()];
  const channels = { throughput: 2, latency: 1 };
  const server: Stack = await createStack({ transports, listen: [listenAt], channels });
  const client: Stack = await createStack({ transports, channels });
  const address = server.addresses[0]!;
  const main = await server.listen(80);
  let nextPort = 81;
  const accept = (): Promise<Sock> => new Promise((r) => main.once('connection', r));
  return {
    name: `netchannel ${kind}`,
    open(listener) {
      const accepted = accept();
      return { client: client.createConnection(address, 80, {}, listener), accepted };
    },
    refused: () => client.createConnection(address, 1),
    aborted() {
      const ac = new AbortController();
      ac.abort();
      return client.createConnection(address, 80, { signal: ac.signal });
    },
    unconnected() {
      const sock = client.createSocket(address);
      const accepted = accept();
      return { sock, accepted, start: () => sock.connect(80, 'localhost') };
    },
    server: async () => (await server.listen(nextPort++)) as unknown as ServerLike,
    async close() {
      await Promise.all([client.close(), server.close()]);
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A connected pair, with event logs attached before anything happens. */
async function connectedPair(b: Backend): Promise<{ client: Sock; server: Sock; clientLog: string[]; serverLog: string[] }> {
  const { client, accepted } = b.open();
  const clientLog = record(client);
  await within(new Promise((r) => client.once('connect', r)), 5000, `${b.name} connect`);
  const server = await within(accepted, 5000, `${b.name} accept`);
  const serverLog = record(server);
  return { client, server, clientLog, serverLog };
}

/** One behaviour: returns what it observed; both backends must observe the same. */
type Behaviour = (b: Backend) => Promise<unknown>;

const behaviours: Record<string, Behaviour> = {
  'destroy() with nothing pending: peer sees end, close(false)': async (b) => {
    const p = await connectedPair(b);
    p.server.resume();
    p.client.destroy();
    await Promise.all([closed(p.client), closed(p.server)]);
    return { client: p.clientLog, server: p.serverLog, pendingAfter: p.client.pending, stateAfter: states(p.client) };
  },
  'destroy() after write: the data arrives, then end, close(false)': async (b) => {
    const p = await connectedPair(b);
    const got: Buffer[] = [];
    p.server.on('data', (d: Buffer) => got.push(d));
    p.client.write('hello before destroy');
    await new Promise((r) => p.client.write('', r)); // handed to the transport
    p.client.destroy();
    await Promise.all([closed(p.client), closed(p.server)]);
    return { data: Buffer.concat(got).toString(), server: p.serverLog };
  },
  'resetAndDestroy(): peer gets a reset error, then close(true)': async (b) => {
    const p = await connectedPair(b);
    p.client.resetAndDestroy();
    await Promise.all([closed(p.client), closed(p.server)]);
    return { client: p.clientLog, server: p.serverLog, stateAfter: states(p.client) };
  },
  'destroy() with much received data unread (paused): the peer is reset': async (b) => {
    const p = await connectedPair(b);
    p.server.pause();
    p.client.write(Buffer.alloc(1024 * 1024, 1)); // more than net's readable buffer holds
    // Barrier: a second connection's round trip guarantees the bytes reached the server.
    const q = await connectedPair(b);
    q.server.on('data', () => q.server.write('pong'));
    q.client.write('ping');
    await within(new Promise((r) => q.client.once('data', r)), 5000, 'barrier');
    p.server.destroy();
    await Promise.all([closed(p.client), closed(p.server)]);
    q.client.destroy();
    await Promise.all([closed(q.client), closed(q.server)]);
    return { client: p.clientLog, server: p.serverLog };
  },
  'end() both ways without allowHalfOpen: end, finish, close(false) on both': async (b) => {
    const p = await connectedPair(b);
    p.server.resume();
    p.client.resume();
    p.client.end();
    await Promise.all([closed(p.client), closed(p.server)]);
    return { client: p.clientLog, server: p.serverLog };
  },
  'destroy(err): error then close(true) locally; the peer sees a clean end': async (b) => {
    const p = await connectedPair(b);
    p.server.resume();
    p.client.destroy(Object.assign(new Error('app failure'), { code: 'APP' }));
    await Promise.all([closed(p.client), closed(p.server)]);
    return { client: p.clientLog, server: p.serverLog };
  },
  'createConnection: pending/connecting/readyState through the life of a socket': async (b) => {
    const { client, accepted } = b.open();
    const log = record(client);
    const seen = [states(client)];
    await within(new Promise((r) => client.once('connect', r)), 5000, 'connect');
    seen.push(states(client));
    const server = track(await accepted);
    server.resume();
    client.resume();
    client.end();
    seen.push(states(client));
    await closed(client);
    seen.push(states(client));
    await closed(server);
    return { seen, log };
  },
  "createConnection's connectListener runs on 'connect', before 'ready'": async (b) => {
    const order: string[] = [];
    const { client, accepted } = b.open(() => order.push('listener'));
    track(client);
    client.on('connect', () => order.push('connect'));
    client.on('ready', () => order.push('ready'));
    await within(new Promise((r) => client.once('ready', r)), 5000, 'ready');
    (await accepted).destroy();
    client.destroy();
    await closed(client);
    return order;
  },
  'an unconnected socket, then connect(port, host) as pg does': async (b) => {
    const u = b.unconnected();
    const log = record(u.sock);
    const seen = [states(u.sock)];
    u.start();
    seen.push(states(u.sock));
    await within(new Promise((r) => u.sock.once('connect', r)), 5000, 'connect');
    seen.push(states(u.sock));
    (await u.accepted).destroy();
    u.sock.destroy();
    await closed(u.sock);
    return { seen, log };
  },
  'connect to a port nobody listens on: error, close(true), pending again': async (b) => {
    const s = b.refused();
    const log = record(s);
    const before = states(s);
    await closed(s);
    return { before, log, after: states(s) };
  },
  'allowHalfOpen-style readyState after end(): writeOnly / readOnly': async (b) => {
    const p = await connectedPair(b);
    p.client.resume();
    const ended = new Promise((r) => p.server.once('end', r));
    const seen: Record<string, string> = {};
    // Our side ended writing; the peer's readable ends without a reader (buffer empty).
    p.server.once('end', () => Object.assign(seen, { client: p.client.readyState, server: p.server.readyState }));
    p.client.end();
    await within(new Promise((r) => p.client.once('finish', r)), 5000, 'finish');
    await within(ended, 5000, `${b.name} end`);
    await Promise.all([closed(p.client), closed(p.server)]);
    return seen;
  },
  'setTimeout(ms) emits timeout and does not close': async (b) => {
    const p = await connectedPair(b);
    p.server.resume();
    await within(new Promise<void>((r) => p.client.setTimeout(20, r)), 5000, 'timeout');
    const alive = !p.client.destroyed;
    p.client.setTimeout(0);
    p.client.destroy();
    await Promise.all([closed(p.client), closed(p.server)]);
    return { alive, log: p.clientLog.slice(0, 3) };
  },
  'write() after end(): an error, and the socket closes with hadError': async (b) => {
    const p = await connectedPair(b);
    p.server.resume();
    p.client.end();
    const errs: string[] = [];
    p.client.write('late', (e) => errs.push((e as Error & { code?: string })?.code ?? 'none'));
    await Promise.all([closed(p.client), closed(p.server)]);
    return { errs, hasWriteAfterEnd: p.clientLog.includes('error ERR_STREAM_WRITE_AFTER_END') };
  },
  'bytesRead / bytesWritten count payload bytes': async (b) => {
    const p = await connectedPair(b);
    p.client.write('12345');
    await within(new Promise((r) => p.server.once('data', r)), 5000, 'data');
    p.server.resume();
    const counts = { written: p.client.bytesWritten, read: p.server.bytesRead };
    p.client.destroy();
    await Promise.all([closed(p.client), closed(p.server)]);
    return counts;
  },
  'address shapes: IP strings and families, 16-bit ports, address()': async (b) => {
    const p = await connectedPair(b);
    const shape = (s: Sock) => ({
      remoteAddress: s.remoteAddress,
      remoteFamily: s.remoteFamily,
      localAddress: s.localAddress,
      localFamily: s.localFamily,
      isIP: net.isIP(s.remoteAddress ?? ''),
      localPortInRange: s.localPort === undefined ? 'undefined' : s.localPort >= 1 && s.localPort <= 65535,
      remotePortInRange: s.remotePort === undefined ? 'undefined' : s.remotePort >= 1 && s.remotePort <= 65535,
      addressKeys: Object.keys(s.address()).sort(),
      addressPortIsLocalPort: (s.address() as { port?: number }).port === s.localPort,
    });
    const out = { client: shape(p.client), server: shape(p.server), peersMatch: p.client.localPort === p.server.remotePort };
    p.server.resume();
    p.client.destroy();
    await Promise.all([closed(p.client), closed(p.server)]);
    return out;
  },
  // The last two socket behaviours may leave a stray connection (net connects in the
  // kernel before the abort or destroy) or a waiting 'connection' listener: nothing
  // after them accepts on the main server.
  'destroy() while connecting: no error, close(false)': async (b) => {
    const { client, accepted } = b.open();
    const log = record(client);
    client.destroy();
    await closed(client);
    void accepted.then((s) => s.destroy());
    return { log, after: states(client) };
  },
  'connect with an already aborted signal: an AbortError, then closed': async (b) => {
    const s = track(b.aborted());
    const names: string[] = [];
    s.on('error', (e) => names.push(e.name));
    await closed(s);
    return { names, connected: s.listenerCount('connect') };
  },
  'server.close(cb) returns the server; a second close gets ERR_SERVER_NOT_RUNNING; address() is null after': async (b) => {
    const s = await b.server();
    const first = await new Promise<string>((resolve) => {
      const ret = s.close((err) => resolve(err ? (err as Error & { code: string }).code : 'ok'));
      expect(ret).toBe(s);
    });
    const second = await new Promise<string>((resolve) => s.close((err) => resolve(err ? (err as Error & { code: string }).code : 'ok')));
    return { first, second, address: s.address(), listening: s.listening };
  },
  'server ref()/unref() return the server; Symbol.asyncDispose exists': async (b) => {
    const s = await b.server();
    const out = { ref: s.ref() === s, unref: s.unref() === s, asyncDispose: typeof s[Symbol.asyncDispose] };
    await new Promise((r) => s.close(r));
    return out;
  },
};

/**
 * Documented differences over unix:// (docs/net-differences.md): a virtual socket
 * always has its virtual ports (a Unix socket has none); net's resetAndDestroy() is
 * TCP-only (it throws for pipes); a closed net.Server on a path still reports the
 * path from address(), a closed VirtualServer reports null as for TCP.
 */
const UNIX_DIFFERENT = new Set(['resetAndDestroy(): peer gets a reset error, then close(true)']);
function normalize(kind: string, behaviour: string, obs: unknown): unknown {
  if (kind !== 'unix') return obs;
  return JSON.parse(JSON.stringify(obs, (key, value: unknown) => {
    if (['localPortInRange', 'remotePortInRange', 'addressPortIsLocalPort'].includes(key)) return undefined;
    if (key === 'address' && behaviour.startsWith('server.close')) return undefined;
    return value;
  }));
}

/** Behaviours whose observations are equal on net and netchannel, per transport kind. */
const results: Array<{ kind: string; behaviour: string; same: boolean }> = [];

for (const kind of ['ipv4', 'ipv6', 'unix'] as const) {
  describe(`net.Socket parity over ${kind}`, () => {
    let netB: Backend;
    let ncB: Backend;
    beforeAll(async () => {
      netB = await netBackend(kind);
      ncB = await stackBackend(kind);
    });
    afterAll(async () => {
      await netB?.close();
      await ncB?.close();
    });
    for (const [name, observe] of Object.entries(behaviours)) {
      if (kind === 'unix' && UNIX_DIFFERENT.has(name)) continue;
      it(name, async () => {
        const expected = normalize(kind, name, await observe(netB));
        const actual = normalize(kind, name, await observe(ncB));
        results.push({ kind, behaviour: name, same: JSON.stringify(expected) === JSON.stringify(actual) });
        expect(actual).toEqual(expected);
      });
    }
  });
}

describe('documented differences from net.Socket (docs/net-differences.md)', () => {
  let ncB: Backend;
  let unixB: Backend;
  beforeAll(async () => {
    ncB = await stackBackend('ipv4');
    unixB = await stackBackend('unix');
  });
  afterAll(async () => {
    await ncB?.close();
    await unixB?.close();
  });

  it('error codes are stable NETCHANNEL_ERR_* codes, not errno names', async () => {
    const p = await connectedPair(ncB);
    const err = new Promise<string>((r) => p.server.once('error', (e: Error & { code: string }) => r(e.code)));
    p.client.resetAndDestroy();
    expect(await within(err, 5000, 'reset')).toBe('NETCHANNEL_ERR_CONNECTION_RESET');
    const refused = ncB.refused();
    const code = await within(new Promise<string>((r) => refused.once('error', (e: Error & { code: string }) => r(e.code))), 5000, 'refused');
    expect(code).toBe('NETCHANNEL_ERR_CONNECTION_REFUSED');
  });

  it('destroy() with any unread received data resets the peer (net: only data still in the kernel)', async () => {
    const p = await connectedPair(ncB);
    p.server.pause();
    p.client.write('small, unread');
    await within(
      (async () => {
        while (p.server.readableLength === 0) await new Promise((r) => setImmediate(r));
      })(),
      5000,
      'data buffered',
    );
    p.server.destroy();
    await Promise.all([closed(p.client), closed(p.server)]);
    expect(p.clientLog).toEqual(['connect', 'ready', 'error ECONNRESET', 'close(true)']);
    expect(p.serverLog).toEqual(['close(false)']);
  });

  it('over unix:// a virtual socket keeps its virtual ports and supports resetAndDestroy()', async () => {
    const p = await connectedPair(unixB);
    expect(p.client.remoteAddress).toBeUndefined();
    expect(p.client.remotePort).toBe(80);
    expect(p.client.localPort).toBeGreaterThanOrEqual(49152);
    p.client.resetAndDestroy();
    await Promise.all([closed(p.client), closed(p.server)]);
    expect(p.serverLog).toEqual(['error ECONNRESET', 'close(true)']);
  });

  it('ports read 0 (not undefined) until the socket is opened; remoteStackAddress and remoteHostId give the netchannel view', async () => {
    const u = ncB.unconnected();
    expect([u.sock.localPort, u.sock.remotePort]).toEqual([0, 0]);
    const log = record(u.sock);
    u.start();
    await within(new Promise((r) => u.sock.once('connect', r)), 5000, 'connect');
    const vs = u.sock as import('./virtual-socket.js').VirtualSocket;
    expect(vs.remoteStackAddress).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    expect(vs.remoteHostId).toMatch(/^[0-9a-f]{32}$/);
    (await u.accepted).destroy();
    u.sock.destroy();
    await closed(u.sock);
    expect(log).toContain('close(false)');
  });
});

afterAll(() => {
  if (process.env.NETCHANNEL_PARITY_TABLE) {
    for (const r of results) console.log(`| ${r.kind} | ${r.behaviour} | ${r.same ? 'same' : 'DIFFERENT'} |`);
  }
});
