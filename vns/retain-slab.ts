/**
 * Copies of sent segments, kept for retransmission until acknowledged, are carved out
 * of large reusable slabs: one allocation per segment (and fresh pages to fault in)
 * costs far more than the copy itself. Each slab counts the segments carved from it;
 * when all are acknowledged it goes back to a small free list. Reusing acknowledged
 * bytes is safe: any copy of them still queued on a slow channel is a duplicate the
 * receiver drops by sequence number.
 * @packageDocumentation
 */

/** Size of one slab. */
const SLAB_BYTES = 4 * 1024 * 1024;
/** Larger copies get their own buffer (not recycled). */
const MAX_CARVE = SLAB_BYTES / 4;
/** Free slabs kept for reuse (process-wide). */
const MAX_FREE = 16;

/** A slab of retained segment copies. */
export class Slab {
  readonly buf = Buffer.allocUnsafeSlow(SLAB_BYTES);
  used = 0;
  refs = 0;
}

let current: Slab | null = null;
const free: Slab[] = [];

/** A retained copy and the slab it lives in (null when it has its own buffer). */
export interface Retained {
  payload: Buffer;
  slab: Slab | null;
}

/** Copies `src` into a slab; call {@link releaseRetained} when it is acknowledged. */
export function retainCopy(src: Buffer): Retained {
  const n = src.length;
  if (n > MAX_CARVE) return { payload: Buffer.from(src), slab: null };
  if (current === null || current.used + n > SLAB_BYTES) {
    const full = current;
    current = free.pop() ?? new Slab();
    if (full !== null && full.refs === 0) recycle(full);
  }
  const slab = current;
  src.copy(slab.buf, slab.used);
  const payload = slab.buf.subarray(slab.used, slab.used + n);
  slab.used += (n + 7) & ~7; // keep views 8-byte aligned
  slab.refs++;
  return { payload, slab };
}

/** The segment carved from `slab` was acknowledged (or dropped). */
export function releaseRetained(slab: Slab | null): void {
  if (slab === null) return;
  slab.refs--;
  if (slab.refs === 0 && slab !== current) recycle(slab);
}

function recycle(slab: Slab): void {
  slab.used = 0;
  if (free.length < MAX_FREE) free.push(slab);
}
