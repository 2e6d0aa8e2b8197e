/**
 * Frame encoder and incremental decoder. The decoder is the security boundary: it
 * accepts frames split across transport chunks at any byte and throws a
 * {@link FrameError} on malformed input (the caller closes only that channel).
 * @packageDocumentation
 */
import { ErrorCode, FrameError } from '../errors/index.js';
import { FrameType, HEADER_SIZE, KNOWN_FLAGS, WIRE_VERSION, type Frame, type FrameTypeValue } from './frame.js';

/** Default largest accepted payload: 1 MiB. */
export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

/** Largest payload a HELLO, PING or PONG may carry. */
export const MAX_CONTROL_PAYLOAD = 1024;

const MAX_TYPE = FrameType.ACK;
const EMPTY_PAYLOAD = Buffer.alloc(0);

/** Writes the 24-byte header of `frame` into `target` at `offset` (default: a new Buffer). */
export function encodeHeader(frame: Frame, target: Buffer = Buffer.allocUnsafe(HEADER_SIZE), offset = 0): Buffer {
  target[offset] = frame.type;
  target[offset + 1] = frame.flags;
  target[offset + 2] = WIRE_VERSION;
  target[offset + 3] = 0;
  target.writeUInt32BE(frame.src >>> 0, offset + 4);
  target.writeUInt32BE(frame.dst >>> 0, offset + 8);
  target.writeUInt32BE(frame.seq >>> 0, offset + 12);
  target.writeUInt32BE(frame.ack >>> 0, offset + 16);
  target.writeUInt32BE(frame.payload.length, offset + 20);
  return target;
}

/** Encodes a whole frame into one contiguous Buffer (header then payload). */
export function encodeFrame(frame: Frame): Buffer {
  const out = Buffer.allocUnsafe(HEADER_SIZE + frame.payload.length);
  encodeHeader(frame, out, 0);
  frame.payload.copy(out, HEADER_SIZE);
  return out;
}

/** Options of {@link FrameDecoder}. */
export interface FrameDecoderOptions {
  /**
   * Largest accepted payload in bytes; a longer frame is rejected with
   * `NETCHANNEL_ERR_FRAME_TOO_LARGE` before any of its payload is buffered.
   * @default 1048576
   */
  maxPayload?: number;
  /**
   * Hand up a DATA payload that straddles input chunks in pieces (each a zero-copy
   * slice with `seq` advanced by the bytes before it) instead of copying it into one
   * buffer. Only for consumers that treat DATA as a byte range (the virtual-socket
   * layer); frame boundaries of DATA are then not preserved.
   * @default false
   */
  splitData?: boolean;
}

/**
 * Validates a header at `buf[off..off+24)` and returns the payload length.
 * @throws FrameError on any malformed field.
 */
function checkHeader(buf: Buffer, off: number, maxPayload: number): number {
  const type = buf[off]!;
  const flags = buf[off + 1]!;
  const version = buf[off + 2]!;
  if (version !== WIRE_VERSION) {
    throw new FrameError(ErrorCode.BAD_FRAME, `unsupported wire version ${version} (expected ${WIRE_VERSION})`);
  }
  if (buf[off + 3] !== 0) throw new FrameError(ErrorCode.BAD_FRAME, `reserved header byte is ${buf[off + 3]}, must be 0`);
  const length = buf.readUInt32BE(off + 20);
  checkFields(type, flags, length, maxPayload);
  return length;
}

/**
 * Validates a Frame object by the same rules the decoder applies to bytes — for
 * drivers that carry Frame objects instead of bytes (e.g. memory://).
 * @throws FrameError naming the bad field.
 */
export function validateFrame(frame: Frame, maxPayload = DEFAULT_MAX_PAYLOAD): void {
  checkFields(frame.type, frame.flags, frame.payload.length, maxPayload);
}

/** Type, flag and length rules shared by the byte decoder and {@link validateFrame}. */
function checkFields(type: number, flags: number, length: number, maxPayload: number): void {
  if (!(type >= FrameType.HELLO && type <= MAX_TYPE)) throw new FrameError(ErrorCode.BAD_FRAME, `unknown frame type ${type}`);
  if ((flags & ~KNOWN_FLAGS) !== 0) throw new FrameError(ErrorCode.BAD_FRAME, `unknown flag bits 0x${flags.toString(16)} on frame type ${type}`);
  if (type === FrameType.DATA) {
    if (length > maxPayload) {
      throw new FrameError(ErrorCode.FRAME_TOO_LARGE, `frame payload of ${length} bytes exceeds the limit of ${maxPayload} bytes`);
    }
  } else if (type === FrameType.HELLO || type === FrameType.PING || type === FrameType.PONG) {
    if (length > MAX_CONTROL_PAYLOAD) {
      throw new FrameError(ErrorCode.FRAME_TOO_LARGE, `frame type ${type} carries ${length} bytes, limit is ${MAX_CONTROL_PAYLOAD}`);
    }
  } else if (length !== 0) {
    throw new FrameError(ErrorCode.BAD_FRAME, `frame type ${type} must have no payload, has ${length} bytes`);
  }
}

/** Reads the header fields at `buf[off..off+24)` into a Frame with `payload` (no validation). */
export function readFrame(buf: Buffer, off: number, payload: Buffer): Frame {
  return {
    type: buf[off] as FrameTypeValue,
    flags: buf[off + 1]!,
    src: buf.readUInt32BE(off + 4),
    dst: buf.readUInt32BE(off + 8),
    seq: buf.readUInt32BE(off + 12),
    ack: buf.readUInt32BE(off + 16),
    payload,
  };
}

/**
 * Incremental decoder for byte-stream transports. Feed it chunks with {@link push};
 * it returns the frames completed so far. Payloads are zero-copy slices of the input
 * whenever a frame lies within one chunk.
 */
export class FrameDecoder {
  private readonly maxPayload: number;
  /** Unconsumed input chunks, oldest first. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Header of the frame whose payload is being collected, if any. */
  private header: Buffer | null = null;
  private need = 0;
  private failed = false;
  private readonly split: boolean;
  /** Split mode: the DATA frame whose remaining payload bytes are still arriving. */
  private partial: Frame | null = null;
  private partialLeft = 0;

  constructor(options: FrameDecoderOptions = {}) {
    this.maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    this.split = options.splitData ?? false;
  }

  /** Bytes received but not yet part of a complete frame. */
  get bufferedBytes(): number {
    return this.pendingBytes + (this.header ? HEADER_SIZE : 0) + (this.partial ? HEADER_SIZE : 0);
  }

  /**
   * Consumes `chunk` and returns every frame it completes.
   * @throws FrameError on malformed input; the decoder is unusable afterwards.
   */
  push(chunk: Buffer, out: Frame[] = []): Frame[] {
    if (this.failed) throw new FrameError(ErrorCode.BAD_FRAME, 'decoder already failed on earlier input');
    try {
      if (this.partial !== null) {
        chunk = this.feedPartial(chunk, out);
        if (chunk.length === 0) return out;
      }
      if (this.pendingBytes === 0 && this.header === null) return this.parseChunk(chunk, out);
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      this.parsePending(out);
      return out;
    } catch (err) {
      this.failed = true;
      this.pending = [];
      this.pendingBytes = 0;
      throw err;
    }
  }

  /** Fast path: parse directly from one chunk, keep only its tail. */
  private parseChunk(chunk: Buffer, out: Frame[]): Frame[] {
    let off = 0;
    const end = chunk.length;
    while (end - off >= HEADER_SIZE) {
      const len = checkHeader(chunk, off, this.maxPayload);
      if (end - off - HEADER_SIZE < len) {
        if (this.split && chunk[off] === FrameType.DATA) {
          this.partial = readFrame(chunk, off, EMPTY_PAYLOAD);
          this.partialLeft = len;
          this.feedPartial(chunk.subarray(off + HEADER_SIZE), out);
          return out;
        }
        break;
      }
      const start = off + HEADER_SIZE;
      out.push(readFrame(chunk, off, chunk.subarray(start, start + len)));
      off = start + len;
    }
    if (off < end) {
      const rest = chunk.subarray(off);
      this.pending.push(rest);
      this.pendingBytes = rest.length;
      this.parsePending(out);
    }
    return out;
  }

  /** Slow path: frames straddling chunk boundaries. */
  private parsePending(out: Frame[]): void {
    for (;;) {
      if (this.header === null) {
        if (this.pendingBytes < HEADER_SIZE) return;
        const header = this.take(HEADER_SIZE);
        this.need = checkHeader(header, 0, this.maxPayload);
        this.header = header;
      }
      if (this.pendingBytes < this.need) {
        if (this.split && this.header[0] === FrameType.DATA) {
          this.partial = readFrame(this.header, 0, EMPTY_PAYLOAD);
          this.partialLeft = this.need;
          this.header = null;
          const chunks = this.pending;
          this.pending = [];
          this.pendingBytes = 0;
          for (const c of chunks) this.feedPartial(c, out);
        }
        return;
      }
      const payload = this.take(this.need);
      out.push(readFrame(this.header, 0, payload));
      this.header = null;
      if (this.pendingBytes > 0 && this.pending.length === 1) {
        // Remaining bytes sit in one chunk: finish on the zero-copy path.
        const rest = this.pending[0]!;
        this.pending = [];
        this.pendingBytes = 0;
        this.parseChunk(rest, out);
        return;
      }
    }
  }

  /** Split mode: emits the next piece of the partial DATA frame; returns the unused rest. */
  private feedPartial(chunk: Buffer, out: Frame[]): Buffer {
    const p = this.partial!;
    const n = Math.min(this.partialLeft, chunk.length);
    if (n > 0) {
      out.push({ ...p, payload: chunk.subarray(0, n) });
      p.seq = (p.seq + n) >>> 0;
      this.partialLeft -= n;
    }
    if (this.partialLeft === 0) this.partial = null;
    return chunk.subarray(n);
  }

  /** Removes exactly `n` bytes from the front of the pending chunks. */
  private take(n: number): Buffer {
    const first = this.pending[0];
    if (n === 0) return Buffer.alloc(0);
    if (first !== undefined && first.length >= n) {
      const head = first.subarray(0, n);
      if (first.length === n) this.pending.shift();
      else this.pending[0] = first.subarray(n);
      this.pendingBytes -= n;
      return head;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    let used = 0; // whole chunks consumed; removed with one splice (shift per chunk is quadratic)
    while (filled < n) {
      const c = this.pending[used]!;
      const k = Math.min(c.length, n - filled);
      c.copy(out, filled, 0, k);
      filled += k;
      if (k === c.length) used++;
      else this.pending[used] = c.subarray(k);
    }
    this.pending.splice(0, used);
    this.pendingBytes -= n;
    return out;
  }
}
