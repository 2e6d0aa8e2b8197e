import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { channelDriverCompliance } from '../../compliance/index.js';
import { createStack, type Stack, type VirtualSocket } from '../../index.js';
import { encodeFrame, FrameType, type Channel, type ChannelDriver, type ChannelListener, type Frame } from '../../netdriver/index.js';
import { ws } from './index.js';

channelDriverCompliance('ws', {
  setup: async () => ({ driver: ws()({ hostId: '0'.repeat(32) }), listenAddress: 'ws://127.0.0.1:0' }),
});

channelDriverCompliance('ws (perMessageDeflate)', {
  setup: async () => ({ driver: ws({ perMessageDeflate: true })({ hostId: '0'.repeat(32) }), listenAddress: 'ws://127.0.0.1:0/deflate' }),
});

// ---------------------------------------------------------------------------------------

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

function closed(ch: Channel): Promise<Error | undefined> {
  return within(new Promise((resolve) => ch.once('close', (err) => resolve(err))), 5_000, `close of channel ${ch.id}`);
}

const frame = (seq: number, payload: Buffer): Frame => ({ type: FrameType.DATA, flags: 0, src: 1, dst: 2, seq, ack: 0, payload });

describe('ws transport', () => {
  let driver: ChannelDriver;
  let listener: ChannelListener | undefined;
  const accepted: Channel[] = [];
  const cleanup: (() => unknown)[] = [];

  afterEach(async () => {
    for (const c of accepted.splice(0)) c.destroy();
    for (const f of cleanup.splice(0)) await f();
    await listener?.close();
    listener = undefined;
  });

  async function listen(address = 'ws://127.0.0.1:0'): Promise<ChannelListener> {
    driver = ws()({ hostId: '0'.repeat(32) });
    listener = await driver.listen(address, (c) => accepted.push(c));
    return listener;
  }

  async function nextAccepted(): Promise<Channel> {
    await within(
      (async () => {
        while (accepted.length === 0) await new Promise((r) => setTimeout(r, 2));
      })(),
      5_000,
      'accept',
    );
    return accepted[accepted.length - 1]!;
  }

  /** A raw ws client on the listener, to send what a netchannel peer never would. */
  async function rawClient(address: string): Promise<WebSocket> {
    const sock = new WebSocket(address);
    sock.on('error', () => {});
    cleanup.push(() => sock.terminate());
    await once(sock, 'open');
    return sock;
  }

  it('reports the bound address with the real port and the path; validates paths', async () => {
    const l = await listen('ws://127.0.0.1:0');
    expect(l.address).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/netchannel$/);
    expect(l.address).not.toMatch(/:0\//);
    expect(() => driver.validate('ws://[::1]:80/a/b-c_d.e')).not.toThrow();
    expect(() => driver.validate('ws://localhost:80')).not.toThrow();
    for (const bad of ['ws://h:80/with?query', 'ws://h:80/#frag', 'ws://h:80/a b', 'ws://h', 'ws://h:99999/x', 'tcp://h:80', 'ws://h:80x']) {
      expect(() => driver.validate(bad), bad).toThrow(expect.objectContaining({ code: 'NETCHANNEL_ERR_INVALID_ADDRESS' }));
    }
    await expect(driver.dial('ws://127.0.0.1:0/x')).rejects.toMatchObject({ code: 'NETCHANNEL_ERR_INVALID_ADDRESS' });
  });

  it('validates options with typed errors', () => {
    expect(() => ws({ path: 'nope' })).toThrow(expect.objectContaining({ code: 'NETCHANNEL_ERR_INVALID_ARG', message: expect.stringMatching(/options\.path.*"nope"/) }));
    expect(() => ws({ maxPayload: 10 })).toThrow(expect.objectContaining({ code: 'NETCHANNEL_ERR_INVALID_ARG', message: expect.stringMatching(/options\.maxPayload.*10/) }));
    expect(() => ws({ perMessageDeflate: 'yes' as never })).toThrow(expect.objectContaining({ code: 'NETCHANNEL_ERR_INVALID_ARG' }));
    expect(() => ws({ handshakeTimeout: -1 })).toThrow(expect.objectContaining({ code: 'NETCHANNEL_ERR_INVALID_ARG' }));
  });

  it('fails dials with NETCHANNEL_ERR_DIAL_FAILED: wrong path, nothing listening, aborted', async () => {
    const l = await listen();
    const wrongPath = l.address.replace(/\/netchannel$/, '/elsewhere');
    await expect(driver.dial(wrongPath)).rejects.toMatchObject({ code: 'NETCHANNEL_ERR_DIAL_FAILED', message: expect.stringMatching(/400/) });
    const ac = new AbortController();
    ac.abort();
    await expect(driver.dial(l.address, { signal: ac.signal })).rejects.toMatchObject({ code: 'NETCHANNEL_ERR_DIAL_FAILED' });
    await l.close();
    await expect(driver.dial(l.address)).rejects.toMatchObject({ code: 'NETCHANNEL_ERR_DIAL_FAILED' });
  });

  it('keeps accepted channels open after listener.close()', async () => {
    const l = await listen();
    const a = await driver.dial(l.address);
    cleanup.push(() => a.destroy());
    const b = await nextAccepted();
    await within(l.close(), 1_000, 'listener.close() with a live channel');
    const got = within(new Promise<Frame[]>((resolve) => b.once('readable', () => resolve(b.dequeue()))), 5_000, 'frame after listener close');
    a.enqueue(frame(1, Buffer.from('still here')));
    expect((await got)[0]!.payload.toString()).toBe('still here');
  });

  it.each([
    ['a truncated frame', (f: Buffer) => f.subarray(0, f.length - 1), 'NETCHANNEL_ERR_BAD_FRAME'],
    ['a short header', (f: Buffer) => f.subarray(0, 10), 'NETCHANNEL_ERR_BAD_FRAME'],
    ['trailing bytes', (f: Buffer) => Buffer.concat([f, Buffer.from([0])]), 'NETCHANNEL_ERR_BAD_FRAME'],
    ['two frames', (f: Buffer) => Buffer.concat([f, f]), 'NETCHANNEL_ERR_BAD_FRAME'],
    ['a bad header', (f: Buffer) => Buffer.concat([Buffer.from([0xff]), f.subarray(1)]), 'NETCHANNEL_ERR_BAD_FRAME'],
  ] as const)('destroys a channel whose peer sends a message with %s', async (_what, mangle, code) => {
    const l = await listen();
    const raw = await rawClient(l.address);
    const b = await nextAccepted();
    const readable = new Promise<void>((r) => b.once('readable', () => r()));
    raw.send(encodeFrame(frame(0, Buffer.from('good'))));
    await within(readable, 5_000, 'good frame');
    const done = closed(b);
    raw.send(mangle(encodeFrame(frame(1, Buffer.from('payload')))));
    expect(await done).toMatchObject({ code });
    expect(b.framesReceived).toBe(1);
  });

  it('destroys a channel on a text message, a message after the end marker, or an oversized message', async () => {
    const l = await listen();
    {
      const raw = await rawClient(l.address);
      const b = await nextAccepted();
      const done = closed(b);
      raw.send('hello');
      expect(await done).toMatchObject({ code: 'NETCHANNEL_ERR_BAD_FRAME' });
    }
    {
      const raw = await rawClient(l.address);
      const b = await nextAccepted();
      const ended = new Promise<void>((r) => b.once('end', () => r()));
      const done = closed(b);
      raw.send(Buffer.alloc(0));
      await within(ended, 5_000, 'end after the marker');
      raw.send(encodeFrame(frame(0, Buffer.from('late'))));
      expect(await done).toMatchObject({ code: 'NETCHANNEL_ERR_PROTOCOL' });
    }
    {
      const raw = await rawClient(l.address);
      const b = await nextAccepted();
      const done = closed(b);
      raw.send(Buffer.alloc(24 + 1024 * 1024 + 1)); // over ws maxPayload: rejected before buffering
      expect(await done).toMatchObject({ code: 'NETCHANNEL_ERR_FRAME_TOO_LARGE' });
    }
  });

  it('closes gracefully (code 1000) only after both end-of-frames markers', async () => {
    const l = await listen();
    const raw = await rawClient(l.address);
    const b = await nextAccepted();
    const closeCode = new Promise<number>((resolve) => raw.once('close', (code) => resolve(code)));
    const markers: number[] = [];
    raw.on('message', (d: Buffer) => markers.push(d.length));
    b.end();
    await within(
      (async () => {
        while (markers.length === 0) await new Promise((r) => setTimeout(r, 2));
      })(),
      5_000,
      'marker from b',
    );
    expect(markers).toEqual([0]);
    expect(b.destroyed).toBe(false);
    const done = closed(b);
    raw.send(Buffer.alloc(0));
    expect(await done).toBeUndefined();
    expect(await within(closeCode, 5_000, 'raw close')).toBe(1000);
  });
});

// ---------------------------------------------------------------------------------------

describe('ws transport end to end', () => {
  let stacks: Stack[] = [];
  afterEach(async () => {
    await Promise.all(stacks.map((s) => s.close()));
    stacks = [];
  });

  async function readAll(sock: VirtualSocket): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const c of sock) parts.push(c as Buffer);
    return Buffer.concat(parts);
  }

  it('two stacks talk over ws with 3 channels, echoing 5 MB byte for byte', async () => {
    const server = await createStack({ transports: [ws()], listen: ['ws://127.0.0.1:0'] });
    stacks.push(server);
    const client = await createStack({ transports: [ws()], channels: { throughput: 3, latency: 0 } });
    stacks.push(client);
    const address = server.addresses[0]!;
    expect(address).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/netchannel$/);
    const vs = await server.listen(7);
    vs.on('connection', (s: VirtualSocket) => s.pipe(s));

    const data = randomBytes(5 * 1024 * 1024);
    const sock = await client.connect(address, 7);
    const echoed = readAll(sock);
    sock.end(data);
    const back = await within(echoed, 30_000, '5 MB echo over ws');
    expect(back.length).toBe(data.length);
    expect(createHash('sha256').update(back).digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));

    const session = [...client.peers.values()][0]!;
    const channels = session.device.channels;
    expect(channels).toHaveLength(3);
    for (const dc of channels) {
      expect(dc.channel.scheme).toBe('ws');
      expect(dc.channel.bytesSent).toBeGreaterThan(0);
    }
  }, 60_000);
});
