/**
 * Message framing of the RPC layer, on top of a virtual socket's byte stream:
 *
 * | bytes | field |
 * | --- | --- |
 * | 4 | payload length, u32 big-endian |
 * | 4 | id, u32 big-endian (matches a response to its request; 0 for oneway) |
 * | 1 | kind: {@link MessageKind} |
 * | n | payload |
 * @packageDocumentation
 */

/** Kind byte of a message frame. */
export const MessageKind = {
  /** A request; the peer answers with a RESPONSE or ERROR of the same id. */
  REQUEST: 0,
  /** A successful answer; the payload is the handler's result. */
  RESPONSE: 1,
  /** A failed answer; the payload is UTF-8 JSON `{ "message": string, "code"?: string }`. */
  ERROR: 2,
  /** A message that gets no answer. */
  ONEWAY: 3,
} as const;

/** One of {@link MessageKind}. */
export type MessageKindValue = (typeof MessageKind)[keyof typeof MessageKind];

/** Bytes of a frame header. */
export const HEADER_BYTES = 9;

/** A decoded frame header. */
export interface FrameHeader {
  length: number;
  id: number;
  kind: number;
}

/** Encodes a frame header. */
export function encodeHeader(length: number, id: number, kind: MessageKindValue): Buffer {
  const h = Buffer.allocUnsafe(HEADER_BYTES);
  h.writeUInt32BE(length, 0);
  h.writeUInt32BE(id >>> 0, 4);
  h[8] = kind;
  return h;
}

/**
 * A queue of received chunks that hands out exact byte counts, copying only when a
 * request spans chunks.
 */
export class ChunkQueue {
  private chunks: Buffer[] = [];
  private head = 0;
  /** Bytes queued. */
  size = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  /** Removes and returns the next `n` bytes (`n` ≤ {@link size}). */
  take(n: number): Buffer {
    this.size -= n;
    const first = this.chunks[this.head]!;
    if (first.length >= n) {
      if (first.length === n) this.shift();
      else this.chunks[this.head] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[this.head]!;
      const k = Math.min(c.length, n - filled);
      c.copy(out, filled, 0, k);
      filled += k;
      if (k === c.length) this.shift();
      else this.chunks[this.head] = c.subarray(k);
    }
    return out;
  }

  /** Drops everything. */
  clear(): void {
    this.chunks = [];
    this.head = 0;
    this.size = 0;
  }

  private shift(): void {
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }
}

/** Decodes a frame header from exactly {@link HEADER_BYTES} bytes. */
export function decodeHeader(b: Buffer): FrameHeader {
  return { length: b.readUInt32BE(0), id: b.readUInt32BE(4), kind: b[8]! };
}
