/**
 * A virtual socket's transmit queue: bytes the application wrote that have not been
 * sent yet, taken off in segment-sized pieces.
 * @packageDocumentation
 */
import { COPY_WRITES_BELOW } from './ack-gate.js';
import { retainCopy, type Slab } from './retain-slab.js';

/** Written, unsent bytes of one socket. */
export class TxQueue {
  private chunks: Buffer[] = [];
  private offset = 0;
  /** Bytes queued. */
  bytes = 0;
  /** Slab of the payload {@link take} just returned (null: its own buffer). */
  takenSlab: Slab | null = null;

  constructor(
    /**
     * Retain every written Buffer by reference, also the small ones (see
     * {@link COPY_WRITES_BELOW}): the caller must not modify a Buffer after writing it,
     * even after the write callback.
     */
    private readonly zeroCopy: boolean,
  ) {}

  /** Queues a written chunk (empty chunks are ignored). */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.bytes += chunk.length;
  }

  /** Drops everything queued. */
  clear(): void {
    this.chunks = [];
    this.offset = 0;
    this.bytes = 0;
  }

  /**
   * Takes `n` (≤ {@link bytes}) bytes off the queue. The result is kept for
   * retransmission until acknowledged. A piece of a written chunk of at least
   * {@link COPY_WRITES_BELOW} bytes is a view of the caller's Buffer (its write callback
   * waits for the acknowledgement, see `AckGate`); a piece of a smaller chunk is copied
   * unless the queue was made with `zeroCopy`; a piece spanning chunks is a new Buffer.
   */
  take(n: number): Buffer {
    const head = this.chunks[0]!;
    const avail = head.length - this.offset;
    if (avail >= n) {
      const slice = head.subarray(this.offset, this.offset + n);
      let out = slice;
      this.takenSlab = null;
      if (!this.zeroCopy && head.length < COPY_WRITES_BELOW) {
        const r = retainCopy(slice);
        out = r.payload;
        this.takenSlab = r.slab;
      }
      this.offset += n;
      if (this.offset === head.length) {
        this.chunks.shift();
        this.offset = 0;
      }
      this.bytes -= n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    this.takenSlab = null;
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length - this.offset, n - filled);
      c.copy(out, filled, this.offset, this.offset + k);
      filled += k;
      this.offset += k;
      if (this.offset === c.length) {
        this.chunks.shift();
        this.offset = 0;
      }
    }
    this.bytes -= n;
    return out;
  }
}
