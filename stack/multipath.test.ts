import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createStack, type Stack, type StackEvent, type StackOptions, type VirtualSocket } from '../index.js';
import { parseHostPort } from '../netdriver/address.js';
import { cutProxy, type CutProxy } from '../test/cut-proxy.js';
import { hashSink, sendBulk, within } from '../test/pair.js';

let stacks: Stack[] = [];
let proxies: CutProxy[] = [];
afterEach(async () => {
  for (const p of proxies) await p.shutdown();
  proxies = [];
  for (const s of stacks) s.destroy();
  stacks = [];
});

async function stack(options: StackOptions = {}): Promise<Stack> {
  const s = await createStack({ channels: { throughput: 4, latency: 1 }, ...options });
  stacks.push(s);
  return s;
}

/** Echo-free sink on port 80 of `server`; resolves with what the first socket delivered. */
async function sink(server: Stack): Promise<{ done: Promise<{ hash: string; bytes: number }> }> {
  const srv = await server.listen(80);
  return { done: new Promise((resolve, reject) => srv.once('connection', (s: VirtualSocket) => hashSink(s).then(resolve, reject))) };
}

describe('multipath', () => {
  it('connect([a, b]) spreads the channels over both addresses of one peer, data intact', async () => {
    const server = await stack({ listen: ['tcp://127.0.0.1:0', 'tcp://127.0.0.2:0'] });
    const client = await stack();
    const { done } = await sink(server);
    const sock = await client.connect(server.addresses, 80);
    const sent = await sendBulk(sock, 64 << 20);
    const got = await within(done, 30_000, 'transfer');
    expect(got.hash).toBe(sent);
    const paths = client.peers[0]!.paths;
    expect(paths.map((p) => p.address).sort()).toEqual([...server.addresses].sort());
    expect(paths.reduce((a, p) => a + p.channels, 0)).toBe(5);
    for (const p of paths) expect(p.channels).toBeGreaterThanOrEqual(2);
    for (const addr of server.addresses) {
      const bytes = client.peers[0]!.device.channels.filter((c) => c.path === addr && c.appClass === 'throughput').reduce((a, c) => a + c.bytesSent, 0);
      expect(bytes).toBeGreaterThan(8 << 20);
    }
    // The server sees the two local addresses its channels arrived at.
    expect(server.peers[0]!.paths).toHaveLength(2);
  });

  it('a path that dies mid-transfer loses nothing: traffic moves to the other path while it is re-dialed', async () => {
    const server = await stack({ listen: ['tcp://127.0.0.1:0', 'tcp://127.0.0.2:0'], redialBackoff: { initial: 20, max: 200 } });
    const client = await stack({ redialBackoff: { initial: 20, max: 200 } });
    const proxy = await cutProxy(parseHostPort(server.addresses[0]!, 'tcp', false).port); // in front of 127.0.0.1
    proxies.push(proxy);
    const events: StackEvent[] = [];
    client.events$.subscribe((e) => events.push(e));
    const { done } = await sink(server);
    const sock = await client.connect([proxy.address, server.addresses[1]!], 80);
    const sent = await sendBulk(sock, 128 << 20, (i) => {
      if (i === 24) void proxy.shutdown(); // cut every channel of the path and refuse re-dials
    });
    const got = await within(done, 60_000, 'transfer over the surviving path');
    expect(got.bytes).toBe(128 << 20);
    expect(got.hash).toBe(sent);
    expect(events.filter((e) => e.type === 'channel-removed' && e.reason === 'failed').length).toBeGreaterThanOrEqual(2);
    const paths = client.peers[0]!.paths;
    expect(paths.find((p) => p.address === proxy.address)?.channels).toBe(0);
    expect(paths.find((p) => p.address === server.addresses[1])!.channels).toBeGreaterThanOrEqual(2);
  });

  it('rejects with NETCHANNEL_ERR_HANDSHAKE, naming the address, when the addresses reach different hosts', async () => {
    const server = await stack({ listen: ['tcp://127.0.0.1:0'] });
    const other = await stack({ listen: ['tcp://127.0.0.1:0'] });
    const client = await stack();
    await sink(server);
    const err = await client.connect([server.addresses[0]!, other.addresses[0]!], 80).catch((e: Error & { code?: string }) => e);
    expect(err).toMatchObject({ code: 'NETCHANNEL_ERR_HANDSHAKE' });
    expect((err as Error).message).toContain(other.addresses[0]!);
    expect(client.peers).toHaveLength(0);
  });

  it('advertised addresses: off by default, used with paths: "advertised"', async () => {
    const server = await stack({ listen: ['tcp://127.0.0.1:0', 'tcp://127.0.0.2:0'], advertise: ['tcp://127.0.0.2:0'] });
    const plain = await stack();
    const opted = await stack({ paths: 'advertised' });
    const srv = await server.listen(80);
    srv.on('connection', (s: VirtualSocket) => s.resume());
    await plain.connect(server.addresses[0]!, 80);
    expect(plain.peers[0]!.paths.map((p) => p.address)).toEqual([server.addresses[0]]);
    await opted.connect(server.addresses[0]!, 80);
    expect(opted.peers[0]!.paths.map((p) => p.address).sort()).toEqual([...server.addresses].sort());
  });

  it('an advertised address that leads to another host is refused (path-rejected), the session keeps its own path', async () => {
    const decoy = await stack({ listen: ['tcp://127.0.0.1:0'] });
    const server = await stack({ listen: ['tcp://127.0.0.1:0'], advertise: [decoy.addresses[0]!] });
    const client = await stack({ paths: 'advertised' });
    const events: StackEvent[] = [];
    client.events$.subscribe((e) => events.push(e));
    (await server.listen(80)).on('connection', (s: VirtualSocket) => s.resume());
    await client.connect(server.addresses[0]!, 80);
    expect(client.peers[0]!.paths.map((p) => p.address)).toEqual([server.addresses[0]]);
    expect(events.find((e) => e.type === 'path-rejected')).toMatchObject({ address: decoy.addresses[0], code: 'NETCHANNEL_ERR_HANDSHAKE' });
  });

  it('same-host shortcut: an advertised unix:// address is preferred over tcp', async () => {
    const path = join(tmpdir(), `nc-mp-${process.pid}-${Date.now()}.sock`);
    const server = await stack({ listen: ['tcp://127.0.0.1:0', `unix://${path}`], advertise: [`unix://${path}`] });
    const client = await stack({ paths: 'advertised' });
    const { done } = await sink(server);
    const sock = await client.connect(server.addresses[0]!, 80);
    const sent = await sendBulk(sock, 8 << 20);
    expect((await within(done, 30_000, 'transfer')).hash).toBe(sent);
    expect(client.peers[0]!.paths).toEqual([{ address: `unix://${path}`, channels: 5 }]);
  });

  it('validates the multipath options and arguments', async () => {
    await expect(createStack({ advertise: 'tcp://1.2.3.4:1' as never })).rejects.toMatchObject({ code: 'NETCHANNEL_ERR_INVALID_ARG', message: expect.stringMatching(/options.advertise/) });
    await expect(createStack({ advertise: Array.from({ length: 9 }, (_, i) => `tcp://127.0.0.1:${i + 1}`) })).rejects.toMatchObject({ code: 'NETCHANNEL_ERR_INVALID_ARG' });
    await expect(createStack({ advertise: ['nope://x'] })).rejects.toMatchObject({ code: 'NETCHANNEL_ERR_UNKNOWN_SCHEME' });
    await expect(createStack({ paths: 'all' as never })).rejects.toMatchObject({ code: 'NETCHANNEL_ERR_INVALID_ARG', message: expect.stringMatching(/options.paths must be 'given' or 'advertised', got "all"/) });
    const client = await stack();
    await expect(client.connect([], 80)).rejects.toMatchObject({ code: 'NETCHANNEL_ERR_INVALID_ARG' });
    await expect(client.connect(['tcp://127.0.0.1:1', 'tcp://127.0.0.1:1'], 80)).rejects.toMatchObject({ code: 'NETCHANNEL_ERR_INVALID_ARG' });
  });
});
