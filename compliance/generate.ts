/**
 * Deterministic test traffic for the compliance suite: a seeded PRNG, DATA frames with
 * random header fields and sizes, control frames of every non-HELLO type.
 * @packageDocumentation
 */
import { controlFrame, FrameFlag, FrameType, HEADER_SIZE, ResetReason, type Frame } from '../netdriver/frame.js';

/** Deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

export function randomBytes(rand: () => number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let i = 0;
  for (; i + 4 <= n; i += 4) b.writeUInt32LE(rand(), i);
  for (; i < n; i++) b[i] = rand() & 0xff;
  return b;
}

/** `count` DATA frames with random header fields, distinct seq and payload sizes 0..maxSize. */
export function dataFrames(seed: number, count: number, maxSize: number, seqBase = 0): Frame[] {
  const rand = prng(seed);
  const frames: Frame[] = [];
  for (let i = 0; i < count; i++) {
    const size = rand() % (maxSize + 1);
    frames.push({
      type: FrameType.DATA,
      flags: rand() & (FrameFlag.LATENCY | FrameFlag.REPLY),
      src: rand(),
      dst: rand(),
      seq: (seqBase + i) >>> 0,
      ack: rand(),
      payload: randomBytes(rand, size),
    });
  }
  return frames;
}

/** Control frames of every non-HELLO type, cycling, with u32 extremes in their fields. */
export function controlFrames(seed: number, count: number): Frame[] {
  const rand = prng(seed);
  const frames: Frame[] = [];
  for (let i = 0; i < count; i++) {
    switch (i % 7) {
      case 0:
        frames.push(controlFrame(FrameType.SYNC, rand(), 0xffffffff, i, rand(), FrameFlag.LATENCY));
        break;
      case 1:
        frames.push(controlFrame(FrameType.SYNC_ACK, 0xffffffff, rand(), 0, 0x80000000));
        break;
      case 2:
        frames.push(controlFrame(FrameType.FIN, 0x10000, 0xffff, 0xffffffff, 0));
        break;
      case 3:
        frames.push(controlFrame(FrameType.CREDIT, rand(), rand(), rand(), rand()));
        break;
      case 4:
        frames.push(controlFrame(FrameType.RST, 1, 2, 0, ResetReason.REFUSED));
        break;
      case 5:
        frames.push({ type: FrameType.PING, flags: 0, src: 0, dst: 0, seq: i, ack: 0, payload: randomBytes(rand, 1 + (rand() % 64)) });
        break;
      default:
        frames.push({ type: FrameType.PONG, flags: 0, src: 0, dst: 0, seq: i, ack: 0, payload: randomBytes(rand, 8) });
    }
  }
  return frames;
}

/** Interleaves one control frame after every `every` data frames. */
export function interleave(data: readonly Frame[], control: readonly Frame[], every: number): Frame[] {
  const out: Frame[] = [];
  let c = 0;
  data.forEach((f, i) => {
    out.push(f);
    if ((i + 1) % every === 0 && c < control.length) out.push(control[c++]!);
  });
  while (c < control.length) out.push(control[c++]!);
  return out;
}

export function wireSize(frames: readonly Frame[]): number {
  let n = 0;
  for (const f of frames) n += HEADER_SIZE + f.payload.length;
  return n;
}
