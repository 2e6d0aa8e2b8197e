import http from 'node:http';
import { register, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createStack } from '../index.js';
import { readAll, stackPair, type StackPair } from '../test/pair.js';

let pair: StackPair | undefined;
afterEach(async () => {
  await pair?.close();
  pair = undefined;
});

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => readAll(res).then((b) => resolve({ status: res.statusCode ?? 0, body: b.toString() }), reject)).on('error', reject);
  });
}

/** Sums a metric's samples in Prometheus text, optionally filtered by a label substring. */
function total(text: string, name: string, label = ''): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith(name) && (l[name.length] === '{' || l[name.length] === ' ') && l.includes(label))
    .reduce((a, l) => a + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

describe('stack metrics', () => {
  it('each stack has its own registry; serveMetrics exposes live counters; the global registry stays empty', async () => {
    pair = await stackPair('tcp', { channels: { throughput: 2, latency: 1 } });
    expect(pair.client.registry).not.toBe(pair.server.registry);
    const server = await pair.client.serveMetrics({ port: 0 });
    (await pair.server.listen(80)).on('connection', (s) => s.pipe(s));
    const sock = await pair.client.connect(pair.address, 80);
    const echoed = readAll(sock);
    sock.end(Buffer.alloc(3 << 20, 1));
    expect((await echoed).length).toBe(3 << 20);
    const { status, body } = await get(server.url);
    expect(status).toBe(200);
    expect(total(body, 'netchannel_channel_sent_bytes_total')).toBeGreaterThan(3 << 20);
    expect(total(body, 'netchannel_socket_opens_total', 'class="throughput"')).toBe(1);
    expect(total(body, 'netchannel_channel_up')).toBe(3);
    expect(body).toMatch(/netchannel_channel_queued_bytes\{[^}]*direction="tx"/);
    expect((await get(server.url.replace('/metrics', '/nope'))).status).toBe(404);
    expect(await register.getMetricsAsJSON()).toEqual([]);
    await pair.close();
    pair = undefined;
    await expect(get(server.url)).rejects.toThrow(); // closed with the stack
  });

  it('accepts a user registry, optional process metrics, and rejects a bad one with a typed error', async () => {
    const registry = new Registry();
    const s = await createStack({ metrics: { registry, defaultMetrics: true } });
    expect(s.registry).toBe(registry);
    const text = await registry.metrics();
    expect(text).toMatch(/^process_cpu_seconds_total /m);
    expect(text).toMatch(/netchannel_sockets_open/);
    await s.close();
    await expect(createStack({ metrics: { registry: {} as Registry } })).rejects.toMatchObject({ code: 'NETCHANNEL_ERR_INVALID_ARG' });
  });
});
