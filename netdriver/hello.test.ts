import { afterEach, describe, expect, it } from 'vitest';
import { ChannelError, ErrorCode, FrameError, NetChannelError, type ErrorCodeValue } from '../errors/index.js';
import { MemoryChannel } from '../transports/memory/memory-channel.js';
import { encodeFrame, FrameDecoder } from './codec.js';
import { controlFrame, FrameFlag, FrameType, type Frame } from './frame.js';
import { decodeHello, encodeHello, HELLO_MAGIC, HELLO_SIZE, helloAsAcceptor, helloAsDialer, HOST_ID_BYTES, PROTOCOL_VERSION, type HelloInfo } from './hello.js';
import { catchError } from '../test/pair.js';

const HOST_A = '0123456789abcdef0123456789abcdef';
const HOST_B = 'fedcba9876543210fedcba9876543210';


function expectCode(err: unknown, code: ErrorCodeValue): void {
  expect(err).toBeInstanceOf(NetChannelError);
  expect((err as NetChannelError).code).toBe(code);
}

/** A HELLO frame whose payload was altered by `mutate`. */
function mutated(mutate: (p: Buffer) => void, reply = false): Frame {
  const f = encodeHello({ hostId: HOST_A, appClass: 'throughput', index: 1 }, reply);
  mutate(f.payload);
  return f;
}

describe('encodeHello / decodeHello', () => {
  it('bounds the advertise block: count, lengths, trailing bytes, and only in a reply', () => {
    const nonce = Buffer.alloc(16, 1);
    const info = { hostId: HOST_A, appClass: 'throughput' as const, index: 0, advertised: ['tcp://127.0.0.2:1'] };
    expect(decodeHello(encodeHello(info, true, { nonce }), true).advertised).toEqual(['tcp://127.0.0.2:1']);
    const good = encodeHello(info, true, { nonce });
    const bad = (mutate: (p: Buffer) => Buffer, flags = good.flags): unknown => catchError(() => decodeHello({ ...good, flags, payload: mutate(Buffer.from(good.payload)) }, true));
    expectCode(bad((p) => (p.writeUInt8(0, HELLO_SIZE + 16), p)), ErrorCode.BAD_FRAME); // count 0
    expectCode(bad((p) => (p.writeUInt8(9, HELLO_SIZE + 16), p)), ErrorCode.BAD_FRAME); // count 9
    expectCode(bad((p) => (p.writeUInt8(200, HELLO_SIZE + 17), p)), ErrorCode.BAD_FRAME); // length past the end
    expectCode(bad((p) => Buffer.concat([p, Buffer.alloc(3)])), ErrorCode.BAD_FRAME); // trailing bytes
    expectCode(bad((p) => p.subarray(0, HELLO_SIZE)), ErrorCode.BAD_FRAME); // no nonce
    expectCode(catchError(() => decodeHello({ ...good, flags: good.flags & ~FrameFlag.REPLY }, false)), ErrorCode.PROTOCOL);
    expectCode(catchError(() => encodeHello({ ...info, advertised: Array.from({ length: 9 }, () => 'tcp://a:1') }, true, { nonce })), ErrorCode.BAD_FRAME);
  });

  it('round-trips class, index and host id, for request and reply', () => {
    const cases: HelloInfo[] = [
      { hostId: HOST_A, appClass: 'throughput', index: 0 },
      { hostId: HOST_B, appClass: 'latency', index: 3 },
      { hostId: '00000000000000000000000000000000', appClass: 'latency', index: 0xffff },
    ];
    for (const info of cases) {
      for (const reply of [false, true]) {
        const f = encodeHello(info, reply);
        expect(decodeHello(f, reply)).toMatchObject(info);
        // And through the wire codec.
        const [decoded] = new FrameDecoder().push(encodeFrame(f));
        expect(decodeHello(decoded!, reply)).toMatchObject(info);
      }
    }
  });

  it('lays the payload out as magic, version, class, index, host id', () => {
    const f = encodeHello({ hostId: HOST_B, appClass: 'latency', index: 0x0102 }, false);
    expect(f).toMatchObject({ type: FrameType.HELLO, flags: 0, src: 0, dst: 0, seq: 0, ack: 0 });
    const p = f.payload;
    expect(p.length).toBe(HELLO_SIZE);
    expect(HELLO_SIZE).toBe(24);
    expect(p.subarray(0, 4).toString('latin1')).toBe('NCH1');
    expect(p.readUInt32BE(0)).toBe(HELLO_MAGIC);
    expect(p[4]).toBe(PROTOCOL_VERSION);
    expect(p[5]).toBe(1);
    expect(p.readUInt16BE(6)).toBe(0x0102);
    expect(p.subarray(8, 8 + HOST_ID_BYTES).toString('hex')).toBe(HOST_B);
    expect(encodeHello({ hostId: HOST_B, appClass: 'throughput', index: 0 }, false).payload[5]).toBe(0);
  });

  it('marks a reply with the REPLY flag only', () => {
    expect(encodeHello({ hostId: HOST_A, appClass: 'latency', index: 0 }, true).flags).toBe(FrameFlag.REPLY);
    expect(encodeHello({ hostId: HOST_A, appClass: 'latency', index: 0 }, false).flags).toBe(0);
  });

  it('rejects a bad magic with BAD_FRAME', () => {
    const err = catchError(() => decodeHello(mutated((p) => p.write('NCH2', 0, 'latin1')), false));
    expect(err).toBeInstanceOf(FrameError);
    expectCode(err, ErrorCode.BAD_FRAME);
    expect((err as Error).message).toMatch(/magic/);
  });

  it.each([0, 2, 255])('rejects protocol version %i with HANDSHAKE', (version) => {
    const err = catchError(() => decodeHello(mutated((p) => (p[4] = version)), false));
    expect(err).toBeInstanceOf(ChannelError);
    expectCode(err, ErrorCode.HANDSHAKE);
    expect((err as Error).message).toContain(`version ${version}`);
  });

  it.each([2, 3, 255])('rejects channel class %i with BAD_FRAME', (cls) => {
    const err = catchError(() => decodeHello(mutated((p) => (p[5] = cls)), false));
    expect(err).toBeInstanceOf(FrameError);
    expectCode(err, ErrorCode.BAD_FRAME);
  });

  it.each([0, 23, 25, 256])('rejects a payload of %i bytes with BAD_FRAME', (len) => {
    const good = encodeHello({ hostId: HOST_A, appClass: 'throughput', index: 1 }, false);
    const payload = Buffer.alloc(len);
    good.payload.copy(payload, 0, 0, Math.min(len, HELLO_SIZE));
    const err = catchError(() => decodeHello({ ...good, payload }, false));
    expect(err).toBeInstanceOf(FrameError);
    expectCode(err, ErrorCode.BAD_FRAME);
  });

  it('checks the REPLY flag against what the caller expects (PROTOCOL)', () => {
    const request = encodeHello({ hostId: HOST_A, appClass: 'throughput', index: 1 }, false);
    const reply = encodeHello({ hostId: HOST_A, appClass: 'throughput', index: 1 }, true);
    for (const [frame, expectReply] of [
      [request, true],
      [reply, false],
    ] as const) {
      const err = catchError(() => decodeHello(frame, expectReply));
      expect(err).toBeInstanceOf(FrameError);
      expectCode(err, ErrorCode.PROTOCOL);
    }
    // The LATENCY bit (0x01) is not the reply bit.
    const latencyBit = { ...request, flags: FrameFlag.LATENCY };
    expect(decodeHello(latencyBit, false).hostId).toBe(HOST_A);
    expectCode(catchError(() => decodeHello(latencyBit, true)), ErrorCode.PROTOCOL);
  });

  it('rejects a frame that is not a HELLO with PROTOCOL', () => {
    for (const f of [controlFrame(FrameType.SYNC, 70000, 80), { ...encodeHello({ hostId: HOST_A, appClass: 'latency', index: 0 }, false), type: FrameType.PING }]) {
      const err = catchError(() => decodeHello(f as Frame, false));
      expect(err).toBeInstanceOf(FrameError);
      expectCode(err, ErrorCode.PROTOCOL);
    }
  });
});

describe('helloAsDialer / helloAsAcceptor over a memory channel pair', () => {
  let open: MemoryChannel[] = [];

  function pair(): [MemoryChannel, MemoryChannel] {
    const p = MemoryChannel.pair(
      { scheme: 'memory', localAddress: 'memory://dialer', remoteAddress: 'memory://acceptor' },
      { scheme: 'memory', localAddress: 'memory://acceptor', remoteAddress: 'memory://dialer' },
    );
    open.push(...p);
    return p;
  }

  function closed(ch: MemoryChannel): Promise<Error | undefined> {
    return new Promise((resolve) => ch.once('close', (err) => resolve(err)));
  }

  afterEach(async () => {
    const waits = open.map((ch) => (ch.destroyed ? Promise.resolve() : closed(ch).then(() => undefined)));
    for (const ch of open) ch.destroy();
    open = [];
    await Promise.all(waits.map((w) => Promise.race([w, new Promise((r) => setTimeout(r, 200))])));
  });

  it('exchanges host ids, class and index', async () => {
    const [a, b] = pair();
    const [seenByDialer, seenByAcceptor] = await Promise.all([
      helloAsDialer(a, { hostId: HOST_A, appClass: 'latency', index: 2 }, 1000),
      helloAsAcceptor(b, HOST_B, 1000),
    ]);
    expect(seenByAcceptor).toEqual({ hostId: HOST_A, appClass: 'latency', index: 2 });
    expect(seenByDialer).toEqual({ hostId: HOST_B, appClass: 'latency', index: 2 });
    expect(a.destroyed).toBe(false);
    expect(b.destroyed).toBe(false);
  });

  it('carries advertised addresses in the reply, covered by the MAC with a key', async () => {
    const key = Buffer.alloc(32, 7);
    const advertise = ['tcp://127.0.0.2:7000', 'unix:///run/app.sock'];
    const [a, b] = pair();
    const [seen] = await Promise.all([helloAsDialer(a, { hostId: HOST_A, appClass: 'throughput', index: 0 }, 1000, key), helloAsAcceptor(b, HOST_B, 1000, key, advertise)]);
    expect(seen.advertised).toEqual(advertise);
    const [c, d] = pair();
    const [plain] = await Promise.all([helloAsDialer(c, { hostId: HOST_A, appClass: 'throughput', index: 0 }, 1000), helloAsAcceptor(d, HOST_B, 1000, undefined, advertise)]);
    expect(plain.advertised).toEqual(advertise);
  });

  it('rejects a keyed reply whose advertised addresses were changed in transit (AUTH)', async () => {
    const key = Buffer.alloc(32, 7);
    const [a, b] = pair();
    // A man in the middle rewrites one byte of the advertise block of the acceptor's reply.
    const original = b.enqueue.bind(b);
    b.enqueue = ((f: Frame) => {
      if (f.type === FrameType.HELLO && (f.flags & FrameFlag.ADVERTISE) !== 0) {
        const p = Buffer.from(f.payload);
        p[HELLO_SIZE + 16 + 2]! ^= 1;
        return original({ ...f, payload: p });
      }
      return original(f);
    }) as typeof b.enqueue;
    const dialer = helloAsDialer(a, { hostId: HOST_A, appClass: 'throughput', index: 0 }, 1000, key).catch((e: unknown) => e);
    void helloAsAcceptor(b, HOST_B, 1000, key, ['tcp://127.0.0.2:7000']).catch(() => {});
    expectCode(await dialer, ErrorCode.AUTH);
  });

  it('leaves frames that follow the HELLO queued on the channel', async () => {
    const [a, b] = pair();
    const data = { type: FrameType.DATA, flags: 0, src: 80, dst: 70000, seq: 0, ack: 0, payload: Buffer.from('after hello') } as Frame;
    const acceptor = helloAsAcceptor(b, HOST_B, 1000).then((peer) => {
      // Sent in the same delivery batch as the HELLO reply.
      b.enqueue(data);
      return peer;
    });
    const dialer = helloAsDialer(a, { hostId: HOST_A, appClass: 'throughput', index: 0 }, 1000);
    await Promise.all([acceptor, dialer]);
    let frames = a.dequeue();
    if (frames.length === 0) {
      await new Promise<void>((r) => a.once('readable', () => r()));
      frames = a.dequeue();
    }
    expect(frames).toHaveLength(1);
    expect(frames[0]!.type).toBe(FrameType.DATA);
    expect(frames[0]!.payload.toString()).toBe('after hello');
  });

  it('acceptor: a non-HELLO first frame destroys the channel with a typed error', async () => {
    const [a, b] = pair();
    const bClosed = closed(b);
    a.enqueue(controlFrame(FrameType.SYNC, 70000, 80, 0, 4096));
    const err = await helloAsAcceptor(b, HOST_B, 1000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FrameError);
    expectCode(err, ErrorCode.PROTOCOL);
    expect(b.destroyed).toBe(true);
    expect(await bClosed).toBe(err);
  });

  it('dialer: a non-HELLO answer destroys the channel with a typed error', async () => {
    const [a, b] = pair();
    const aClosed = closed(a);
    b.enqueue({ type: FrameType.PING, flags: 0, src: 0, dst: 0, seq: 0, ack: 0, payload: Buffer.from('ping') });
    const err = await helloAsDialer(a, { hostId: HOST_A, appClass: 'throughput', index: 0 }, 1000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FrameError);
    expectCode(err, ErrorCode.PROTOCOL);
    expect(a.destroyed).toBe(true);
    expect(await aClosed).toBe(err);
  });

  it('acceptor: a HELLO carrying the REPLY flag is a protocol error', async () => {
    const [a, b] = pair();
    a.enqueue(encodeHello({ hostId: HOST_A, appClass: 'throughput', index: 0 }, true));
    const err = await helloAsAcceptor(b, HOST_B, 1000).catch((e: unknown) => e);
    expectCode(err, ErrorCode.PROTOCOL);
    expect(b.destroyed).toBe(true);
  });

  it('two dialers facing each other both fail (neither HELLO is a reply)', async () => {
    const [a, b] = pair();
    const results = await Promise.allSettled([
      helloAsDialer(a, { hostId: HOST_A, appClass: 'throughput', index: 0 }, 1000),
      helloAsDialer(b, { hostId: HOST_B, appClass: 'throughput', index: 0 }, 1000),
    ]);
    const codes = results.map((r) => {
      expect(r.status).toBe('rejected');
      const reason = (r as PromiseRejectedResult).reason as unknown;
      expect(reason).toBeInstanceOf(NetChannelError);
      return (reason as NetChannelError).code;
    });
    // The first to read the peer's HELLO fails with PROTOCOL and aborts the channel; the other
    // end either also sees the wrong HELLO (PROTOCOL) or sees the channel close first (HANDSHAKE).
    expect(codes).toContain(ErrorCode.PROTOCOL);
    for (const c of codes) expect([ErrorCode.PROTOCOL, ErrorCode.HANDSHAKE]).toContain(c);
    expect(a.destroyed && b.destroyed).toBe(true);
  });

  it('a peer speaking another protocol version fails the handshake', async () => {
    const [a, b] = pair();
    const hello = encodeHello({ hostId: HOST_A, appClass: 'throughput', index: 0 }, false);
    hello.payload[4] = PROTOCOL_VERSION + 1;
    a.enqueue(hello);
    const err = await helloAsAcceptor(b, HOST_B, 1000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChannelError);
    expectCode(err, ErrorCode.HANDSHAKE);
    expect(b.destroyed).toBe(true);
  });

  it('acceptor times out with HANDSHAKE when no HELLO arrives', async () => {
    const [, b] = pair();
    const started = performance.now();
    const err = await helloAsAcceptor(b, HOST_B, 50).catch((e: unknown) => e);
    expect(performance.now() - started).toBeGreaterThanOrEqual(40);
    expect(err).toBeInstanceOf(ChannelError);
    expectCode(err, ErrorCode.HANDSHAKE);
    expect((err as Error).message).toContain('50 ms');
    expect(b.destroyed).toBe(true);
  });

  it('dialer times out with HANDSHAKE when the peer never answers', async () => {
    const [a] = pair();
    const err = await helloAsDialer(a, { hostId: HOST_A, appClass: 'throughput', index: 0 }, 50).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChannelError);
    expectCode(err, ErrorCode.HANDSHAKE);
    expect(a.destroyed).toBe(true);
  });

  it('fails with HANDSHAKE when the channel closes during the HELLO', async () => {
    const [a, b] = pair();
    const pending = helloAsDialer(a, { hostId: HOST_A, appClass: 'throughput', index: 0 }, 5000).catch((e: unknown) => e);
    b.destroy();
    const err = await pending;
    expect(err).toBeInstanceOf(ChannelError);
    expectCode(err, ErrorCode.HANDSHAKE);
    expect((err as Error).message).toMatch(/closed during HELLO/);
  });

  it('rejects dialing itself (same host id) on both ends and destroys the channels', async () => {
    const [a, b] = pair();
    const [dialer, acceptor] = await Promise.allSettled([
      helloAsDialer(a, { hostId: HOST_A, appClass: 'latency', index: 0 }, 1000),
      helloAsAcceptor(b, HOST_A, 1000),
    ]);
    // The acceptor sees a HELLO claiming its own host id and refuses it first.
    expect(acceptor.status).toBe('rejected');
    const err = (acceptor as PromiseRejectedResult).reason as unknown;
    expect(err).toBeInstanceOf(ChannelError);
    expectCode(err, ErrorCode.HANDSHAKE);
    expect((err as Error).message).toMatch(/own host id/);
    expect(dialer.status).toBe('rejected');
    expect(a.destroyed || b.destroyed).toBe(true);
  });
});

describe('pre-shared-key authentication in the HELLO', () => {
  const open: MemoryChannel[] = [];
  afterEach(() => {
    for (const c of open.splice(0)) c.destroy();
  });
  const pair = (): [MemoryChannel, MemoryChannel] => {
    const p = MemoryChannel.pair(
      { scheme: 'memory', localAddress: 'memory://dialer', remoteAddress: 'memory://acceptor' },
      { scheme: 'memory', localAddress: 'memory://acceptor', remoteAddress: 'memory://dialer' },
    );
    open.push(...p);
    return p;
  };
  const KEY = Buffer.from('0123456789abcdef-secret');
  const run = (dialKey?: Buffer, acceptKey?: Buffer) => {
    const [a, b] = pair();
    return Promise.allSettled([
      helloAsDialer(a, { hostId: HOST_A, appClass: 'throughput', index: 2 }, 1000, dialKey),
      helloAsAcceptor(b, HOST_B, 1000, acceptKey),
    ]);
  };

  it('succeeds when both ends hold the same key, with class and index intact', async () => {
    const [d, acc] = await run(KEY, KEY);
    expect(d).toMatchObject({ status: 'fulfilled', value: { hostId: HOST_B, appClass: 'throughput', index: 2 } });
    expect(acc).toMatchObject({ status: 'fulfilled', value: { hostId: HOST_A, appClass: 'throughput', index: 2 } });
  });

  it('refuses a peer with a different key on both ends with NETCHANNEL_ERR_AUTH', async () => {
    const [d, acc] = await run(Buffer.from('another-key-of-16+bytes'), KEY);
    expect(d.status).toBe('rejected');
    expectCode((d as PromiseRejectedResult).reason, ErrorCode.AUTH);
    expect(acc.status).toBe('rejected');
  });

  it('refuses an unauthenticated dialer when the acceptor has a key, and vice versa', async () => {
    const [d1, a1] = await run(undefined, KEY);
    expectCode((d1 as PromiseRejectedResult).reason, ErrorCode.AUTH);
    expect((d1 as PromiseRejectedResult).reason.message).toMatch(/requires a pre-shared key/);
    expect(a1.status).toBe('rejected');
    const [d2] = await run(KEY, undefined);
    expectCode((d2 as PromiseRejectedResult).reason, ErrorCode.AUTH);
    expect((d2 as PromiseRejectedResult).reason.message).toMatch(/did not authenticate/);
  });
});
