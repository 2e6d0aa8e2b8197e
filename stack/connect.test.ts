import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createStack, type VirtualSocket } from '../index.js';
import { rpcConnect, rpcListen } from '../rpc/index.js';
import { tcp } from '../transports/tcp/index.js';
import { EphemeralPorts, PortAllocator } from '../vns/port-allocator.js';
import { catchError, event, readAll, stackPair, within, type StackPair } from '../test/pair.js';

let pair: StackPair | undefined;
afterEach(async () => {
  await pair?.close();
  pair = undefined;
});

/** An echo server on `port`. */
async function echo(p: StackPair, port = 80): Promise<void> {
  (await p.server.listen(port)).on('connection', (s) => s.pipe(s));
}

describe('socket factories like net', () => {
  it('createSocket().connect(port, host) as pg calls it, then waits for connect', async () => {
    pair = await stackPair('tcp', { channels: { throughput: 2, latency: 1 } });
    await echo(pair, 5432);
    // What pg does with `stream: () => stack.createSocket(addr)`:
    const stream = pair.client.createSocket(pair.address);
    expect(stream.connecting).toBe(false);
    expect(stream.pending).toBe(true);
    const connected = new Promise<void>((resolve, reject) => {
      stream.once('connect', resolve);
      stream.once('error', reject);
    });
    expect(stream.connect(5432, 'localhost')).toBe(stream);
    expect(stream.connecting).toBe(true);
    stream.setNoDelay(true);
    stream.setKeepAlive(true, 0);
    await within(connected, 5000, 'connect');
    expect(stream.pending).toBe(false);
    expect(stream.remotePort).toBe(5432);
    stream.end('SELECT 1');
    expect((await within(readAll(stream), 5000, 'echo')).toString()).toBe('SELECT 1');
    // connect() twice, or on a createConnection socket, is a typed error.
    expect(catchError(() => stream.connect(5432))).toMatchObject({ code: 'NETCHANNEL_ERR_INVALID_ARG' });
  });

  it('connect({ port }, listener) and a port given as a string', async () => {
    pair = await stackPair('memory', { channels: { throughput: 1, latency: 0 } });
    await echo(pair);
    const a = pair.client.createSocket(pair.address);
    await within(new Promise<void>((r) => a.connect({ port: 80 }, r)), 5000, 'connect listener');
    const b = pair.client.createSocket(pair.address);
    b.connect('80');
    await event(b, 'connect');
    a.destroy();
    b.destroy();
  });

  it('createConnection returns a connecting socket at once: connect and ready, writes queue until then', async () => {
    pair = await stackPair('tcp', { channels: { throughput: 2, latency: 1 } });
    await echo(pair);
    const order: string[] = [];
    const sock = pair.client.createConnection(pair.address, 80, { appClass: 'latency' }, () => order.push('listener'));
    sock.on('connect', () => order.push('connect'));
    sock.on('ready', () => order.push('ready'));
    expect({ connecting: sock.connecting, pending: sock.pending, readyState: sock.readyState }).toEqual({ connecting: true, pending: true, readyState: 'opening' });
    sock.end('written while connecting');
    expect((await within(readAll(sock), 5000, 'echo')).toString()).toBe('written while connecting');
    expect(order).toEqual(['listener', 'connect', 'ready']);
    expect(sock.appClass).toBe('latency');
  });

  it('bad arguments throw at once (no socket), refusals arrive as error then close(true)', async () => {
    pair = await stackPair('memory', { channels: { throughput: 1, latency: 0 } });
    expect(catchError(() => pair!.client.createConnection(pair!.address, 49152))).toMatchObject({ code: 'NETCHANNEL_ERR_INVALID_ARG' });
    expect(catchError(() => pair!.client.createConnection('nope://x', 80))).toMatchObject({ code: 'NETCHANNEL_ERR_UNKNOWN_SCHEME' });
    expect(catchError(() => pair!.client.createConnection(pair!.address, 80, { appClass: 'bulk' as never }))).toMatchObject({ code: 'NETCHANNEL_ERR_INVALID_ARG' });
    const sock = pair.client.createConnection(pair.address, 81);
    const log: string[] = [];
    sock.on('error', (e: Error & { code: string }) => log.push(e.code));
    await new Promise<void>((r) => sock.once('close', (hadError: boolean) => r(void log.push(`close(${hadError})`))));
    expect(log).toEqual(['NETCHANNEL_ERR_CONNECTION_REFUSED', 'close(true)']);
    expect(sock.pending).toBe(true);
  });
});

describe('signal and timeout', () => {
  it('listen({ timeout }) sets an idle timeout on every accepted socket: it emits "timeout" and stays open, as net', async () => {
    pair = await stackPair('memory', { channels: { throughput: 1, latency: 0 } });
    const server = await pair.server.listen(80, { timeout: 50 });
    const accepted = new Promise<VirtualSocket>((r) => server.once('connection', r));
    const sock = await pair.client.connect(pair.address, 80);
    const s = await accepted;
    await within(event(s, 'timeout', 2000), 2000, 'idle timeout on the accepted socket');
    expect(s.destroyed).toBe(false);
    sock.write('x');
    expect((await within(event<[Buffer]>(s, 'data', 2000), 2000, 'data after the timeout'))[0].toString()).toBe('x');
    await expect(pair.server.listen(81, { timeout: 0 })).rejects.toMatchObject({ code: 'NETCHANNEL_ERR_INVALID_ARG', message: expect.stringMatching(/timeout/) });
  });
  it('an already aborted signal: connect rejects with an AbortError and nothing is sent; listen rejects', async () => {
    pair = await stackPair('memory', { channels: { throughput: 1, latency: 0 } });
    let accepted = 0;
    (await pair.server.listen(80)).on('connection', () => accepted++);
    const ac = new AbortController();
    ac.abort(new Error('changed my mind'));
    const err = await pair.client.connect(pair.address, 80, { signal: ac.signal }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'AbortError', code: 'NETCHANNEL_ERR_ABORTED' });
    expect((err as Error).cause).toBe(ac.signal.reason);
    await expect(pair.server.listen(82, { signal: ac.signal })).rejects.toMatchObject({ name: 'AbortError' });
    // A later connect goes through, and was the only one the server saw.
    const ok = await pair.client.connect(pair.address, 80);
    ok.destroy();
    expect(accepted).toBe(1);
  });

  it('aborting while connecting destroys the socket; aborting a listen signal closes the server', async () => {
    pair = await stackPair('tcp', { channels: { throughput: 1, latency: 0 } });
    const ac = new AbortController();
    const srv = await pair.server.listen(90, { signal: ac.signal });
    const sock = pair.client.createConnection(pair.address, 90, { signal: AbortSignal.abort() });
    expect((await event<[Error & { code: string }]>(sock, 'error'))[0].code).toBe('NETCHANNEL_ERR_ABORTED');
    const connecting = new AbortController();
    const late = pair.client.createConnection(pair.address, 90, { signal: connecting.signal });
    const lateErr = event<[Error & { code: string }]>(late, 'error');
    connecting.abort();
    expect((await lateErr)[0].code).toBe('NETCHANNEL_ERR_ABORTED');
    const closed = event(srv, 'close');
    ac.abort();
    await closed;
    expect(srv.listening).toBe(false);
    expect(srv.address()).toBeNull();
  });

  it('timeout bounds the whole connect, dialing included (a peer that never answers the HELLO)', async () => {
    const silent = net.createServer(() => {}); // accepts, never speaks
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const stack = await createStack({ transports: [tcp()], handshakeTimeout: 60_000 });
    try {
      const t0 = performance.now();
      const sock = stack.createConnection(`tcp://127.0.0.1:${(silent.address() as net.AddressInfo).port}`, 80, { timeout: 100 });
      const [err] = await event<[Error & { code: string }]>(sock, 'error', 5000);
      expect(err.code).toBe('NETCHANNEL_ERR_TIMEOUT');
      expect(performance.now() - t0).toBeLessThan(3000);
      expect(catchError(() => stack.createConnection('tcp://127.0.0.1:1', 80, { timeout: 0 }))).toMatchObject({ code: 'NETCHANNEL_ERR_INVALID_ARG' });
    } finally {
      stack.destroy();
      silent.close();
    }
  });
});

describe('options: unknown keys are rejected, naming the key and the known ones', () => {
  it('createStack, connect, listen and rpc options', async () => {
    await expect(createStack({ chanels: { throughput: 1 } } as never)).rejects.toMatchObject({
      code: 'NETCHANNEL_ERR_INVALID_ARG',
      message: expect.stringMatching(/options\.chanels is not a known option \(known: listen, channels, /),
    });
    await expect(createStack({ scheduler: { isolaton: false } } as never)).rejects.toThrow(/options\.scheduler\.isolaton .*known: .*isolation/);
    await expect(createStack({ channels: { thruput: 1 } } as never)).rejects.toThrow(/options\.channels\.thruput/);
    await expect(createStack({ metrics: { enable: false } } as never)).rejects.toThrow(/options\.metrics\.enable .*known: enabled/);
    pair = await stackPair('memory', { channels: { throughput: 1, latency: 0 } });
    const p = pair;
    await expect(p.client.connect(p.address, 80, { apClass: 'latency' } as never)).rejects.toThrow(/connect options\.apClass is not a known option \(known: appClass, signal, timeout, sendBuffer\)/);
    expect(catchError(() => p.client.createSocket(p.address, { tiemout: 5 } as never))).toMatchObject({ code: 'NETCHANNEL_ERR_INVALID_ARG' });
    await expect(p.server.listen(80, { appclass: 'latency' } as never)).rejects.toThrow(/listen options\.appclass .*known: appClass, signal/);
    await expect(rpcListen(p.server, 0, (x) => x, { maxMesageSize: 1 } as never)).rejects.toThrow(/rpc listen options\.maxMesageSize .*known: maxMessageSize, timeout, appClass, signal, onMessage/);
    const rpc = await rpcListen(p.server, 7, (x) => x);
    await expect(rpcConnect(p.client, p.address, 7, { apClass: 'latency' } as never)).rejects.toThrow(/rpc connect options\.apClass/);
    const c = await rpcConnect(p.client, p.address, 7, { appClass: 'latency', timeout: 1000 });
    expect((await c.request('ok')).toString()).toBe('ok');
    await c.close();
    await rpc.close();
  });
});

describe('servers like net.Server', () => {
  it('close(cb) returns the server; a second close gets ERR_SERVER_NOT_RUNNING; closeAsync and Symbol.asyncDispose wait for connections', async () => {
    pair = await stackPair('tcp', { channels: { throughput: 1, latency: 0 } });
    const srv = await pair.server.listen(0);
    const port = (srv.address() as { port: number }).port;
    expect(port).toBe(srv.port);
    expect(port).toBeGreaterThanOrEqual(1);
    expect(port).toBeLessThanOrEqual(49151);
    expect(srv.address()).toMatchObject({ address: '127.0.0.1', family: 'IPv4' });
    expect(srv.ref()).toBe(srv);
    expect(srv.unref()).toBe(srv);
    const accepted = event<[VirtualSocket]>(srv, 'connection');
    const client = await pair.client.connect(pair.address, port);
    const [peer] = await accepted;
    let firstDone = false;
    const first = new Promise<Error | undefined>((r) => srv.close((err) => r(((firstDone = true), err))));
    const disposed = srv[Symbol.asyncDispose]();
    const second = await new Promise<Error | undefined>((r) => srv.close(r));
    expect(second).toMatchObject({ code: 'ERR_SERVER_NOT_RUNNING' });
    expect(srv.address()).toBeNull();
    expect(firstDone).toBe(false); // waits for the open connection, as net
    peer.resume();
    client.end();
    expect(await within(first, 5000, 'close callback')).toBeUndefined();
    await within(disposed, 5000, 'asyncDispose');
    await srv.closeAsync(); // idempotent
  });

  it('Stack[Symbol.asyncDispose] closes gracefully', async () => {
    const stack = await createStack({ transports: [tcp()], listen: ['tcp://127.0.0.1:0'] });
    await stack[Symbol.asyncDispose]();
    await expect(stack.listen(1)).rejects.toMatchObject({ code: 'NETCHANNEL_ERR_CLOSED' });
  });
});

describe('16-bit virtual ports', () => {
  it('ephemeral ports are 49152-65535 per peer, reused only once released', () => {
    const eph = new EphemeralPorts();
    const seen = new Set<number>();
    for (let i = 0; i < 16384; i++) seen.add(eph.take('peer'));
    expect(seen.size).toBe(16384);
    expect(Math.min(...seen)).toBe(49152);
    expect(Math.max(...seen)).toBe(65535);
    expect(catchError(() => eph.take('peer'))).toMatchObject({ code: 'NETCHANNEL_ERR_LIMIT' });
    eph.release(50000);
    expect(eph.take('peer')).toBe(50000);
  });

  it('listening ports are 1-49151; listen(0) picks a free one in range', () => {
    const ports = new PortAllocator();
    expect(catchError(() => ports.listen(49152))).toMatchObject({ code: 'NETCHANNEL_ERR_INVALID_ARG' });
    expect(ports.listen(49151)).toBe(49151);
    const any = ports.listen(0);
    expect(any).toBeGreaterThanOrEqual(1);
    expect(any).toBeLessThanOrEqual(49151);
    expect(ports.listen(0)).not.toBe(any);
  });

  it('two stacks dialing each other share one session; equal port numbers on both sides do not collide', async () => {
    const [a, b] = await Promise.all([0, 1].map(() => createStack({ transports: [tcp()], listen: ['tcp://127.0.0.1:0'], channels: { throughput: 1, latency: 0 } })));
    try {
      for (const s of [a!, b!]) (await s.listen(80)).on('connection', (sock) => sock.pipe(sock));
      const ab = await a!.connect(b!.addresses[0]!, 80);
      const ba = await b!.connect(a!.addresses[0]!, 80);
      expect(ab.localPort).toBe(49152);
      expect(ba.localPort).toBe(49152);
      ab.end('a to b');
      ba.end('b to a');
      expect((await within(readAll(ab), 5000, 'ab')).toString()).toBe('a to b');
      expect((await within(readAll(ba), 5000, 'ba')).toString()).toBe('b to a');
    } finally {
      await Promise.all([a!.close(), b!.close()]);
    }
  });
});
