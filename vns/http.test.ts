import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { prng, readAll, stackPair, within, type StackPair } from '../test/pair.js';

let pair: StackPair | undefined;
afterEach(async () => {
  await pair?.close();
  pair = undefined;
});

describe('node:http runs unchanged over virtual sockets', () => {
  it('serves GET and POST with bodies, keep-alive and large payloads', async () => {
    pair = await stackPair('tcp', { channels: { throughput: 3, latency: 1 } });
    const app = http.createServer(async (req, res) => {
      const body = await readAll(req);
      res.setHeader('x-method', req.method ?? '');
      res.end(req.method === 'POST' ? body : `hello ${req.url}`);
    });
    const vserver = await pair.server.listen(80);
    vserver.on('connection', (s) => app.emit('connection', s));

    const request = async (method: string, path: string, body?: Buffer): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> => {
      const sock = await pair!.client.connect(pair!.address, 80);
      return within(
        new Promise((resolve, reject) => {
          const req = http.request({ method, path, createConnection: () => sock as never, headers: { connection: 'close' } }, (res) => {
            readAll(res).then((b) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b }), reject);
          });
          req.on('error', reject);
          req.end(body);
        }),
        20_000,
        `${method} ${path}`,
      );
    };

    const get = await request('GET', '/index');
    expect(get.status).toBe(200);
    expect(get.body.toString()).toBe('hello /index');
    expect(get.headers['x-method']).toBe('GET');

    const payload = prng(42)(2 * 1024 * 1024 + 3);
    const post = await request('POST', '/upload', payload);
    expect(post.status).toBe(200);
    expect(post.body.equals(payload)).toBe(true);

    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => request('GET', `/p${i}`)));
    results.forEach((r, i) => expect(r.body.toString()).toBe(`hello /p${i}`));
    app.close();
  });

  it('an http.Agent-free client can reuse one virtual socket for several keep-alive requests', async () => {
    pair = await stackPair('memory', { channels: { throughput: 1, latency: 0 } });
    const app = http.createServer((req, res) => res.end(`n=${req.url}`));
    (await pair.server.listen(8080)).on('connection', (s) => app.emit('connection', s));
    const sock = await pair.client.connect(pair.address, 8080);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    (agent as unknown as { createConnection: () => unknown }).createConnection = () => sock;
    for (let i = 0; i < 5; i++) {
      const body = await within(
        new Promise<string>((resolve, reject) => {
          http.get({ path: `/${i}`, agent }, (res) => readAll(res).then((b) => resolve(b.toString()), reject)).on('error', reject);
        }),
        10_000,
        `request ${i}`,
      );
      expect(body).toBe(`n=/${i}`);
    }
    agent.destroy();
    app.close();
  });
});
