import { createHash } from 'node:crypto';
import { PassThrough, Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, NetChannelError } from '../errors/index.js';
import { prng, stackPair, within, type PairTransport, type StackPair } from '../test/pair.js';
import { encodeHeader, MessageKind } from './frame.js';
import { MessageSocket, rpcConnect, rpcListen, RpcRemoteError, type RpcServer } from './index.js';

let pair: StackPair | undefined;
let server: RpcServer | undefined;
afterEach(async () => {
  await server?.close();
  await pair?.close();
  server = pair = undefined;
});

const digest = (b: Buffer): Buffer => createHash('sha256').update(b).digest();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Two MessageSockets joined back to back in memory (no stack). */
function looped(a: ConstructorParameters<typeof MessageSocket>[1], b: ConstructorParameters<typeof MessageSocket>[1]): [MessageSocket, MessageSocket] {
  const ab = new PassThrough();
  const ba = new PassThrough();
  const left = Duplex.from({ readable: ba, writable: ab });
  const right = Duplex.from({ readable: ab, writable: ba });
  return [new MessageSocket(left, a), new MessageSocket(right, b)];
}

describe.each<PairTransport>(['memory', 'tcp'])('rpc over %s stacks', (transport) => {
  it('1,000 requests in flight with random sizes are each matched to their own response', async () => {
    pair = await stackPair(transport, { channels: { throughput: 4, latency: 1 } });
    const rnd = prng(7);
    // The handler answers after a random delay, so responses come back out of order.
    server = await rpcListen(pair.server, 0, async (payload) => {
      await sleep(payload.length % 7);
      return Buffer.concat([digest(payload), payload.subarray(0, 16)]);
    });
    const client = await rpcConnect(pair.client, pair.address, server.port);
    const payloads = Array.from({ length: 1000 }, (_, i) => rnd(((i * 7919) % 65_536) + (i % 3)));
    const calls = payloads.map((p) => client.request(p));
    expect(client.pendingRequests).toBe(1000);
    const answers = await within(Promise.all(calls), 30_000, '1,000 requests');
    answers.forEach((a, i) => {
      const p = payloads[i]!;
      expect(a.equals(Buffer.concat([digest(p), p.subarray(0, 16)]))).toBe(true);
    });
    expect(client.pendingRequests).toBe(0);
    await client.close();
  });

  it('handler errors become error responses with message and code; the connection stays usable', async () => {
    pair = await stackPair(transport);
    server = await rpcListen(pair.server, 0, (payload) => {
      const text = payload.toString();
      if (text === 'throw') throw Object.assign(new Error('no such key: x'), { code: 'KV_NOT_FOUND' });
      if (text === 'reject') return Promise.reject(new Error('async failure'));
      return `ok ${text}`;
    });
    const client = await rpcConnect(pair.client, pair.address, server.port, { appClass: 'latency' });
    const err = await client.request('throw').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcRemoteError);
    expect(err).toBeInstanceOf(NetChannelError);
    expect(err).toMatchObject({ message: 'no such key: x', remoteCode: 'KV_NOT_FOUND' });
    await expect(client.request('reject')).rejects.toMatchObject({ message: 'async failure' });
    expect((await client.request('after')).toString()).toBe('ok after');
    await client.close();
  });

  it('a request times out with NETCHANNEL_ERR_TIMEOUT; its late response is dropped', async () => {
    pair = await stackPair(transport);
    server = await rpcListen(pair.server, 0, async (p) => {
      if (p.toString() === 'slow') await sleep(300);
      return p;
    });
    const client = await rpcConnect(pair.client, pair.address, server.port);
    await expect(client.request('slow', { timeout: 50 })).rejects.toMatchObject({ code: ErrorCode.TIMEOUT });
    expect(client.pendingRequests).toBe(0);
    await sleep(350); // the late answer arrives and is ignored
    expect((await client.request('fast', { timeout: 5_000 })).toString()).toBe('fast');
    await client.close();
  });

  it('oversize: a local send is rejected; an oversize incoming frame closes the socket and rejects pending', async () => {
    pair = await stackPair(transport);
    const big = Buffer.alloc(5 * 1024 * 1024, 7);
    server = await rpcListen(pair.server, 0, (p) => (p.toString() === 'huge' ? big : p), { maxMessageSize: 64 * 1024 });
    // Default limit (16 MiB): a 5 MiB request is fine… but the server only takes 64 KiB.
    const client = await rpcConnect(pair.client, pair.address, server.port, { maxMessageSize: 1024 * 1024 });
    await expect(client.request(Buffer.alloc(1024 * 1024 + 1))).rejects.toMatchObject({ code: ErrorCode.FRAME_TOO_LARGE });
    expect(() => client.send(Buffer.alloc(1024 * 1024 + 1))).toThrow(/exceeds maxMessageSize 1048576/);
    // A response over the server's own limit becomes an error response.
    await expect(client.request('huge')).rejects.toMatchObject({ message: /response of 5242880 bytes exceeds maxMessageSize 65536/ });
    // A request over the server's limit makes the server reset the connection: every
    // pending request is rejected (the server drops 'x' too, its answer was not out yet).
    const pending = client.request('x');
    const tooBig = client.request(Buffer.alloc(100 * 1024));
    await expect(tooBig).rejects.toMatchObject({ code: ErrorCode.CONNECTION_RESET });
    await expect(pending).rejects.toBeInstanceOf(NetChannelError);
    await expect(client.request('after')).rejects.toMatchObject({ code: ErrorCode.CLOSED });
  });

  it('close rejects pending requests (client side and server side)', async () => {
    pair = await stackPair(transport);
    server = await rpcListen(pair.server, 0, () => new Promise<Buffer>(() => {})); // never answers
    const a = await rpcConnect(pair.client, pair.address, server.port);
    const p1 = [a.request('1'), a.request('2')];
    await sleep(20);
    const closing = a.close();
    for (const p of p1) await expect(p).rejects.toMatchObject({ code: ErrorCode.CLOSED });
    await closing;
    await expect(a.request('3')).rejects.toMatchObject({ code: ErrorCode.CLOSED });

    const b = await rpcConnect(pair.client, pair.address, server.port);
    const p2 = expect(b.request('x')).rejects.toMatchObject({ code: ErrorCode.CLOSED });
    await sleep(20);
    await server.close();
    await p2;
  });

  it('oneway messages reach onMessage; a 5 MiB request round-trips', async () => {
    pair = await stackPair(transport);
    const got: string[] = [];
    server = await rpcListen(pair.server, 0, (p) => digest(p), { onMessage: (p) => got.push(p.toString()) });
    const client = await rpcConnect(pair.client, pair.address, server.port);
    client.send('one');
    client.send('two');
    const big = prng(3)(5 * 1024 * 1024);
    expect((await client.request(big)).equals(digest(big))).toBe(true);
    expect(got).toEqual(['one', 'two']);
    await client.close();
  });
});

describe('MessageSocket framing', () => {
  it('rejects an unknown kind, and requests without a handler get an error response', async () => {
    const [a, b] = looped({}, {});
    await expect(a.request('hi')).rejects.toMatchObject({ message: /no request handler/ });
    const closed = new Promise((r) => b.once('close', r));
    a.socket.write(Buffer.concat([encodeHeader(0, 1, 9 as typeof MessageKind.REQUEST)]));
    const err = await closed;
    expect(err).toMatchObject({ code: ErrorCode.BAD_FRAME });
    a.destroy();
  });

  it('validates options', () => {
    expect(() => new MessageSocket(new PassThrough(), { maxMessageSize: -1 })).toThrow(/options.maxMessageSize must be/);
    expect(() => new MessageSocket(new PassThrough(), { timeout: -5 })).toThrow(/options.timeout must be/);
  });
});
