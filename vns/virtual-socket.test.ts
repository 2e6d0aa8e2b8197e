import { pipeline } from 'node:stream/promises';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { VirtualSocket } from '../index.js';
import { collect, event, prng, readAll, stackPair, within, type StackPair } from '../test/pair.js';

let pair: StackPair | undefined;
afterEach(async () => {
  await pair?.close();
  pair = undefined;
});

/** Connects a client socket and returns it with the server's accepted socket. */
async function connected(p: StackPair, port = 80): Promise<{ client: VirtualSocket; server: VirtualSocket }> {
  const srv = await p.server.listen(port);
  const accepted = event<[VirtualSocket]>(srv, 'connection');
  const client = await p.client.connect(p.address, port);
  const [server] = await accepted;
  return { client, server };
}

describe('VirtualSocket behaves like net.Socket', () => {
  it('exposes address getters, counters and readyState', async () => {
    pair = await stackPair('memory', { channels: { throughput: 2, latency: 1 } });
    const { client, server } = await connected(pair, 443);
    expect(client.remotePort).toBe(443);
    expect(server.localPort).toBe(443);
    expect(server.remotePort).toBe(client.localPort);
    // Ephemeral ports are 16-bit, like TCP's (49152–65535), and never listening ports.
    expect(client.localPort).toBeGreaterThanOrEqual(49152);
    expect(client.localPort).toBeLessThanOrEqual(65535);
    expect(client.remoteStackAddress).toBe(pair.address);
    expect(client.remoteHostId).toBe(pair.server.hostId);
    expect(server.remoteHostId).toBe(pair.client.hostId);
    // memory:// channels carry no IP: undefined and {} as net gives for Unix sockets.
    expect(client.remoteAddress).toBeUndefined();
    expect(client.localFamily).toBeUndefined();
    expect(client.address()).toEqual({});
    expect(client.connecting).toBe(false);
    expect(client.readyState).toBe('open');
    expect(client.setNoDelay(true)).toBe(client);
    expect(client.setKeepAlive(true, 1000)).toBe(client);
    expect(client.ref().unref()).toBe(client);
    client.write('hello');
    const [chunk] = (await event(server, 'data')) as [Buffer];
    expect(chunk.toString()).toBe('hello');
    expect(client.bytesWritten).toBe(5);
    expect(server.bytesRead).toBe(5);
  });

  it('supports async iteration and pipe', async () => {
    pair = await stackPair('tcp', { channels: { throughput: 2, latency: 0 } });
    const { client, server } = await connected(pair);
    const data = prng(5)(300_000);
    const sink = new PassThrough();
    const collected = readAll(sink);
    server.pipe(sink);
    client.end(data);
    expect((await within(collected, 10_000, 'pipe')).equals(data)).toBe(true);
  });

  it('half-close: with allowHalfOpen the other direction keeps flowing after end()', async () => {
    pair = await stackPair('tcp', { allowHalfOpen: true, channels: { throughput: 2, latency: 0 } });
    const { client, server } = await connected(pair);
    client.end('request');
    expect((await collect(server)).toString()).toBe('request');
    expect(server.readyState).toBe('writeOnly');
    expect(client.readyState).toBe('readOnly');
    server.write('late ');
    server.end('reply');
    expect((await collect(client)).toString()).toBe('late reply');
    if (!client.closed) await event(client, 'close');
    if (!server.closed) await event(server, 'close');
  });

  it('without allowHalfOpen the socket ends its side when the peer ends (net default)', async () => {
    pair = await stackPair('memory', { channels: { throughput: 1, latency: 0 } });
    const { client, server } = await connected(pair);
    const closed = event(server, 'close');
    client.end();
    server.resume();
    await closed;
    await within(readAll(client), 5000, 'client sees end');
  });

  it('destroy() closes like net (peer: end, close(false)); resetAndDestroy() reaches the peer as NETCHANNEL_ERR_CONNECTION_RESET', async () => {
    pair = await stackPair('tcp', { channels: { throughput: 2, latency: 0 } });
    const { client, server } = await connected(pair);
    const seen: string[] = [];
    server.on('end', () => seen.push('end'));
    server.on('error', (e: Error & { code: string }) => seen.push(`error ${e.code}`));
    const closed = event<[boolean]>(server, 'close');
    client.write('last words');
    client.destroy();
    server.resume();
    expect((await closed)[0]).toBe(false);
    expect(seen).toEqual(['end']);
    expect(client.destroyed).toBe(true);
    client.destroy(); // idempotent
    const reset = await connected(pair, 82);
    const err = event<[Error & { code: string }]>(reset.server, 'error');
    const resetClosed = new Promise<boolean>((resolve) => reset.server.once('close', resolve));
    reset.client.resetAndDestroy();
    expect((await err)[0].code).toBe('NETCHANNEL_ERR_CONNECTION_RESET');
    expect(await within(resetClosed, 5000, 'close after reset')).toBe(true);
    // The channels keep serving other sockets.
    const again = await connected(pair, 81);
    again.client.end('still fine');
    expect((await readAll(again.server)).toString()).toBe('still fine');
  });

  it('write() returns false and then drain when the reader does not read (credit flow control)', async () => {
    const window = 64 * 1024;
    // HoL handling off: this checks plain credit, which must hold exactly one window.
    pair = await stackPair('tcp', { window, channels: { throughput: 2, latency: 0 }, scheduler: { holExpansion: 0 } });
    const { client, server } = await connected(pair);
    server.pause();
    const block = Buffer.alloc(16 * 1024, 1);
    let writes = 0;
    while (client.write(block)) {
      writes++;
      expect(writes).toBeLessThan(1000);
    }
    // The sender never puts more than one window on the wire.
    await within(
      (async () => {
        while (server.readableLength < window) await new Promise((r) => setImmediate(r));
      })(),
      5000,
      'receiver buffers one window',
    );
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(server.readableLength).toBe(window);
    expect(client.creditStalls).toBeGreaterThan(0);
    const drained = event(client, 'drain');
    server.resume();
    await drained;
  });

  it('a slow reader on one socket does not stall another socket on the same channels', async () => {
    pair = await stackPair('tcp', { window: 256 * 1024, channels: { throughput: 2, latency: 0 } });
    const slow = await connected(pair, 80);
    const fast = await connected(pair, 81);
    slow.server.pause(); // never reads
    const block = Buffer.alloc(64 * 1024, 2);
    for (let i = 0; i < 64; i++) slow.client.write(block); // 4 MiB queued, only one window in flight
    const total = 64 * 1024 * 1024;
    const data = prng(9)(1024 * 1024);
    const got = (async () => {
      let n = 0;
      for await (const c of fast.server) n += (c as Buffer).length;
      return n;
    })();
    for (let sent = 0; sent < total; sent += data.length) {
      if (!fast.client.write(data)) await event(fast.client, 'drain', 20_000);
    }
    fast.client.end();
    expect(await within(got, 60_000, 'fast socket completes beside a stalled one')).toBe(total);
    // One window, plus at most the bounded head-of-line expansion (2 × 2 MiB channel buffer).
    expect(slow.server.readableLength).toBeGreaterThanOrEqual(256 * 1024);
    expect(slow.server.readableLength).toBeLessThanOrEqual(256 * 1024 + 4 * 1024 * 1024);
    // The stalled socket still delivers everything once it reads.
    slow.client.end();
    const rest = await within(readAll(slow.server), 20_000, 'slow socket drains');
    expect(rest.length).toBe(64 * 64 * 1024);
  });

  it('setTimeout emits timeout after inactivity and 0 disables it', async () => {
    pair = await stackPair('memory', { channels: { throughput: 1, latency: 0 } });
    const { client } = await connected(pair);
    const t0 = Date.now();
    await new Promise<void>((resolve) => client.setTimeout(30, resolve));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(25);
    let fired = false;
    client.setTimeout(20, () => (fired = true));
    client.setTimeout(0);
    await new Promise((r) => setTimeout(r, 60)); // checks that nothing fires: a wait is the point here
    expect(fired).toBe(false);
  });

  it('a latency socket rides latency channels, a throughput socket throughput channels', async () => {
    pair = await stackPair('memory', { channels: { throughput: 2, latency: 1 } });
    const srv = await pair.server.listen(80);
    srv.on('connection', (s) => s.resume());
    const lat = await pair.client.connect(pair.address, 80, { appClass: 'latency' });
    const session = [...pair.client.peers.values()][0]!;
    const latCh = session.device.channelsOf('latency')[0]!;
    const before = latCh.channel.bytesSent;
    await pipeline(async function* () {
      yield prng(1)(1024 * 1024);
    }, lat);
    expect(latCh.channel.bytesSent - before).toBeGreaterThan(1024 * 1024);
    for (const c of session.device.channelsOf('throughput')) expect(c.channel.bytesSent).toBeLessThan(1024);
  });
});
