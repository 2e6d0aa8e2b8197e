/**
 * Copies of sent segments, kept for retransmission until acknowledged, are carved out
 * of large reusable slabs: one allocation per segment (and fresh pages to fault in)
 * costs far more than the copy itself. Each slab counts the segments carved from it;
 * when all are acknowledged it goes back to a small free list. Reusing acknowledged
 * bytes is safe: any copy of them still queued on a slow channel is a duplicate the
 * receiver drops by sequence number.
 *
 * The free list is bounded in bytes ({@link MAX_FREE_SLAB_BYTES}) and trimmed: a slab
 * (free, or the current one with nothing retained in it) that saw no use for
 * {@link SLAB_IDLE_MS} is dropped, so memory returns to the allocator after a burst.
 * @packageDocumentation
 */

/** Size of one slab. */
export const SLAB_BYTES = 4 * 1024 * 1024;
/** Larger copies get their own buffer (not recycled). */
const MAX_CARVE = SLAB_BYTES / 4;
/** Bytes of free slabs kept for reuse (process-wide): 16 MiB, 4 slabs. */
export const MAX_FREE_SLAB_BYTES = 16 * 1024 * 1024;
/** A slab unused this long is dropped (free ones, and an empty current one), ms. */
export const SLAB_IDLE_MS = 1000;

/** A slab of retained segment copies. */
export class Slab {
  readonly buf = Buffer.allocUnsafeSlow(SLAB_BYTES);
  used = 0;
  refs = 0;
  /** Trim epoch of the last carve or recycle. */
  epoch = 0;
}

let current: Slab | null = null;
const free: Slab[] = [];
/** Incremented by every trim: a slab whose epoch is older saw no use for a whole period. */
let epoch = 0;
let trimTimer: NodeJS.Timeout | null = null;

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
    scheduleTrim();
  }
  const slab = current;
  src.copy(slab.buf, slab.used);
  const payload = slab.buf.subarray(slab.used, slab.used + n);
  slab.used += (n + 7) & ~7; // keep views 8-byte aligned
  slab.refs++;
  slab.epoch = epoch;
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
  slab.epoch = epoch;
  if ((free.length + 1) * SLAB_BYTES <= MAX_FREE_SLAB_BYTES) {
    free.push(slab);
    scheduleTrim();
  }
}

function scheduleTrim(): void {
  if (trimTimer !== null) return;
  trimTimer = setTimeout(trimSlabs, SLAB_IDLE_MS);
  trimTimer.unref();
}

/**
 * Drops every slab that saw no use since the previous trim (free slabs, and the
 * current slab when nothing is retained in it). Runs by itself every
 * {@link SLAB_IDLE_MS} while slabs exist; exported for tests and tools.
 */
export function trimSlabs(): void {
  trimTimer = null;
  let keep = 0;
  for (const s of free) if (s.epoch === epoch) free[keep++] = s;
  free.length = keep;
  if (current !== null && current.refs === 0 && current.epoch !== epoch) current = null;
  epoch++;
  if (free.length > 0 || current !== null) scheduleTrim();
}

/** Slab pool occupancy (process-wide), for tests and diagnostics. */
export function slabStats(): { freeSlabs: number; freeBytes: number; current: boolean } {
  return { freeSlabs: free.length, freeBytes: free.length * SLAB_BYTES, current: current !== null };
}
