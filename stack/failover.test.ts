import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { StackEvent, VirtualSocket } from '../index.js';
import type { CutProxy } from '../test/cut-proxy.js';
import { event, hashSink, prng, sendBulk, within } from '../test/pair.js';
import { useProxiedPair, type ProxiedPair } from '../test/proxied-pair.js';

const proxied = useProxiedPair();
let proxy: CutProxy | undefined;
async function setup(options: Parameters<typeof proxied>[0] = {}): Promise<ProxiedPair> {
  const pair = await proxied(options);
  proxy = pair.proxy;
  return pair;
}

describe('channel failover', () => {
  it('loses no byte and duplicates none when channels are cut at random during a 1 GiB transfer over 4 TCP channels', async () => {
    const { server, client, address } = await setup({ channels: { throughput: 4, latency: 1 }, redialBackoff: { initial: 5, max: 100 } });
    const events: StackEvent[] = [];
    client.events$.subscribe((e) => events.push(e));
    const srv = await server.listen(80);
    const done = new Promise<{ hash: string; bytes: number }>((resolve, reject) => {
      srv.once('connection', (s: VirtualSocket) => hashSink(s).then(resolve, reject));
    });
    const sock = await client.connect(address, 80);
    sock.on('error', (e) => {
      throw e;
    });
    const total = 1024 * 1024 * 1024;
    const rand = prng(2024);
    let cuts = 0;
    // Cut a random channel roughly every 48 MiB, at a random point of the stream.
    const sent = await sendBulk(sock, total, (i) => {
      if (i % 48 === 47 - (rand(1)[0]! % 16)) cuts += proxy!.cut(1, () => rand(1)[0]! / 256);
    });
    const got = await within(done, 120_000, 'transfer through cuts');
    expect(cuts).toBeGreaterThanOrEqual(10);
    expect(got.bytes).toBe(total);
    expect(got.hash).toBe(sent);
    const failed = events.filter((e) => e.type === 'channel-removed' && e.reason === 'failed');
    expect(failed.length).toBeGreaterThanOrEqual(cuts - 1);
    expect(events.filter((e) => e.type === 'channel-added').length).toBeGreaterThanOrEqual(5 + cuts - 1);
  }, 240_000);

  it('when every channel dies and none returns, the socket fails with NETCHANNEL_ERR_PEER_UNREACHABLE after peerTimeout', async () => {
    const { server, client, address } = await setup({ channels: { throughput: 2, latency: 1 }, peerTimeout: 400, redialBackoff: { initial: 10, max: 50 } });
    (await server.listen(80)).on('connection', (s) => s.resume().on('error', () => {}));
    const sock = await client.connect(address, 80);
    sock.write(prng(1)(100_000));
    const t0 = performance.now();
    const err = event<[Error & { code: string }]>(sock, 'error', 10_000);
    await proxy!.shutdown();
    const [e] = await err;
    const waited = performance.now() - t0;
    expect(e.code).toBe('NETCHANNEL_ERR_PEER_UNREACHABLE');
    expect(e.message).toMatch(/400 ms/);
    expect(waited).toBeGreaterThanOrEqual(350);
  });

  it('a keepalive timeout fails over a channel whose peer went silent', async () => {
    const { server, client, address } = await setup({ channels: { throughput: 2, latency: 0 }, keepaliveInterval: 50, keepaliveTimeout: 300, scheduler: { interval: 20 } });
    (await server.listen(80)).on('connection', (s) => s.pipe(s));
    const sock = await client.connect(address, 80);
    // Either side may time out first; the other then sees its channels cut.
    const events: StackEvent[] = [];
    client.events$.subscribe((e) => events.push(e));
    server.events$.subscribe((e) => events.push(e));
    sock.on('error', () => {});
    proxy!.freeze(); // nothing passes any more, nothing closes: only keepalive can tell
    await within(
      (async () => {
        while (!events.some((e) => e.type === 'channel-removed' && e.code === 'NETCHANNEL_ERR_TIMEOUT')) await new Promise((r) => setTimeout(r, 10));
      })(),
      5000,
      'keepalive timeout',
    );
    sock.destroy();
  });

  it('a caller may reuse its Buffer after each write callback: retransmissions still carry the original bytes', async () => {
    const { server, client, address } = await setup({ channels: { throughput: 4, latency: 0 }, redialBackoff: { initial: 5, max: 50 } });
    const srv = await server.listen(80);
    const done = new Promise<{ hash: string; bytes: number }>((resolve, reject) => {
      srv.once('connection', (s: VirtualSocket) => hashSink(s).then(resolve, reject));
    });
    const sock = await client.connect(address, 80);
    const buf = Buffer.alloc(256 * 1024);
    const expected = createHash('sha256');
    const blocks = 512; // 128 MiB through one reused buffer
    for (let i = 0; i < blocks; i++) {
      buf.fill(i & 0xff);
      buf.writeUInt32BE(i, 0);
      expected.update(buf);
      await new Promise<void>((resolve, reject) => sock.write(buf, (err) => (err ? reject(err) : resolve())));
      if (i % 64 === 63) proxy!.cut(1);
    }
    sock.end();
    const got = await within(done, 60_000, 'transfer with a reused buffer');
    expect(got.bytes).toBe(blocks * buf.length);
    expect(got.hash).toBe(expected.digest('hex'));
  }, 120_000);
});

