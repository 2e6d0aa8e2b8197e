import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { StackEvent, VirtualSocket } from '../index.js';
import { collect, event, prng, readAll, until, within } from '../test/pair.js';
import { hashIncoming, sendBulk, workerPair, type WorkerPair } from '../test/worker-pair.js';
import { CopyPool } from './index.js';

let pair: WorkerPair | undefined;
afterEach(async () => {
  await pair?.close();
  pair = undefined;
});

describe('stack end to end with channels on 2 channel workers (default hand-off unless named)', () => {
  it('carries 1 GiB through one virtual socket over 4 channels spread over both workers, SHA-256 equal', async () => {
    pair = await workerPair({ channels: { throughput: 4, latency: 1 } });
    const server = await pair.server.listen(80);
    const received = new Promise<{ hash: string; bytes: number }>((resolve, reject) => server.once('connection', (s) => hashIncoming(s).then(resolve, reject)));
    const sock = await pair.client.connect(pair.address, 80);
    const total = 1024 * 1024 * 1024;
    const sentHash = await sendBulk(sock, total);
    const got = await within(received, 60_000, '1 GiB transfer');
    expect(got.bytes).toBe(total);
    expect(got.hash).toBe(sentHash);
    const tput = [...pair.client.peers.values()][0]!.device.channels.filter((c) => c.appClass === 'throughput');
    expect(tput).toHaveLength(4);
    for (const c of tput) expect(c.channel.bytesSent).toBeGreaterThan(total / 8);
    // Both workers carry channels (least-loaded placement, or class hints once the stack passes them).
    const perWorker = pair.clientDriver.pool.info().map((w) => w.channels);
    expect(perWorker, 'client channels per worker').toHaveLength(2);
    expect(perWorker.reduce((a, b) => a + b)).toBe(5);
    for (const n of perWorker) expect(n).toBeGreaterThanOrEqual(1);
  }, 90_000);

  for (const handoff of ['shared', 'transfer'] as const) {
    it(`runs 200 concurrent virtual sockets over 2 channels, each echoing random-sized data (${handoff})`, async () => {
      pair = await workerPair({ channels: { throughput: 2, latency: 0 } }, { workers: 2, handoff });
      const server = await pair.server.listen(7);
      server.on('connection', (s) => s.pipe(s));
      const rand = prng(7);
      const results = await within(
        Promise.all(
          Array.from({ length: 200 }, async (_, i) => {
            const sock = await pair!.client.connect(pair!.address, 7);
            const data = rand(1 + ((i * 7919) % 60_000));
            const echoed = readAll(sock);
            sock.end(data);
            return Buffer.compare(await echoed, data) === 0;
          }),
        ),
        30_000,
        '200 echo sockets',
      );
      expect(results.filter(Boolean)).toHaveLength(200);
      // 'end' is the peer's FIN; a socket leaves the table at 'close', once its own FIN
      // is acknowledged too, which may come a moment later on the other channel (worker).
      const table = [...pair.client.peers.values()][0]!.sockets;
      await until(() => table.size === 0, 5000, 'every client socket closed');
      expect(table.size).toBe(0);
    }, 40_000);
  }

  it('serves node:http GET and POST (2 MiB body) unchanged', async () => {
    pair = await workerPair({ channels: { throughput: 3, latency: 1 } });
    const app = http.createServer(async (req, res) => {
      const body = await readAll(req);
      res.end(req.method === 'POST' ? body : `hello ${req.url}`);
    });
    (await pair.server.listen(80)).on('connection', (s) => app.emit('connection', s));
    const request = async (method: string, path: string, body?: Buffer): Promise<Buffer> => {
      const sock = await pair!.client.connect(pair!.address, 80);
      return within(
        new Promise<Buffer>((resolve, reject) => {
          const req = http.request({ method, path, createConnection: () => sock as never, headers: { connection: 'close' } }, (res) => readAll(res).then(resolve, reject));
          req.on('error', reject);
          req.end(body);
        }),
        20_000,
        `${method} ${path}`,
      );
    };
    expect((await request('GET', '/index')).toString()).toBe('hello /index');
    const payload = prng(42)(2 * 1024 * 1024 + 3);
    expect((await request('POST', '/upload', payload)).equals(payload)).toBe(true);
    const many = await Promise.all(Array.from({ length: 20 }, (_, i) => request('GET', `/p${i}`)));
    many.forEach((b, i) => expect(b.toString()).toBe(`hello /p${i}`));
    app.close();
  });

  it('half-closes: the client ends, the server still answers, then both ends close', async () => {
    pair = await workerPair({ channels: { throughput: 2, latency: 0 }, allowHalfOpen: true });
    const server = await pair.server.listen(9);
    server.on('connection', (s: VirtualSocket) => {
      void collect(s).then((data) => s.end(Buffer.concat([Buffer.from('got '), data])));
    });
    const sock = await pair.client.connect(pair.address, 9);
    const closed = event(sock, 'close', 10_000);
    const reply = collect(sock);
    sock.end('question');
    expect((await within(reply, 10_000, 'reply after half-close')).toString()).toBe('got question');
    await closed;
  });

  it('destroy() reaches the peer as a clean end; resetAndDestroy() as a reset', async () => {
    pair = await workerPair({ channels: { throughput: 2, latency: 1 } });
    const server = await pair.server.listen(10);
    const closeOf = (peer: VirtualSocket): Promise<Error | undefined> =>
      // events.once('close') would reject on the peer's 'error' (reset), so listen by hand.
      new Promise<Error | undefined>((resolve) => {
        let error: Error | undefined;
        peer.on('error', (e) => (error = e));
        peer.on('close', () => resolve(error));
      });
    for (const reset of [false, true]) {
      const accepted = event<[VirtualSocket]>(server, 'connection');
      const sock = await pair.client.connect(pair.address, 10);
      sock.write('x');
      const [peer] = await accepted;
      const closed = closeOf(peer);
      peer.resume(); // like net, 'end' (and so the close) waits for the reader
      if (reset) sock.resetAndDestroy();
      else sock.destroy();
      const err = await within(closed, 10_000, 'peer close after destroy()');
      expect(peer.destroyed).toBe(true);
      if (reset) expect(err).toMatchObject({ code: 'NETCHANNEL_ERR_CONNECTION_RESET' });
      else expect(err).toBeUndefined();
    }
  });
});

describe("'shared' hand-off (SharedArrayBuffer rings) with copy workers", () => {
  it('carries 256 MiB written from shared memory; copy workers fill the rings; SHA-256 equal', async () => {
    const copyPool = new CopyPool({ min: 2, max: 2 });
    try {
      // Copy workers read the caller's shared memory, so the stack must keep it as is.
      pair = await workerPair({ channels: { throughput: 4, latency: 1 }, zeroCopyWrites: true }, { workers: 2, handoff: 'shared', copyPool });
      const server = await pair.server.listen(80);
      const received = new Promise<{ hash: string; bytes: number }>((resolve, reject) => server.once('connection', (s) => hashIncoming(s).then(resolve, reject)));
      const sock = await pair.client.connect(pair.address, 80);
      const total = 256 * 1024 * 1024;
      const template = randomBytes(1 << 20);
      const hash = createHash('sha256');
      for (let i = 0; i < total >> 20; i++) {
        // Each MiB in its own SharedArrayBuffer, never modified after write(): the stack
        // keeps references until the peer acknowledges, and copy workers read it later.
        const block = Buffer.from(new SharedArrayBuffer(1 << 20));
        template.copy(block);
        block.writeUInt32BE(i, 0);
        hash.update(block);
        if (!sock.write(block)) await event(sock, 'drain', 30_000);
      }
      sock.end();
      const got = await within(received, 60_000, '256 MiB over shared rings');
      expect(got.bytes).toBe(total);
      expect(got.hash).toBe(hash.digest('hex'));
      const st = copyPool.stats();
      expect(st.offloadedBytes).toBeGreaterThan(total / 4);
      expect(st.inflightBytes).toBe(0);
    } finally {
      await pair?.close();
      pair = undefined;
      await copyPool.close();
    }
  }, 90_000);
});

describe('a channel worker dies mid-transfer', () => {
  for (const [side, handoff] of [
    ['client', 'shared'],
    ['server', 'shared'],
    ['client', 'transfer'],
  ] as const) {
    it(`${side} side (${handoff}): its channels fail with NETCHANNEL_ERR_CLOSED naming the worker, the stack re-dials, 256 MiB arrive intact`, async () => {
      pair = await workerPair({ channels: { throughput: 4, latency: 1 }, redialBackoff: { initial: 5, max: 100 } }, { workers: 2, handoff });
      const events: StackEvent[] = [];
      pair.client.events$.subscribe((e) => events.push(e));
      pair.server.events$.subscribe((e) => events.push(e));
      const driver = side === 'client' ? pair.clientDriver : pair.serverDriver;
      const exits: Array<{ slot: number; error: Error }> = [];
      driver.pool.on('worker-exit', (e) => exits.push(e));
      const server = await pair.server.listen(80);
      const received = new Promise<{ hash: string; bytes: number }>((resolve, reject) => server.once('connection', (s) => hashIncoming(s).then(resolve, reject)));
      const sock = await pair.client.connect(pair.address, 80);
      // The server's listener and accepted channels live on one worker: kill that one.
      const victim = side === 'client' ? 0 : driver.pool.info().find((w) => w.listeners > 0)!.slot;
      const total = 256 * 1024 * 1024;
      const sentHash = await sendBulk(sock, total, (i) => {
        if (i === 64) void driver.pool.worker(victim)!.terminate();
      });
      const got = await within(received, 60_000, 'transfer across a worker death');
      expect(got.bytes).toBe(total);
      expect(got.hash).toBe(sentHash);
      expect(exits.map((e) => e.slot)).toEqual([victim]);
      expect(exits[0]!.error.message).toMatch(new RegExp(`channel worker #${victim} \\(thread \\d+\\) exited`));
      const failed = events.filter((e): e is Extract<StackEvent, { type: 'channel-removed' }> => e.type === 'channel-removed' && e.reason === 'failed');
      expect(failed.length).toBeGreaterThan(0);
      expect(failed.some((e) => e.code === 'NETCHANNEL_ERR_CLOSED' && /channel worker #\d+/.test(e.error ?? ''))).toBe(true);
      // The pool replaced the worker.
      expect(driver.pool.info().map((w) => w.slot).sort()).toEqual([0, 1]);
    }, 90_000);
  }
});
