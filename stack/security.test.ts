import net from 'node:net';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { createStack, type Stack, type StackEvent, type VirtualSocket } from '../index.js';
import { parseHostPort } from '../netdriver/address.js';
import { encodeFrame, FrameDecoder } from '../netdriver/codec.js';
import { controlFrame, FrameType, ResetReason, type Frame } from '../netdriver/frame.js';
import { encodeHello } from '../netdriver/hello.js';
import { event, readAll, until, within } from '../test/pair.js';

const ATTACKER = 'ee'.repeat(16);
let stacks: Stack[] = [];
afterEach(async () => {
  await Promise.all(stacks.map((s) => s.close()));
  stacks = [];
});

async function stack(options: Parameters<typeof createStack>[0] = {}): Promise<Stack> {
  const s = await createStack(options);
  stacks.push(s);
  return s;
}

/** A server stack with an echo service and a healthy client socket to it. */
async function victim(options: Parameters<typeof createStack>[0] = {}) {
  const server = await stack({ ...options, listen: ['tcp://127.0.0.1:0'] });
  (await server.listen(80)).on('connection', (s) => s.pipe(s).on('error', () => {}));
  const client = await stack({ ...options, channels: { throughput: 2, latency: 1 } });
  const good = await client.connect(server.addresses[0]!, 80);
  const events: StackEvent[] = [];
  server.events$.subscribe((e) => events.push(e));
  return { server, client, good, events, port: parseHostPort(server.addresses[0]!, 'tcp', false).port };
}

/** A raw TCP connection that completes the HELLO by hand and then lets the test speak frames. */
async function attacker(port: number, hostId = ATTACKER): Promise<{ sock: net.Socket; frames: Frame[]; closed: Promise<void> }> {
  const sock = net.connect({ host: '127.0.0.1', port });
  sock.on('error', () => {});
  const closed = new Promise<void>((r) => sock.once('close', () => r()));
  await event(sock, 'connect');
  const frames: Frame[] = [];
  const dec = new FrameDecoder();
  sock.on('data', (d: Buffer) => {
    try {
      dec.push(d, frames);
    } catch {
      // the attacker does not care
    }
  });
  sock.write(encodeFrame(encodeHello({ hostId, appClass: 'throughput', index: 0 }, false, { nonce: Buffer.alloc(16, 1) })));
  await within(
    (async () => {
      while (!frames.some((f) => f.type === FrameType.HELLO)) await new Promise((r) => setTimeout(r, 2));
    })(),
    5000,
    'HELLO reply',
  );
  return { sock, frames, closed };
}

/** The victim's healthy socket still echoes. */
async function stillWorks(good: VirtualSocket): Promise<void> {
  const got = new Promise<Buffer>((resolve) => good.once('data', resolve));
  good.write('ping');
  expect((await within(got, 5000, 'healthy socket echo')).toString()).toBe('ping');
}

const header = (type: number, len: number, flags = 0): Buffer => {
  const b = encodeFrame(controlFrame(FrameType.DATA, 50000, 80));
  b[0] = type;
  b[1] = flags;
  b.writeUInt32BE(len, 20);
  return b;
};

describe('hostile input closes at most the offending channel', () => {
  const cases: Array<[string, Buffer, string]> = [
    ['random bytes', Buffer.from('\x00\x17garbage that is not a frame at all........'), 'NETCHANNEL_ERR_BAD_FRAME'],
    ['a length over the limit', header(FrameType.DATA, 64 * 1024 * 1024), 'NETCHANNEL_ERR_FRAME_TOO_LARGE'],
    ['an unknown frame type', header(0x33, 0), 'NETCHANNEL_ERR_BAD_FRAME'],
    ['unknown flag bits', header(FrameType.CREDIT, 0, 0x80), 'NETCHANNEL_ERR_BAD_FRAME'],
    ['a second HELLO', encodeFrame(encodeHello({ hostId: ATTACKER, appClass: 'latency', index: 1 }, false)), 'NETCHANNEL_ERR_PROTOCOL'],
  ];
  for (const [what, bytes, code] of cases) {
    it(`${what}: the channel closes with ${code}, counted in metrics; other sockets untouched`, async () => {
      const v = await victim();
      const a = await attacker(v.port);
      a.sock.write(bytes);
      await within(a.closed, 5000, 'offending channel closed');
      await stillWorks(v.good);
      const removed = v.events.find((e) => e.type === 'channel-removed' && e.peer === ATTACKER);
      expect(removed).toMatchObject({ reason: 'failed', code });
      expect(await v.server.registry.getSingleMetricAsString('netchannel_errors_total')).toContain(`code="${code}"`);
    });
  }

  it('a truncated frame followed by silence leaves the channel to keepalive; the rest works', async () => {
    const v = await victim({ keepaliveInterval: 50, keepaliveTimeout: 300, scheduler: { interval: 20 } });
    const a = await attacker(v.port);
    a.sock.write(header(FrameType.DATA, 1000).subarray(0, 30));
    await within(a.closed, 5000, 'silent channel closed by keepalive');
    await stillWorks(v.good);
    expect(v.events.find((e) => e.type === 'channel-removed' && e.peer === ATTACKER)).toMatchObject({ code: 'NETCHANNEL_ERR_TIMEOUT' });
  });

  it('sequence numbers far outside the window reset that socket only (RST PROTOCOL)', async () => {
    const v = await victim();
    const a = await attacker(v.port);
    a.sock.write(encodeFrame(controlFrame(FrameType.SYNC, 50000, 80, 0, 1 << 20)));
    a.sock.write(encodeFrame({ ...controlFrame(FrameType.DATA, 50000, 80, 0x7fff0000), payload: Buffer.alloc(10) }));
    await within(
      (async () => {
        while (!a.frames.some((f) => f.type === FrameType.RST && f.ack === ResetReason.PROTOCOL)) await new Promise((r) => setTimeout(r, 2));
      })(),
      5000,
      'RST PROTOCOL',
    );
    expect(a.sock.destroyed).toBe(false);
    await stillWorks(v.good);
  });

  it('duplicate SYNCs open one socket (SYNC_ACK re-sent); a SYNC flood beyond maxSocketsPerPeer is refused with RST LIMIT', async () => {
    const v = await victim({ maxSocketsPerPeer: 50 });
    let accepted = 0;
    (await v.server.listen(81)).on('connection', (s) => {
      accepted++;
      s.on('error', () => {});
    });
    const a = await attacker(v.port);
    for (let i = 0; i < 3; i++) a.sock.write(encodeFrame(controlFrame(FrameType.SYNC, 50000, 81, 0, 4096)));
    for (let p = 50001; p < 50200; p++) a.sock.write(encodeFrame(controlFrame(FrameType.SYNC, p, 81, 0, 4096)));
    await within(
      (async () => {
        while (a.frames.filter((f) => f.type === FrameType.RST && f.ack === ResetReason.LIMIT).length < 150) await new Promise((r) => setTimeout(r, 2));
      })(),
      5000,
      'RST LIMIT for the flood',
    );
    expect(a.frames.filter((f) => f.type === FrameType.SYNC_ACK && f.dst === 50000)).toHaveLength(3);
    expect(accepted).toBe(50);
    await stillWorks(v.good); // another peer, its own budget
  });

  it('a HELLO claiming the server’s own host id is refused', async () => {
    const v = await victim();
    const sock = net.connect({ host: '127.0.0.1', port: v.port });
    sock.on('error', () => {});
    await event(sock, 'connect');
    const closed = new Promise((r) => sock.once('close', r));
    sock.write(encodeFrame(encodeHello({ hostId: v.server.hostId, appClass: 'throughput', index: 0 }, false, { nonce: Buffer.alloc(16) })));
    await within(closed, 5000, 'refused');
    expect(v.events.find((e) => e.type === 'channel-rejected')).toMatchObject({ code: 'NETCHANNEL_ERR_HANDSHAKE' });
    await stillWorks(v.good);
  });

  it('connections that never finish their HELLO beyond maxPendingHandshakes: the oldest are dropped (LIMIT)', async () => {
    const v = await victim({ maxPendingHandshakes: 4, handshakeTimeout: 2000 });
    const socks = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const s = net.connect({ host: '127.0.0.1', port: v.port });
        s.on('error', () => {});
        await event(s, 'connect');
        return s;
      }),
    );
    await within(
      (async () => {
        while (v.events.filter((e) => e.type === 'channel-rejected' && e.code === 'NETCHANNEL_ERR_LIMIT').length < 4) await new Promise((r) => setTimeout(r, 5));
      })(),
      5000,
      'limit rejections',
    );
    for (const s of socks) s.destroy();
    await stillWorks(v.good);
  });

  it('property: random frames and bytes after a valid HELLO never crash the stack nor disturb other sockets', async () => {
    const v = await victim();
    const frameArb = fc.record({
      type: fc.integer({ min: 0, max: 12 }),
      flags: fc.integer({ min: 0, max: 0x1f }),
      src: fc.oneof(fc.constant(50000), fc.integer({ min: 0, max: 0xffffffff })),
      dst: fc.oneof(fc.constant(80), fc.integer({ min: 0, max: 0xffffffff })),
      seq: fc.integer({ min: 0, max: 0xffffffff }),
      ack: fc.integer({ min: 0, max: 0xffffffff }),
      payload: fc.uint8Array({ maxLength: 300 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(frameArb, fc.uint8Array({ minLength: 1, maxLength: 64 })), { maxLength: 20 }), async (items) => {
        const a = await attacker(v.port);
        for (const it of items) {
          if (it instanceof Uint8Array) a.sock.write(it);
          else {
            const f = { ...it, payload: Buffer.from(it.payload) } as unknown as Frame;
            const b = Buffer.alloc(24 + f.payload.length);
            b[0] = f.type;
            b[1] = f.flags;
            b[2] = 1;
            b.writeUInt32BE(f.src >>> 0, 4);
            b.writeUInt32BE(f.dst >>> 0, 8);
            b.writeUInt32BE(f.seq >>> 0, 12);
            b.writeUInt32BE(f.ack >>> 0, 16);
            b.writeUInt32BE(f.payload.length, 20);
            f.payload.copy(b, 24);
            a.sock.write(b);
          }
        }
        a.sock.destroy();
        await a.closed;
        await stillWorks(v.good);
      }),
      { numRuns: Number(process.env.NETCHANNEL_PROPERTY_RUNS ?? 25) },
    );
  }, 120_000);
});

describe('limits', () => {
  /** Opens a socket by hand from the attacker channel and returns the server's socket. */
  async function rawSocket(v: Awaited<ReturnType<typeof victim>>, a: Awaited<ReturnType<typeof attacker>>, src: number): Promise<VirtualSocket> {
    const server = v.server as Stack;
    const srv = await server.listen(90 + (src % 100));
    const accepted = event<[VirtualSocket]>(srv, 'connection');
    a.sock.write(encodeFrame(controlFrame(FrameType.SYNC, src, 90 + (src % 100), 0, 1 << 20)));
    const [sock] = await accepted;
    sock.on('error', () => {});
    return sock;
  }
  const data = (src: number, dst: number, seq: number, n: number): Buffer => encodeFrame({ ...controlFrame(FrameType.DATA, src, dst, seq), payload: Buffer.alloc(n, 1) });

  it('overlapping out-of-order segments (copies cut at other offsets) are held once: within the window, and the stream is intact', async () => {
    const v = await victim({ window: 64 * 1024, scheduler: { holExpansion: 0 } });
    const a = await attacker(v.port);
    const sock = await rawSocket(v, a, 50001);
    let errored = false;
    sock.on('error', () => (errored = true));
    let got = 0;
    sock.on('data', (d: Buffer) => {
      got += d.length;
      expect(d.every((b) => b === 1)).toBe(true);
    });
    // Withhold bytes 0..999, then send segments that overlap: together 7 times the bytes
    // they cover, as honest retransmissions cut at other offsets can be.
    for (let off = 1; off < 8; off++) a.sock.write(data(50001, 91, off * 1000, 60 * 1024 - off * 1000));
    let most = 0;
    await until(() => (most = Math.max(most, sock.reorderBytes)) >= 60 * 1024 - 1000, 5000, 'the overlapping segments held');
    a.sock.write(data(50001, 91, 0, 1000)); // the gap: everything is delivered, once
    await until(() => ((most = Math.max(most, sock.reorderBytes)), got === 60 * 1024), 5000, 'the whole stream delivered');
    expect(most).toBeLessThanOrEqual(64 * 1024); // never more than the window held
    expect(sock.reorderBytes).toBe(0);
    expect(errored).toBe(false);
    await stillWorks(v.good);
  });

  it('out-of-order bytes beyond maxReorderBytesPerPeer reset the socket that exceeded it with RST LIMIT', async () => {
    const v = await victim({ maxReorderBytesPerPeer: 100 * 1024 });
    const a = await attacker(v.port);
    const first = await rawSocket(v, a, 50002);
    const second = await rawSocket(v, a, 50003);
    const err = event<[Error & { code: string }]>(second, 'error');
    a.sock.write(data(50002, 92, 1, 60 * 1024)); // held: byte 0 is missing
    a.sock.write(data(50003, 93, 1, 60 * 1024)); // the peer's total would pass 100 KiB
    expect((await err)[0].code).toBe('NETCHANNEL_ERR_LIMIT');
    await within(
      (async () => {
        while (!a.frames.some((f) => f.type === FrameType.RST && f.ack === ResetReason.LIMIT && f.dst === 50003)) await new Promise((r) => setTimeout(r, 2));
      })(),
      5000,
      'RST LIMIT',
    );
    expect(first.destroyed).toBe(false); // the socket within budget is untouched
    await stillWorks(v.good);
  });

  it('idleTimeout destroys a virtual socket without traffic with NETCHANNEL_ERR_TIMEOUT; active sockets stay', async () => {
    const v = await victim({ idleTimeout: 150 });
    const a = await attacker(v.port);
    const idle = await rawSocket(v, a, 50004);
    const t0 = performance.now();
    const keepBusy = setInterval(() => v.good.write('.'), 30); // traffic keeps this one alive
    try {
      const [e] = await event<[Error & { code: string }]>(idle, 'error', 5000);
      expect(e.code).toBe('NETCHANNEL_ERR_TIMEOUT');
      expect(performance.now() - t0).toBeGreaterThanOrEqual(100);
      expect(v.good.destroyed).toBe(false);
    } finally {
      clearInterval(keepBusy);
    }
  });
});

describe('authentication', () => {
  it('with a key, an unauthenticated peer is refused before any socket opens; with the key it works', async () => {
    const key = 'correct horse battery staple';
    const server = await stack({ listen: ['tcp://127.0.0.1:0'], auth: { key } });
    let opened = 0;
    (await server.listen(80)).on('connection', (s) => {
      opened++;
      s.end('hi');
    });
    const events: StackEvent[] = [];
    server.events$.subscribe((e) => events.push(e));
    const anon = await stack({ channels: { throughput: 1, latency: 0 } });
    await expect(anon.connect(server.addresses[0]!, 80)).rejects.toMatchObject({ code: 'NETCHANNEL_ERR_AUTH' });
    const wrong = await stack({ channels: { throughput: 1, latency: 0 }, auth: { key: 'a different key, long enough' } });
    await expect(wrong.connect(server.addresses[0]!, 80)).rejects.toMatchObject({ code: 'NETCHANNEL_ERR_AUTH' });
    expect(opened).toBe(0);
    await within(
      (async () => {
        while (events.filter((e) => e.type === 'channel-rejected' && e.code === 'NETCHANNEL_ERR_AUTH').length < 2) await new Promise((r) => setTimeout(r, 5));
      })(),
      5000,
      'both refusals recorded',
    );
    const friend = await stack({ channels: { throughput: 2, latency: 1 }, auth: { key } });
    const sock = await friend.connect(server.addresses[0]!, 80);
    expect((await readAll(sock)).toString()).toBe('hi');
    expect(opened).toBe(1);
    await expect(createStack({ auth: { key: 'short' } })).rejects.toThrow(/options\.auth\.key.*16 bytes/);
  });
});
