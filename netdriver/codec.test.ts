import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode, FrameError, NetChannelError, type ErrorCodeValue } from '../errors/index.js';
import { DEFAULT_MAX_PAYLOAD, encodeFrame, encodeHeader, FrameDecoder, MAX_CONTROL_PAYLOAD } from './codec.js';
import {
  controlFrame,
  EMPTY,
  FrameFlag,
  frameSize,
  FrameType,
  HEADER_SIZE,
  KNOWN_FLAGS,
  MAX_LISTEN_PORT,
  ResetReason,
  WIRE_VERSION,
  type Frame,
  type FrameTypeValue,
} from './frame.js';
import { catchError } from '../test/pair.js';

// ---- helpers -------------------------------------------------------------------------

/** Deterministic, position-dependent bytes so misplaced slices are detected. */
function pattern(n: number, salt = 0): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + salt * 7 + (i >>> 8)) & 0xff;
  return b;
}

function frame(type: FrameTypeValue, payload: Buffer = EMPTY, fields: Partial<Omit<Frame, 'type' | 'payload'>> = {}): Frame {
  return { type, flags: 0, src: 0, dst: 0, seq: 0, ack: 0, ...fields, payload };
}

/** Highest defined frame type; types are numbered 1..MAX_TYPE without gaps. */
const MAX_TYPE = Math.max(...Object.values(FrameType));
/** Types that may carry a payload (DATA up to maxPayload, the others up to 256 bytes). */
const PAYLOAD_TYPES: readonly number[] = [FrameType.DATA, FrameType.HELLO, FrameType.PING, FrameType.PONG];
/** Types that must have an empty payload. */
const CONTROL_TYPES = Object.values(FrameType).filter((t) => !PAYLOAD_TYPES.includes(t));

/** One valid frame of every type, with distinctive header fields. */
const KNOWN_EXAMPLES: readonly Frame[] = [
  frame(FrameType.HELLO, pattern(24, 1), { flags: FrameFlag.REPLY }),
  frame(FrameType.DATA, pattern(100, 2), { src: 0x10000, dst: 80, seq: 0xfffffff0, ack: 0 }),
  frame(FrameType.SYNC, EMPTY, { flags: FrameFlag.LATENCY, src: 70000, dst: 443, seq: 0, ack: 4 * 1024 * 1024 }),
  frame(FrameType.SYNC_ACK, EMPTY, { flags: FrameFlag.LATENCY, src: 443, dst: 70000, ack: 0x12345678 }),
  frame(FrameType.FIN, EMPTY, { src: 0xffffffff, dst: 1, seq: 0xdeadbeef }),
  frame(FrameType.RST, EMPTY, { src: 1, dst: 0xffffffff, ack: ResetReason.PROTOCOL }),
  frame(FrameType.CREDIT, EMPTY, { src: 65536, dst: 65535, seq: 123456, ack: 0x80000000 }),
  frame(FrameType.PING, pattern(8, 3)),
  frame(FrameType.PONG, pattern(MAX_CONTROL_PAYLOAD, 4)),
];
const ONE_OF_EACH: readonly Frame[] = [
  ...KNOWN_EXAMPLES,
  // Any type added later (empty payload, like every control frame).
  ...Object.values(FrameType)
    .filter((t) => !KNOWN_EXAMPLES.some((f) => f.type === t))
    .map((t) => frame(t, EMPTY, { src: 65536 + t, dst: t, seq: 0xffffffff - t, ack: t })),
];

/** Header bytes of a frame with arbitrary (possibly invalid) fields. */
function rawHeader(fields: { type?: number; flags?: number; version?: number; reserved?: number; length?: number } = {}): Buffer {
  const h = Buffer.alloc(HEADER_SIZE);
  h[0] = fields.type ?? FrameType.DATA;
  h[1] = fields.flags ?? 0;
  h[2] = fields.version ?? WIRE_VERSION;
  h[3] = fields.reserved ?? 0;
  h.writeUInt32BE(70000, 4);
  h.writeUInt32BE(80, 8);
  h.writeUInt32BE(1, 12);
  h.writeUInt32BE(2, 16);
  h.writeUInt32BE(fields.length ?? 0, 20);
  return h;
}

/** Returns a description of the first difference, or null when the frames are equal. */
function diffFrames(actual: readonly Frame[], expected: readonly Frame[]): string | null {
  if (actual.length !== expected.length) return `got ${actual.length} frames, expected ${expected.length}`;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    for (const k of ['type', 'flags', 'src', 'dst', 'seq', 'ack'] as const) {
      if (a[k] !== e[k] >>> 0) return `frame ${i}: ${k} is ${a[k]}, expected ${e[k] >>> 0}`;
    }
    if (!Buffer.isBuffer(a.payload)) return `frame ${i}: payload is not a Buffer`;
    if (!a.payload.equals(e.payload)) return `frame ${i}: payload differs (${a.payload.length} vs ${e.payload.length} bytes)`;
  }
  return null;
}

function decodeAll(chunks: readonly Buffer[], decoder = new FrameDecoder()): Frame[] {
  const out: Frame[] = [];
  for (const c of chunks) decoder.push(c, out);
  return out;
}


function expectFrameError(fn: () => unknown, code: ErrorCodeValue): FrameError {
  const err = catchError(fn);
  expect(err).toBeInstanceOf(FrameError);
  expect(err).toBeInstanceOf(NetChannelError);
  expect((err as FrameError).code).toBe(code);
  return err as FrameError;
}

// ---- frame.ts ---------------------------------------------------------------------------

describe('frame.ts constants and helpers', () => {
  it('defines the wire constants', () => {
    expect(HEADER_SIZE).toBe(24);
    expect(WIRE_VERSION).toBe(1);
    expect(MAX_LISTEN_PORT).toBe(49151);
    expect(FrameFlag).toMatchObject({ LATENCY: 0x01, REPLY: 0x02 });
    expect(KNOWN_FLAGS).toBe(Object.values(FrameFlag).reduce((a, b) => a | b, 0));
    expect(FrameType).toMatchObject({ HELLO: 1, DATA: 2, SYNC: 3, SYNC_ACK: 4, FIN: 5, RST: 6, CREDIT: 7, PING: 8, PONG: 9 });
    // Types are numbered 1..MAX_TYPE without gaps (the decoder checks a range).
    expect([...Object.values(FrameType)].sort((a, b) => a - b)).toEqual(Array.from({ length: MAX_TYPE }, (_, i) => i + 1));
    expect(ResetReason).toEqual({ RESET: 1, REFUSED: 2, UNKNOWN: 3, PROTOCOL: 4, LIMIT: 5 });
    expect(EMPTY.length).toBe(0);
  });

  it('controlFrame builds an empty-payload frame with defaults', () => {
    expect(controlFrame(FrameType.FIN, 70000, 80)).toEqual({ type: FrameType.FIN, flags: 0, src: 70000, dst: 80, seq: 0, ack: 0, payload: EMPTY });
    const f = controlFrame(FrameType.SYNC, 1, 2, 3, 4, FrameFlag.LATENCY);
    expect(f).toMatchObject({ type: FrameType.SYNC, flags: FrameFlag.LATENCY, src: 1, dst: 2, seq: 3, ack: 4 });
    expect(f.payload.length).toBe(0);
  });

  it('frameSize is header plus payload', () => {
    expect(frameSize(controlFrame(FrameType.RST, 1, 2))).toBe(HEADER_SIZE);
    expect(frameSize(frame(FrameType.DATA, pattern(1000)))).toBe(HEADER_SIZE + 1000);
    expect(encodeFrame(frame(FrameType.DATA, pattern(1000))).length).toBe(frameSize(frame(FrameType.DATA, pattern(1000))));
  });
});

// ---- encoding -------------------------------------------------------------------------------

describe('encodeHeader / encodeFrame', () => {
  it('writes the documented byte layout (big-endian u32 fields)', () => {
    const f = frame(FrameType.CREDIT, EMPTY, { flags: 0, src: 0x01020304, dst: 0x05060708, seq: 0x090a0b0c, ack: 0x0d0e0f10 });
    const h = encodeHeader(f);
    expect([...h]).toEqual([7, 0, 1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0, 0, 0, 0]);
    const d = encodeFrame(frame(FrameType.DATA, Buffer.from('abc'), { flags: FrameFlag.LATENCY }));
    expect([...d.subarray(0, 4)]).toEqual([2, 1, 1, 0]);
    expect(d.readUInt32BE(20)).toBe(3);
    expect(d.subarray(HEADER_SIZE).toString()).toBe('abc');
  });

  it('writes into a target buffer at an offset, leaving the rest untouched', () => {
    const target = Buffer.alloc(40, 0xaa);
    const f = frame(FrameType.DATA, pattern(5), { seq: 7 });
    expect(encodeHeader(f, target, 10)).toBe(target);
    expect(target.subarray(0, 10).every((b) => b === 0xaa)).toBe(true);
    expect(target.subarray(34).every((b) => b === 0xaa)).toBe(true);
    expect(target.subarray(10, 34).equals(encodeHeader(f))).toBe(true);
  });

  it('reduces u32 fields modulo 2^32', () => {
    const h = encodeHeader(frame(FrameType.FIN, EMPTY, { src: -1, seq: 2 ** 32 + 5 }));
    expect(h.readUInt32BE(4)).toBe(0xffffffff);
    expect(h.readUInt32BE(12)).toBe(5);
  });
});

// ---- decoding: round trips ------------------------------------------------------------------

describe('FrameDecoder round trip', () => {
  for (const f of ONE_OF_EACH) {
    it(`round-trips a frame of type ${f.type} (${Object.entries(FrameType).find(([, v]) => v === f.type)?.[0]})`, () => {
      const out = new FrameDecoder().push(encodeFrame(f));
      expect(diffFrames(out, [f])).toBeNull();
    });
  }

  it('round-trips a DATA frame of exactly maxPayload bytes (default 1 MiB)', () => {
    const f = frame(FrameType.DATA, pattern(DEFAULT_MAX_PAYLOAD, 9), { seq: 42 });
    expect(diffFrames(new FrameDecoder().push(encodeFrame(f)), [f])).toBeNull();
  });

  it('accepts HELLO, PING and PONG payloads of exactly 256 bytes', () => {
    const fs = [FrameType.HELLO, FrameType.PING, FrameType.PONG].map((t) => frame(t, pattern(MAX_CONTROL_PAYLOAD, t)));
    expect(diffFrames(decodeAll(fs.map(encodeFrame)), fs)).toBeNull();
  });

  it('appends to a caller-supplied output array', () => {
    const out: Frame[] = [ONE_OF_EACH[0]!];
    const ret = new FrameDecoder().push(encodeFrame(ONE_OF_EACH[1]!), out);
    expect(ret).toBe(out);
    expect(diffFrames(out, [ONE_OF_EACH[0]!, ONE_OF_EACH[1]!])).toBeNull();
  });

  it('returns nothing for an empty chunk and for a partial header, and counts buffered bytes', () => {
    const d = new FrameDecoder();
    expect(d.push(Buffer.alloc(0))).toEqual([]);
    const bytes = encodeFrame(frame(FrameType.DATA, pattern(10)));
    expect(d.push(bytes.subarray(0, 5))).toEqual([]);
    expect(d.bufferedBytes).toBe(5);
    expect(d.push(bytes.subarray(5, 30))).toEqual([]);
    expect(d.bufferedBytes).toBe(30);
    expect(d.push(Buffer.alloc(0))).toEqual([]);
    const out = d.push(bytes.subarray(30));
    expect(diffFrames(out, [frame(FrameType.DATA, pattern(10))])).toBeNull();
    expect(d.bufferedBytes).toBe(0);
  });
});

// ---- decoding: arbitrary chunking --------------------------------------------------------

describe('FrameDecoder across chunk boundaries', () => {
  const stream: Frame[] = [
    frame(FrameType.HELLO, pattern(24, 11)),
    frame(FrameType.DATA, EMPTY, { src: 65536, dst: 80, seq: 0 }),
    frame(FrameType.DATA, pattern(1, 12), { src: 65536, dst: 80, seq: 0 }),
    frame(FrameType.SYNC, EMPTY, { flags: FrameFlag.LATENCY, src: 65537, dst: 22, ack: 1000 }),
    frame(FrameType.DATA, pattern(1000, 13), { src: 65536, dst: 80, seq: 1 }),
    frame(FrameType.CREDIT, EMPTY, { src: 80, dst: 65536, seq: 1001, ack: 5000 }),
    frame(FrameType.DATA, pattern(70000, 14), { src: 65536, dst: 80, seq: 1001 }),
    frame(FrameType.PING, pattern(8, 15)),
    frame(FrameType.DATA, pattern(1, 16), { src: 65536, dst: 80, seq: 71001 }),
    frame(FrameType.FIN, EMPTY, { src: 65536, dst: 80, seq: 71002 }),
    frame(FrameType.DATA, EMPTY, { src: 65536, dst: 80, seq: 71002 }),
  ];
  const bytes = Buffer.concat(stream.map(encodeFrame));

  it('decodes the stream in one chunk', () => {
    expect(diffFrames(decodeAll([bytes]), stream)).toBeNull();
  });

  it('decodes the stream split into two chunks at every byte offset', () => {
    const failures: string[] = [];
    for (let cut = 0; cut <= bytes.length; cut++) {
      const decoder = new FrameDecoder();
      const out = decodeAll([bytes.subarray(0, cut), bytes.subarray(cut)], decoder);
      const diff = diffFrames(out, stream);
      if (diff !== null) failures.push(`cut ${cut}: ${diff}`);
      else if (decoder.bufferedBytes !== 0) failures.push(`cut ${cut}: ${decoder.bufferedBytes} bytes left buffered`);
      if (failures.length > 5) break;
    }
    expect(failures).toEqual([]);
  });

  it('decodes the stream fed one byte at a time, emitting each frame on its last byte', () => {
    const decoder = new FrameDecoder();
    const out: Frame[] = [];
    const ends = new Set<number>();
    let end = 0;
    for (const f of stream) ends.add((end += frameSize(f)));
    const badEmits: number[] = [];
    for (let i = 0; i < bytes.length; i++) {
      const before = out.length;
      decoder.push(bytes.subarray(i, i + 1), out);
      if ((out.length > before) !== ends.has(i + 1)) badEmits.push(i);
    }
    expect(badEmits).toEqual([]);
    expect(diffFrames(out, stream)).toBeNull();
  });

  it('reassembles a large payload from many tiny chunks in linear time', () => {
    // Regression: the slow path used Array#shift per consumed chunk, which is quadratic in the
    // number of chunks (a 1 MiB DATA frame trickled byte by byte took minutes of CPU).
    const f = frame(FrameType.DATA, pattern(DEFAULT_MAX_PAYLOAD, 5), { seq: 9 });
    const wire = encodeFrame(f);
    const decoder = new FrameDecoder();
    const out: Frame[] = [];
    const started = performance.now();
    for (let i = 0; i < wire.length; i++) decoder.push(wire.subarray(i, i + 1), out);
    const elapsed = performance.now() - started;
    expect(diffFrames(out, [f])).toBeNull();
    expect(elapsed).toBeLessThan(20_000);
  });

  it('decodes the stream under random chunkings (property)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 40 }), (cuts) => {
        const points = [0, ...cuts.sort((a, b) => a - b), bytes.length];
        const chunks: Buffer[] = [];
        for (let i = 1; i < points.length; i++) chunks.push(bytes.subarray(points[i - 1]!, points[i]!));
        expect(diffFrames(decodeAll(chunks), stream)).toBeNull();
      }),
      { numRuns: 200 },
    );
  });

  it('decodes random frame sequences under random chunkings (property)', () => {
    const frameArb: fc.Arbitrary<Frame> = fc
      .record({
        type: fc.integer({ min: 1, max: MAX_TYPE }),
        flags: fc.nat({ max: 0xff }).map((f) => f & KNOWN_FLAGS),
        src: fc.nat({ max: 0xffffffff }),
        dst: fc.nat({ max: 0xffffffff }),
        seq: fc.nat({ max: 0xffffffff }),
        ack: fc.nat({ max: 0xffffffff }),
        size: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 5000 })),
        salt: fc.nat({ max: 255 }),
      })
      .map(({ type, size, salt, ...rest }) => {
        const t = type as FrameTypeValue;
        const len = t === FrameType.DATA ? size : PAYLOAD_TYPES.includes(t) ? Math.min(size, MAX_CONTROL_PAYLOAD) : 0;
        return frame(t, pattern(len, salt), rest);
      });
    fc.assert(
      fc.property(fc.array(frameArb, { maxLength: 12 }), fc.array(fc.integer({ min: 0, max: 2000 }), { maxLength: 30 }), (frames, sizes) => {
        const all = Buffer.concat(frames.map(encodeFrame));
        const chunks: Buffer[] = [];
        let off = 0;
        for (const s of sizes) {
          if (off >= all.length) break;
          chunks.push(all.subarray(off, off + s));
          off += s;
        }
        chunks.push(all.subarray(off));
        const decoder = new FrameDecoder();
        expect(diffFrames(decodeAll(chunks, decoder), frames)).toBeNull();
        expect(decoder.bufferedBytes).toBe(0);
      }),
      { numRuns: 200 },
    );
  });
});

// ---- zero copy --------------------------------------------------------------------------------

describe('FrameDecoder zero-copy payloads', () => {
  /** Copies `bytes` into a fresh, unpooled ArrayBuffer. */
  function ownBuffer(bytes: Buffer): Buffer {
    const b = Buffer.alloc(bytes.length);
    bytes.copy(b);
    return b;
  }

  it('slices payloads of frames wholly inside one chunk', () => {
    const frames = [frame(FrameType.DATA, pattern(10, 1)), frame(FrameType.PING, pattern(4, 2)), frame(FrameType.DATA, pattern(3000, 3))];
    const chunk = ownBuffer(Buffer.concat(frames.map(encodeFrame)));
    const out = new FrameDecoder().push(chunk);
    expect(diffFrames(out, frames)).toBeNull();
    let off = 0;
    for (let i = 0; i < frames.length; i++) {
      const p = out[i]!.payload;
      expect(p.buffer).toBe(chunk.buffer);
      expect(p.byteOffset).toBe(chunk.byteOffset + off + HEADER_SIZE);
      off += frameSize(frames[i]!);
    }
  });

  it('slices payloads of whole frames that follow a frame straddling the previous chunk', () => {
    const a = frame(FrameType.DATA, pattern(500, 1), { seq: 0 });
    const b = frame(FrameType.DATA, pattern(700, 2), { seq: 500 });
    const c = frame(FrameType.DATA, pattern(900, 3), { seq: 1200 });
    const d = frame(FrameType.DATA, pattern(100, 4), { seq: 2100 });
    const bytes = Buffer.concat([a, b, c, d].map(encodeFrame));
    const cut1 = 300; // inside a's payload
    const cut2 = frameSize(a) + frameSize(b) + frameSize(c) + 10; // inside d's header
    const chunk1 = ownBuffer(bytes.subarray(0, cut1));
    const chunk2 = ownBuffer(bytes.subarray(cut1, cut2));
    const chunk3 = ownBuffer(bytes.subarray(cut2));
    const decoder = new FrameDecoder();
    expect(decoder.push(chunk1)).toEqual([]);
    const out = decoder.push(chunk2);
    expect(diffFrames(out, [a, b, c])).toBeNull();
    expect(out[1]!.payload.buffer).toBe(chunk2.buffer);
    expect(out[1]!.payload.byteOffset).toBe(frameSize(a) - cut1 + HEADER_SIZE);
    expect(out[2]!.payload.buffer).toBe(chunk2.buffer);
    expect(out[2]!.payload.byteOffset).toBe(frameSize(a) + frameSize(b) - cut1 + HEADER_SIZE);
    const rest = decoder.push(chunk3);
    expect(diffFrames(rest, [d])).toBeNull();
  });
});

// ---- rejection ----------------------------------------------------------------------------

describe('FrameDecoder rejects malformed input', () => {
  /** Checks `header` is rejected with `code` both in one chunk and fed byte by byte (on the 24th byte). */
  function expectRejected(header: Buffer, code: ErrorCodeValue, options = {}): void {
    expectFrameError(() => new FrameDecoder(options).push(header), code);
    // Preceded by a valid frame in the same chunk.
    expectFrameError(() => new FrameDecoder(options).push(Buffer.concat([encodeFrame(ONE_OF_EACH[1]!), header])), code);
    // Byte by byte: nothing thrown before the header is complete.
    const d = new FrameDecoder(options);
    for (let i = 0; i < HEADER_SIZE - 1; i++) expect(d.push(header.subarray(i, i + 1))).toEqual([]);
    expectFrameError(() => d.push(header.subarray(HEADER_SIZE - 1)), code);
  }

  it.each([0, 2, 255])('rejects wire version %i with BAD_FRAME', (version) => {
    const err = expectFrameError(() => new FrameDecoder().push(rawHeader({ version })), ErrorCode.BAD_FRAME);
    expect(err.message).toContain(`version ${version}`);
    expectRejected(rawHeader({ version }), ErrorCode.BAD_FRAME);
  });

  it.each([1, 0x80, 0xff])('rejects a reserved byte of %i with BAD_FRAME', (reserved) => {
    expectRejected(rawHeader({ reserved }), ErrorCode.BAD_FRAME);
  });

  // 0, the first type past the defined range and 255 (and 10, while it is undefined).
  it.each([...new Set([0, 10, MAX_TYPE + 1, 255])].filter((t) => !(Object.values(FrameType) as number[]).includes(t)))('rejects unknown frame type %i with BAD_FRAME', (type) => {
    const err = expectFrameError(() => new FrameDecoder().push(rawHeader({ type })), ErrorCode.BAD_FRAME);
    expect(err.message).toContain(`type ${type}`);
    expectRejected(rawHeader({ type }), ErrorCode.BAD_FRAME);
  });

  const unknownBits = 0xff & ~KNOWN_FLAGS;
  const lowestUnknown = unknownBits & -unknownBits;
  it.each([lowestUnknown, lowestUnknown | KNOWN_FLAGS, 0x80, unknownBits, 0xff])('rejects unknown flag bits %i with BAD_FRAME', (flags) => {
    for (const type of Object.values(FrameType)) {
      const length = PAYLOAD_TYPES.includes(type) ? 4 : 0;
      expectRejected(rawHeader({ type, flags, length }), ErrorCode.BAD_FRAME);
    }
  });

  it('accepts every combination of the known flag bits on every type', () => {
    for (const type of Object.values(FrameType)) {
      for (let flags = 0; flags <= 0xff; flags++) {
        if ((flags & ~KNOWN_FLAGS) === 0) expect(new FrameDecoder().push(rawHeader({ type, flags }))).toHaveLength(1);
      }
    }
  });

  it('rejects DATA longer than maxPayload with FRAME_TOO_LARGE as soon as the header arrives', () => {
    expectRejected(rawHeader({ length: 1001 }), ErrorCode.FRAME_TOO_LARGE, { maxPayload: 1000 });
    expectRejected(rawHeader({ length: DEFAULT_MAX_PAYLOAD + 1 }), ErrorCode.FRAME_TOO_LARGE);
    expectRejected(rawHeader({ length: 0xffffffff }), ErrorCode.FRAME_TOO_LARGE);
    const err = expectFrameError(() => new FrameDecoder({ maxPayload: 1000 }).push(rawHeader({ length: 1001 })), ErrorCode.FRAME_TOO_LARGE);
    expect(err.message).toContain('1001');
    expect(err.message).toContain('1000');
  });

  it('waits for the payload of DATA exactly at maxPayload instead of rejecting it', () => {
    const d = new FrameDecoder({ maxPayload: 1000 });
    expect(d.push(rawHeader({ length: 1000 }))).toEqual([]);
    expect(d.bufferedBytes).toBe(HEADER_SIZE);
    const out = d.push(pattern(1000));
    expect(out).toHaveLength(1);
    expect(out[0]!.payload.equals(pattern(1000))).toBe(true);
  });

  it('limits HELLO, PING and PONG to 256 bytes regardless of maxPayload', () => {
    for (const type of [FrameType.HELLO, FrameType.PING, FrameType.PONG]) {
      expectRejected(rawHeader({ type, length: MAX_CONTROL_PAYLOAD + 1 }), ErrorCode.FRAME_TOO_LARGE);
      expectRejected(rawHeader({ type, length: 0xffffffff }), ErrorCode.FRAME_TOO_LARGE);
      expectRejected(rawHeader({ type, length: MAX_CONTROL_PAYLOAD + 1 }), ErrorCode.FRAME_TOO_LARGE, { maxPayload: 10 * DEFAULT_MAX_PAYLOAD });
    }
  });

  it('rejects SYNC, SYNC_ACK, FIN, RST, CREDIT (every control type) with a nonzero length as BAD_FRAME', () => {
    expect(CONTROL_TYPES).toEqual(expect.arrayContaining([FrameType.SYNC, FrameType.SYNC_ACK, FrameType.FIN, FrameType.RST, FrameType.CREDIT]));
    for (const type of CONTROL_TYPES) {
      for (const length of [1, 24, 0xffffffff]) expectRejected(rawHeader({ type, length }), ErrorCode.BAD_FRAME);
      expect(new FrameDecoder().push(rawHeader({ type, length: 0 }))).toHaveLength(1);
    }
  });

  it('keeps failing after an error, even on valid input', () => {
    const d = new FrameDecoder();
    expectFrameError(() => d.push(rawHeader({ version: 9 })), ErrorCode.BAD_FRAME);
    expectFrameError(() => d.push(encodeFrame(ONE_OF_EACH[1]!)), ErrorCode.BAD_FRAME);
    expectFrameError(() => d.push(Buffer.alloc(0)), ErrorCode.BAD_FRAME);
    expect(d.bufferedBytes).toBeLessThanOrEqual(HEADER_SIZE);
  });

  it('keeps failing after an error raised on the slow (straddling) path', () => {
    const d = new FrameDecoder({ maxPayload: 100 });
    const valid = encodeFrame(frame(FrameType.DATA, pattern(50)));
    expect(d.push(valid.subarray(0, 30))).toEqual([]);
    expectFrameError(() => d.push(Buffer.concat([valid.subarray(30), rawHeader({ length: 101 })])), ErrorCode.FRAME_TOO_LARGE);
    expectFrameError(() => d.push(valid), ErrorCode.BAD_FRAME);
  });

  it('throws only NetChannelErrors on random bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 20 }), (arr, sizes) => {
        checkRandomInput(Buffer.from(arr), sizes);
      }),
      { numRuns: 200 },
    );
  });

  it('throws only NetChannelErrors on mutated valid streams (property)', () => {
    const valid = Buffer.concat(ONE_OF_EACH.map(encodeFrame));
    fc.assert(
      fc.property(
        fc.array(fc.record({ at: fc.nat({ max: valid.length - 1 }), value: fc.nat({ max: 255 }) }), { minLength: 1, maxLength: 4 }),
        fc.array(fc.integer({ min: 1, max: 300 }), { maxLength: 20 }),
        (mutations, sizes) => {
          const bytes = Buffer.from(valid);
          for (const m of mutations) bytes[m.at] = m.value;
          checkRandomInput(bytes, sizes);
        },
      ),
      { numRuns: 200 },
    );
  });

  /** Feeds `bytes` in chunks of `sizes` (rest in one chunk); only FrameErrors may escape. */
  function checkRandomInput(bytes: Buffer, sizes: readonly number[]): void {
    const d = new FrameDecoder({ maxPayload: 4096 });
    const out: Frame[] = [];
    let off = 0;
    try {
      for (const s of [...sizes, bytes.length]) {
        if (off >= bytes.length) break;
        d.push(bytes.subarray(off, off + s), out);
        off += s;
      }
    } catch (err) {
      expect(err).toBeInstanceOf(NetChannelError);
      expect(err).toBeInstanceOf(FrameError);
      expect([ErrorCode.BAD_FRAME, ErrorCode.FRAME_TOO_LARGE]).toContain((err as NetChannelError).code);
    }
    for (const f of out) {
      expect(f.type).toBeGreaterThanOrEqual(FrameType.HELLO);
      expect(f.type).toBeLessThanOrEqual(MAX_TYPE);
      expect(f.flags & ~KNOWN_FLAGS).toBe(0);
      expect(f.payload.length).toBeLessThanOrEqual(f.type === FrameType.DATA ? 4096 : MAX_CONTROL_PAYLOAD);
    }
  }
});

describe('FrameDecoder splitData mode', () => {
  it('hands up straddling DATA payloads as zero-copy pieces whose bytes and offsets reassemble exactly', () => {
    const payload = Buffer.alloc(70_000);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff;
    const frames: Frame[] = [
      { type: FrameType.DATA, flags: 0, src: 70000, dst: 80, seq: 0xfffffff0, ack: 0, payload },
      { type: FrameType.CREDIT, flags: 0, src: 80, dst: 70000, seq: 5, ack: 9, payload: Buffer.alloc(0) },
      { type: FrameType.DATA, flags: 0, src: 70000, dst: 80, seq: 12345, ack: 0, payload: payload.subarray(0, 100) },
    ];
    const wire = Buffer.concat(frames.map(encodeFrame));
    for (const size of [1, 7, 24, 1000, 65536]) {
      const dec = new FrameDecoder({ splitData: true });
      const out: Frame[] = [];
      for (let off = 0; off < wire.length; off += size) dec.push(wire.subarray(off, off + size), out);
      const data = out.filter((f) => f.type === FrameType.DATA);
      expect(out.filter((f) => f.type === FrameType.CREDIT)).toHaveLength(1);
      // Pieces of the first frame: contiguous offsets (mod 2^32), bytes equal, no empty piece.
      let seq = 0xfffffff0;
      const first: Buffer[] = [];
      for (const f of data) {
        if (f.seq === 12345 && first.reduce((a, b) => a + b.length, 0) === payload.length) break;
        expect(f.seq).toBe(seq);
        expect(f.payload.length).toBeGreaterThan(0);
        first.push(f.payload);
        seq = (seq + f.payload.length) >>> 0;
      }
      expect(Buffer.concat(first).equals(payload), `chunk size ${size}`).toBe(true);
      expect(dec.bufferedBytes).toBe(0);
    }
  });

  it('keeps control frames whole and rejects malformed input exactly as without splitting', () => {
    const dec = new FrameDecoder({ splitData: true, maxPayload: 1000 });
    const big = encodeFrame({ type: FrameType.DATA, flags: 0, src: 1, dst: 2, seq: 0, ack: 0, payload: Buffer.alloc(1001) });
    expect(() => dec.push(big.subarray(0, 24))).toThrow(expect.objectContaining({ code: 'NETCHANNEL_ERR_FRAME_TOO_LARGE' }));
  });
});
