import { afterEach, describe, expect, it } from 'vitest';
import { createStack } from '../index.js';
import { event, hashSink, prng, readAll, sendBulk, stackPair, until, within, type StackPair } from '../test/pair.js';

let pair: StackPair | undefined;
afterEach(async () => {
  await pair?.close();
  pair = undefined;
});

describe('stack end to end', () => {
  it('carries 1 GiB through one virtual socket over 4 TCP channels, SHA-256 equal, every channel used', async () => {
    pair = await stackPair('tcp', { channels: { throughput: 4, latency: 1 } });
    const server = await pair.server.listen(80);
    const received = new Promise<{ hash: string; bytes: number }>((resolve, reject) => {
      server.once('connection', (s) => hashSink(s).then(resolve, reject));
    });
    const sock = await pair.client.connect(pair.address, 80, { appClass: 'throughput' });
    const total = 1024 * 1024 * 1024;
    const sentHash = await sendBulk(sock, total);
    const got = await within(received, 120_000, '1 GiB transfer');
    expect(got.bytes).toBe(total);
    expect(got.hash).toBe(sentHash);
    expect(sock.bytesWritten).toBe(total);
    const session = [...pair.client.peers.values()][0]!;
    const tput = session.device.channels.filter((c) => c.appClass === 'throughput');
    expect(tput).toHaveLength(4);
    for (const c of tput) expect(c.channel.bytesSent).toBeGreaterThan(total / 8);
  }, 180_000);

  it('runs 1,000 concurrent virtual sockets over 2 channels, each echoing random-sized data', async () => {
    pair = await stackPair('tcp', { channels: { throughput: 2, latency: 0 } });
    const server = await pair.server.listen(7);
    server.on('connection', (s) => s.pipe(s));
    const rand = prng(7);
    const results = await Promise.all(
      Array.from({ length: 1000 }, async (_, i) => {
        const sock = await pair!.client.connect(pair!.address, 7);
        const size = 1 + ((rand(2).readUInt16BE(0) * (i + 1)) % 20_000);
        const data = rand(size);
        const echoed = readAll(sock);
        sock.end(data);
        return Buffer.compare(await echoed, data) === 0;
      }),
    );
    expect(results.filter(Boolean)).toHaveLength(1000);
    const session = [...pair.client.peers.values()][0]!;
    expect(session.device.channels).toHaveLength(2);
    // A socket leaves the table at 'close': its own FIN's acknowledgement may come just after the peer's FIN ('end').
    await until(() => session.sockets.size === 0, 5000, 'every client socket closed');
    expect(session.sockets.size).toBe(0);
  }, 120_000);

  it('refuses a connect to a port nobody listens on with NETCHANNEL_ERR_CONNECTION_REFUSED', async () => {
    pair = await stackPair('tcp', { channels: { throughput: 1, latency: 0 } });
    await expect(pair.client.connect(pair.address, 81)).rejects.toMatchObject({ code: 'NETCHANNEL_ERR_CONNECTION_REFUSED' });
    // The channels stay usable after a refusal.
    const server = await pair.server.listen(81);
    server.on('connection', (s) => s.end('hi'));
    const sock = await pair.client.connect(pair.address, 81);
    expect((await readAll(sock)).toString()).toBe('hi');
  });

  it('rejects bad addresses and schemes before dialing, and bad arguments with typed errors', async () => {
    const s = await createStack({});
    try {
      await expect(s.connect('gopher://x:1', 80)).rejects.toMatchObject({ code: 'NETCHANNEL_ERR_UNKNOWN_SCHEME' });
      await expect(s.connect('no-scheme', 80)).rejects.toMatchObject({ code: 'NETCHANNEL_ERR_INVALID_ADDRESS' });
      await expect(s.connect('tcp://127.0.0.1:99999', 80)).rejects.toMatchObject({ code: 'NETCHANNEL_ERR_INVALID_ADDRESS' });
      await expect(s.connect('tcp://127.0.0.1', 80)).rejects.toMatchObject({ code: 'NETCHANNEL_ERR_INVALID_ADDRESS' });
      await expect(s.connect('unix://relative/path', 80)).rejects.toMatchObject({ code: 'NETCHANNEL_ERR_INVALID_ADDRESS' });
      await expect(s.connect('tcp://127.0.0.1:1', 0)).rejects.toMatchObject({ code: 'NETCHANNEL_ERR_INVALID_ARG' });
      await expect(s.connect('tcp://127.0.0.1:1', 1.5)).rejects.toThrow(/1\.5/);
      await expect(s.connect('tcp://127.0.0.1:1', 80, { appClass: 'bulk' as never })).rejects.toThrow(/"bulk"/);
      await expect(s.listen(70000)).rejects.toMatchObject({ code: 'NETCHANNEL_ERR_INVALID_ARG' });
      const l = await s.listen(90);
      await expect(s.listen(90)).rejects.toMatchObject({ code: 'NETCHANNEL_ERR_PORT_IN_USE' });
      await l.closeAsync();
      await s.listen(90); // freed by close
    } finally {
      await s.close();
    }
    await expect(createStack({ channels: { throughput: -1 } })).rejects.toThrow(/options\.channels\.throughput.*-1/);
    await expect(createStack({ window: 'big' as never })).rejects.toMatchObject({ code: 'NETCHANNEL_ERR_INVALID_ARG' });
    await expect(createStack({ scheduler: { rxSliceMs: -0.5 } })).rejects.toThrow(/options\.scheduler\.rxSliceMs must be a number 0-1000, got -0\.5/);
    await expect(createStack({ listen: ['ftp://x:1'] })).rejects.toMatchObject({ code: 'NETCHANNEL_ERR_UNKNOWN_SCHEME' });
  });

  it('fails a dial to an address where nothing listens with NETCHANNEL_ERR_DIAL_FAILED', async () => {
    const s = await createStack({ channels: { throughput: 1, latency: 0 } });
    const probe = await createStack({ listen: ['tcp://127.0.0.1:0'] });
    const dead = probe.addresses[0]!;
    await probe.close();
    try {
      await expect(s.connect(dead, 80)).rejects.toMatchObject({ code: 'NETCHANNEL_ERR_DIAL_FAILED' });
    } finally {
      await s.close();
    }
  });

  it('close() is graceful (pending data is delivered first) and idempotent; use after close is a typed error', async () => {
    pair = await stackPair('tcp', { channels: { throughput: 2, latency: 1 } });
    const server = await pair.server.listen(80);
    const got = new Promise<Buffer>((resolve) => server.once('connection', (s) => resolve(readAll(s))));
    const sock = await pair.client.connect(pair.address, 80);
    const data = prng(3)(3 * 1024 * 1024 + 17);
    sock.write(data);
    const closing = pair.client.close();
    expect(pair.client.close()).toBe(closing);
    await closing;
    expect((await within(got, 20_000, 'data after close')).equals(data)).toBe(true);
    await expect(pair.client.connect(pair.address, 80)).rejects.toMatchObject({ code: 'NETCHANNEL_ERR_CLOSED' });
    pair.client.destroy();
  });

  it('two stacks in one process talk over every built-in transport', async () => {
    for (const t of ['memory', 'unix', 'tcp'] as const) {
      const p = await stackPair(t, { channels: { throughput: 3, latency: 1 } });
      try {
        const server = await p.server.listen(5);
        server.on('connection', (s) => s.pipe(s));
        const sock = await p.client.connect(p.address, 5, { appClass: 'latency' });
        const data = prng(11)(500_000);
        const echoed = readAll(sock);
        sock.end(data);
        expect((await within(echoed, 20_000, `${t} echo`)).equals(data), t).toBe(true);
      } finally {
        await p.close();
      }
    }
  });

  it('a server stack closes promptly while a peer stays connected; its sockets see a clean end', async () => {
    pair = await stackPair('tcp', { channels: { throughput: 2, latency: 1 } });
    (await pair.server.listen(80)).on('connection', (s) => s.end('bye'));
    const sock = await pair.client.connect(pair.address, 80);
    const got = readAll(sock);
    const t0 = performance.now();
    await within(pair.server.close(), 5000, 'server close');
    expect(performance.now() - t0).toBeLessThan(3000);
    expect((await within(got, 5000, 'client read')).toString()).toBe('bye');
    await expect(pair.server.listen(81)).rejects.toMatchObject({ code: 'NETCHANNEL_ERR_CLOSED' });
  });

  it('destroy(err) aborts every socket at once with that error and is idempotent', async () => {
    pair = await stackPair('memory', { channels: { throughput: 1, latency: 0 } });
    (await pair.server.listen(80)).on('connection', (s) => s.on('error', () => {}));
    const sock = await pair.client.connect(pair.address, 80);
    const err = event<[Error]>(sock, 'error');
    const boom = new Error('shutting down now');
    pair.client.destroy(boom);
    pair.client.destroy(boom);
    expect((await err)[0]).toBe(boom);
    await pair.client.close(); // harmless after destroy
  });
});

