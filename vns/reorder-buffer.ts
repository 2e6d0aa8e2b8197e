/**
 * Receive-side reorder buffer: segments of one virtual socket may arrive out of order
 * when they travel on several channels; this holds early ones until the gap fills.
 * @packageDocumentation
 */
import { seqAdd, seqDiff } from './seq.js';

/**
 * Memory charged per held segment on top of its bytes (the Buffer object, the map entry,
 * the allocation header): without it, one-byte segments would hold ~200 bytes each
 * while counting one against the reorder limits.
 */
export const SEGMENT_OVERHEAD = 256;
/** Held slices up to this size that use under half of their buffer are copied. */
export const COPY_MAX = 4096;

/** What a held segment is charged: its bytes or half the buffer it keeps alive, plus the overhead. */
function charge(b: Buffer): number {
  return Math.max(b.length, b.buffer.byteLength >>> 1) + SEGMENT_OVERHEAD;
}

/**
 * Segments waiting for the bytes before them. Memory is bounded by the credit window.
 *
 * A held segment is usually a slice of a transport read buffer (up to 64 KiB), which it
 * keeps alive whole. So that what the reorder limits count ({@link cost}) stays within 2×
 * of the memory held, a small slice ({@link COPY_MAX} bytes or less) that uses under half
 * of its buffer is copied, and a larger one is charged at least half of its buffer: a
 * peer cannot make a tiny held piece pin a large read buffer. (Larger slices are not
 * copied: the copies, interleaved with read buffers in the allocator's heap, measurably
 * raised the RSS a reorder flood leaves behind.)
 */
export class ReorderBuffer {
  /** Created on first use: most sockets never receive out of order. */
  private segs: Map<number, Buffer> | null = null;
  private heldBytes = 0;
  private heldCost = 0;

  private get map(): Map<number, Buffer> {
    return (this.segs ??= new Map());
  }

  /** Bytes held. */
  get bytes(): number {
    return this.heldBytes;
  }

  /** Number of held segments. */
  get size(): number {
    return this.segs?.size ?? 0;
  }

  /**
   * What the held segments are charged against the reorder limits: per segment its bytes
   * (or half the read buffer it keeps alive, when more) plus {@link SEGMENT_OVERHEAD}.
   */
  get cost(): number {
    return this.heldCost;
  }

  /**
   * Stores a segment that starts after `next` (the next in-order offset).
   * Of two segments at the same offset the longer is kept (duplicates are dropped).
   */
  insert(seq: number, payload: Buffer): void {
    const held = this.map.get(seq);
    if (payload.length === 0 || (held !== undefined && held.length >= payload.length)) return;
    if (payload.length <= COPY_MAX && payload.buffer.byteLength > 2 * payload.length) {
      const copy = Buffer.allocUnsafeSlow(payload.length);
      payload.copy(copy);
      payload = copy;
    }
    this.map.set(seq, payload);
    this.heldBytes += payload.length - (held?.length ?? 0);
    this.heldCost += charge(payload) - (held === undefined ? 0 : charge(held));
  }

  /**
   * Removes and returns the segment that continues the stream at `next`, trimming a
   * segment that overlaps bytes already delivered. Returns undefined when there is a gap.
   */
  take(next: number): Buffer | undefined {
    if (this.segs === null || this.segs.size === 0) return undefined;
    const exact = this.map.get(next);
    if (exact !== undefined) {
      this.map.delete(next);
      this.heldBytes -= exact.length;
      this.heldCost -= charge(exact);
      return exact;
    }
    if (this.map.size === 0) return undefined;
    // Rare: a retransmission cut differently overlaps `next`; scan for it and drop stale ones.
    for (const [seq, buf] of this.map) {
      const d = seqDiff(next, seq);
      if (d <= 0) continue;
      this.map.delete(seq);
      this.heldBytes -= buf.length;
      this.heldCost -= charge(buf);
      if (d < buf.length) return buf.subarray(d);
    }
    return undefined;
  }

  /**
   * Drops the bytes held twice: segments that overlap because a retransmission (or a
   * reinjection on another channel) was cut at other offsets than the first copy —
   * honest duplicates, which otherwise count double. Trims each segment to start where
   * the one before it ends, drops those fully covered. O(n log n); call it only when
   * the held bytes exceed what was granted.
   */
  dedupe(next: number): void {
    if (this.segs === null || this.segs.size < 2) return;
    const sorted = [...this.segs].sort((a, b) => seqDiff(a[0], next) - seqDiff(b[0], next));
    this.segs.clear();
    this.heldBytes = 0;
    this.heldCost = 0;
    let end = next;
    for (let [seq, buf] of sorted) {
      const skip = seqDiff(end, seq);
      if (skip >= buf.length) continue; // covered by the segments before it
      if (skip > 0) {
        buf = buf.subarray(skip);
        seq = end;
      }
      this.segs.set(seq, buf);
      this.heldBytes += buf.length;
      this.heldCost += charge(buf);
      end = seqAdd(seq, buf.length);
    }
  }

  /** Drops everything. */
  clear(): void {
    this.segs?.clear();
    this.heldBytes = 0;
    this.heldCost = 0;
  }

  /** Offset just past the furthest held byte, or `next` when empty. */
  end(next: number): number {
    let end = next;
    for (const [seq, buf] of this.map) {
      const e = seqAdd(seq, buf.length);
      if (seqDiff(e, end) > 0) end = e;
    }
    return end;
  }
}
