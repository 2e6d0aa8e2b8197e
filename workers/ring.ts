/**
 * A single-producer/single-consumer byte ring in a SharedArrayBuffer, for the `'shared'`
 * hand-off between the main thread and a channel worker. One ring per direction per
 * channel; it carries a plain byte stream (encoded frames), so a frame may wrap around
 * the end or be written in pieces. Positions are u32 byte counters (modulo 2^32), the
 * capacity is a power of two, so `tail - head` is the fill level even across the wrap.
 *
 * Wake-ups: the producer bumps `DATA` after publishing, the consumer bumps `SPACE`
 * after releasing; each side waits on the other's counter with `Atomics.waitAsync`
 * (never `Atomics.wait`: both ends run event loops).
 * @packageDocumentation
 */
import { InvalidArgumentError } from '../errors/index.js';
import type { RingPair } from './protocol.js';

/** `Atomics.waitAsync` (ES2024; present in Node 16+, absent from the ES2023 lib typings). */
type WaitAsync = (ta: Int32Array, index: number, value: number) => { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
const waitAsync: WaitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

/** Bytes of the control block in front of the data region. */
export const RING_HEADER_BYTES = 64;

const HEAD = 0; // consumer position (released bytes)
const TAIL = 1; // producer position (published bytes)
const DATA = 2; // bumped on every publish
const SPACE = 3; // bumped on every release
const WIRE = 4; // producer-defined counter (transport bytes behind the published frames)
const CLOSED = 5; // set when either side gave up on the ring
const DATA_WAITER = 6; // 1 while the consumer waits for DATA (the producer notifies only then)
const SPACE_WAITER = 7; // 1 while the producer waits for SPACE

/** Smallest and largest ring data capacities. */
export const MIN_RING_BYTES = 4096;
export const MAX_RING_BYTES = 1 << 30;

/** Smallest power of two ≥ `n`, within the ring bounds. */
export function ringCapacityFor(n: number): number {
  let c = MIN_RING_BYTES;
  while (c < n && c < MAX_RING_BYTES) c *= 2;
  return c;
}

/** The two rings of one channel (shared hand-off), each with room for `bytes` bytes. */
export function allocateRingPair(bytes: number): RingPair {
  return { tx: ByteRing.allocate(bytes).sab, rx: ByteRing.allocate(bytes).sab };
}

/** One side's view of a shared byte ring. Both sides construct it over the same buffer. */
export class ByteRing {
  /** Data capacity in bytes (a power of two). */
  readonly capacity: number;
  /** The shared memory (control block + data), to post to the other side. */
  readonly sab: SharedArrayBuffer;
  private readonly ctl: Int32Array;
  private readonly data: Buffer;
  private readonly mask: number;
  private waiting: [boolean, boolean] = [false, false];

  /** Allocates a ring with room for `capacity` bytes (rounded up to a power of two). */
  static allocate(capacity: number): ByteRing {
    const c = ringCapacityFor(capacity);
    return new ByteRing(new SharedArrayBuffer(RING_HEADER_BYTES + c));
  }

  constructor(sab: SharedArrayBuffer) {
    const c = sab.byteLength - RING_HEADER_BYTES;
    if (c < MIN_RING_BYTES || (c & (c - 1)) !== 0) throw new InvalidArgumentError(`ring data size must be a power of two ≥ ${MIN_RING_BYTES}, got ${c}`);
    this.sab = sab;
    this.capacity = c;
    this.mask = c - 1;
    this.ctl = new Int32Array(sab, 0, RING_HEADER_BYTES / 4);
    this.data = Buffer.from(sab, RING_HEADER_BYTES, c);
  }

  /** Released position (consumer side's progress). */
  get head(): number {
    return Atomics.load(this.ctl, HEAD) >>> 0;
  }

  /** Published position (producer side's progress). */
  get tail(): number {
    return Atomics.load(this.ctl, TAIL) >>> 0;
  }

  /** Published bytes not yet released. */
  get used(): number {
    return (this.tail - this.head) >>> 0;
  }

  /** True once either side called {@link close}. */
  get closed(): boolean {
    return Atomics.load(this.ctl, CLOSED) !== 0;
  }

  /** The producer-defined counter (e.g. wire bytes behind the published frames), u32. */
  get wire(): number {
    return Atomics.load(this.ctl, WIRE) >>> 0;
  }

  // ---- producer --------------------------------------------------------------------

  /** Free bytes for a producer whose unpublished cursor is at `cursor`. */
  freeAt(cursor: number): number {
    return this.capacity - ((cursor - this.head) >>> 0);
  }

  /**
   * Copies `src[from, from+len)` into the ring at producer cursor `cursor` (not yet
   * published). The caller checked {@link freeAt}. Returns the new cursor.
   */
  write(cursor: number, src: Uint8Array, from = 0, len = src.length - from): number {
    const at = cursor & this.mask;
    const first = Math.min(len, this.capacity - at);
    this.data.set(src.subarray(from, from + first), at);
    if (first < len) this.data.set(src.subarray(from + first, from + len), 0);
    return (cursor + len) >>> 0;
  }

  /** The data region (for producers that encode in place; see {@link contiguousAt}). */
  get bytes(): Buffer {
    return this.data;
  }

  /** Offset of `cursor` in {@link bytes} and the bytes from there to the wrap point. */
  contiguousAt(cursor: number): { at: number; until: number } {
    const at = cursor & this.mask;
    return { at, until: this.capacity - at };
  }

  /** Makes everything up to `cursor` visible to the consumer, adds `wireDelta`, and wakes it. */
  publish(cursor: number, wireDelta = 0): void {
    if (wireDelta !== 0) Atomics.add(this.ctl, WIRE, wireDelta | 0);
    Atomics.store(this.ctl, TAIL, cursor | 0);
    Atomics.add(this.ctl, DATA, 1);
    // notify costs a lock and a cross-thread task: only when the consumer sleeps.
    if (Atomics.load(this.ctl, DATA_WAITER) !== 0) Atomics.notify(this.ctl, DATA);
  }

  // ---- consumer --------------------------------------------------------------------

  /** Zero-copy views of `[from, to)` (one, or two when the range wraps). Valid until released. */
  views(from: number, to: number): Buffer[] {
    const len = (to - from) >>> 0;
    if (len === 0) return [];
    const at = from & this.mask;
    const first = Math.min(len, this.capacity - at);
    const out = [this.data.subarray(at, at + first)];
    if (first < len) out.push(this.data.subarray(0, len - first));
    return out;
  }

  /** Copies `len` bytes at `from` into a new Buffer (the consumer then releases them). */
  copyOut(from: number, len: number): Buffer {
    const out = Buffer.allocUnsafe(len);
    if (len === 0) return out;
    // Straight copies: no views array, no subarray Buffers per call.
    const at = from & this.mask;
    const first = Math.min(len, this.capacity - at);
    this.data.copy(out, 0, at, at + first);
    if (first < len) this.data.copy(out, first, 0, len - first);
    return out;
  }

  /** Gives bytes up to `position` back to the producer and wakes it. */
  release(position: number): void {
    Atomics.store(this.ctl, HEAD, position | 0);
    Atomics.add(this.ctl, SPACE, 1);
    if (Atomics.load(this.ctl, SPACE_WAITER) !== 0) Atomics.notify(this.ctl, SPACE);
  }

  // ---- wake-ups --------------------------------------------------------------------

  /**
   * Calls `cb` once `ready()` holds, checking now and after every publish (`'data'`) or
   * release (`'space'`). At most one wait per kind is pending; a second call while one
   * is pending is ignored (the pending one calls its own `cb`). Gives up silently once
   * the ring is closed.
   */
  when(kind: 'data' | 'space', ready: () => boolean, cb: () => void): void {
    const k = kind === 'data' ? 0 : 1;
    if (this.waiting[k]) return;
    const index = kind === 'data' ? DATA : SPACE;
    const flag = kind === 'data' ? DATA_WAITER : SPACE_WAITER;
    const loop = (sync: boolean): void => {
      for (;;) {
        if (this.closed) {
          this.waiting[k] = false;
          return;
        }
        const seen = Atomics.load(this.ctl, index);
        if (ready()) {
          Atomics.store(this.ctl, flag, 0);
          // Never re-enter the caller: a condition that already holds runs on the next turn.
          if (sync) {
            setImmediate(() => {
              this.waiting[k] = false;
              cb();
            });
          } else {
            this.waiting[k] = false;
            cb();
          }
          return;
        }
        // Announce the wait, then look again: the other side either sees the flag and
        // notifies, or published before the flag, and then `ready()` sees its update.
        if (Atomics.exchange(this.ctl, flag, 1) === 0) continue;
        const r = waitAsync(this.ctl, index, seen);
        if (r.async) {
          void r.value.then(() => loop(false));
          return;
        }
        // 'not-equal': the counter moved between the load and the wait; check again.
      }
    };
    this.waiting[k] = true;
    loop(true);
  }

  /** Marks the ring dead and releases any pending waits on both sides. Idempotent. */
  close(): void {
    if (Atomics.exchange(this.ctl, CLOSED, 1) !== 0) return;
    Atomics.add(this.ctl, DATA, 1);
    Atomics.add(this.ctl, SPACE, 1);
    Atomics.notify(this.ctl, DATA);
    Atomics.notify(this.ctl, SPACE);
  }
}
