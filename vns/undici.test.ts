import http from 'node:http';
import { Client } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import type { VirtualSocket } from '../index.js';
import { prng, readAll, stackPair, within, type StackPair } from '../test/pair.js';

let pair: StackPair | undefined;
afterEach(async () => {
  await pair?.close();
  pair = undefined;
});

/** An undici Client whose connections are VirtualSockets from `createConnection`. */
function virtualClient(p: StackPair, port: number, pipelining: number): Client {
  return new Client('http://netchannel.invalid', {
    pipelining,
    connect: (_opts, callback) => {
      const sock = p.client.createConnection(p.address, port);
      const onError = (err: Error): void => callback(err, null);
      sock.once('error', onError);
      sock.once('connect', () => {
        sock.off('error', onError);
        callback(null, sock as never);
      });
    },
  });
}

describe('undici over virtual sockets', () => {
  it('keep-alive, pipelining, POST bodies and close(), with no clientError on the node:http server', async () => {
    pair = await stackPair('tcp', { channels: { throughput: 2, latency: 1 } });
    const clientErrors: string[] = [];
    const app = http.createServer(async (req, res) => {
      const body = await readAll(req);
      res.setHeader('x-len', String(body.length));
      res.end(req.method === 'POST' ? body : `hello ${req.url}`);
    });
    app.on('clientError', (err: Error & { code?: string }) => clientErrors.push(err.code ?? err.message));
    const accepted: VirtualSocket[] = [];
    const closes: boolean[] = [];
    (await pair.server.listen(80)).on('connection', (s) => {
      accepted.push(s);
      s.on('close', (hadError: boolean) => closes.push(hadError));
      app.emit('connection', s);
    });
    const client = virtualClient(pair, 80, 4);

    // Keep-alive: sequential requests reuse one connection.
    for (let i = 0; i < 5; i++) {
      const r = await client.request({ path: `/seq${i}`, method: 'GET' });
      expect(r.statusCode).toBe(200);
      expect(await r.body.text()).toBe(`hello /seq${i}`);
    }
    expect(accepted).toHaveLength(1);

    // Pipelining: 4 in flight on the same connection, answered in order.
    const piped = await within(
      Promise.all(
        Array.from({ length: 12 }, async (_, i) => {
          const r = await client.request({ path: `/p${i}`, method: 'GET' });
          return r.body.text();
        }),
      ),
      20_000,
      'pipelined requests',
    );
    piped.forEach((t, i) => expect(t).toBe(`hello /p${i}`));
    expect(accepted).toHaveLength(1);

    // POST bodies: small, and 2 MiB.
    for (const body of [Buffer.from('small body'), prng(3)(2 * 1024 * 1024 + 7)]) {
      const r = await client.request({ path: '/upload', method: 'POST', body });
      expect(r.headers['x-len']).toBe(String(body.length));
      expect((await within(r.body.arrayBuffer(), 20_000, 'POST echo')).byteLength).toBe(body.length);
    }

    // close(): graceful; the server side sees a clean close, never a reset.
    await within(client.close(), 10_000, 'client.close()');
    await within(
      (async () => {
        while (closes.length < accepted.length) await new Promise((r) => setImmediate(r));
      })(),
      10_000,
      'server sockets closed',
    );
    expect(closes.every((hadError) => hadError === false)).toBe(true);
    expect(clientErrors).toEqual([]);
    app.close();
  });

  it('a refused virtual port fails the request with NETCHANNEL_ERR_CONNECTION_REFUSED', async () => {
    pair = await stackPair('memory', { channels: { throughput: 1, latency: 0 } });
    const client = virtualClient(pair, 81, 1);
    await expect(client.request({ path: '/', method: 'GET' })).rejects.toMatchObject({ code: 'NETCHANNEL_ERR_CONNECTION_REFUSED' });
    await client.close();
  });
});
