/**
 * Frame batches: every frame of one event-loop turn encoded back to back (24-byte
 * header + payload, the wire format) into one transferable ArrayBuffer, and the
 * trusted parser for batches made by this module.
 * @packageDocumentation
 */
import { ErrorCode, FrameError } from '../errors/index.js';
import { encodeHeader, readFrame } from '../netdriver/codec.js';
import { frameSize, HEADER_SIZE, type Frame } from '../netdriver/frame.js';

/** Wire size of `frames` (header + payload each). */
export function wireBytes(frames: readonly Frame[]): number {
  let n = 0;
  for (const f of frames) n += frameSize(f);
  return n;
}

/**
 * Encodes `frames` into a new, unpooled ArrayBuffer of exactly `total` bytes (the
 * caller knows it), safe to transfer: nothing else references its memory.
 */
export function packFrames(frames: readonly Frame[], total: number): ArrayBuffer {
  const out = Buffer.allocUnsafeSlow(total);
  let off = 0;
  for (const f of frames) {
    encodeHeader(f, out, off);
    off += HEADER_SIZE;
    const n = f.payload.length;
    if (n > 0) {
      f.payload.copy(out, off);
      off += n;
    }
  }
  if (off !== total) throw new FrameError(ErrorCode.BAD_FRAME, `packFrames: encoded ${off} bytes, expected ${total}`);
  return out.buffer as ArrayBuffer;
}

/**
 * Splits a batch made by {@link packFrames} into frames whose payloads are zero-copy
 * views of it. Trusted input: the sending side validated every frame with a
 * FrameDecoder; a truncated batch still throws a FrameError (`NETCHANNEL_ERR_BAD_FRAME`) instead of misreading.
 */
export function parseBatch(ab: ArrayBuffer): Frame[] {
  const buf = Buffer.from(ab);
  const out: Frame[] = [];
  let off = 0;
  while (off < buf.length) {
    if (buf.length - off < HEADER_SIZE) throw new FrameError(ErrorCode.BAD_FRAME, `batch ends inside a frame header at byte ${off} of ${buf.length}`);
    const len = buf.readUInt32BE(off + 20);
    const start = off + HEADER_SIZE;
    if (start + len > buf.length) throw new FrameError(ErrorCode.BAD_FRAME, `batch ends inside a ${len}-byte payload at byte ${start} of ${buf.length}`);
    out.push(readFrame(buf, off, buf.subarray(start, start + len)));
    off = start + len;
  }
  return out;
}
