/**
 * Producer side of a frame stream over a {@link ByteRing}: frames are encoded straight
 * into the ring (header, then payload), in pieces when the ring is short of room; what
 * does not fit waits in an overflow queue until the consumer releases space.
 *
 * With a copier (a CopyPool), large payloads that live in shared memory are copied
 * into the ring by copy workers: their ring region is reserved at once, and the ring
 * is published only up to the first region whose copy has not finished, so the
 * consumer never sees a hole.
 * @packageDocumentation
 */
import { ErrorCode, FrameError } from '../errors/index.js';
import { encodeHeader } from '../netdriver/codec.js';
import { HEADER_SIZE, type Frame } from '../netdriver/frame.js';
import { RING_HEADER_BYTES, type ByteRing } from './ring.js';

/** What the writer needs of a copy pool (a subset of CopyPool). */
export interface RingCopier {
  copy(parts: Array<{ source: Uint8Array; target: SharedArrayBuffer; offset: number }>, options?: { offsetInWrite?: number }): Promise<unknown>;
}

/** A reserved ring region being filled by copy workers. */
interface CopyRegion {
  /** Cursor at the start of the region. */
  start: number;
  done: boolean;
}

function isShared(v: Uint8Array): boolean {
  return v.buffer instanceof SharedArrayBuffer;
}

/** Writes frames into a ring in order; see the module comment. */
export class RingFrameWriter {
  private queue: Frame[] = [];
  private qHead = 0;
  /** Bytes of `queue[qHead]` already in the ring (header included). */
  private written = 0;
  private readonly scratch = Buffer.allocUnsafe(HEADER_SIZE);
  /** Producer cursor: bytes written, published or not. */
  private cursor: number;
  private published: number;
  /** Wire bytes of queued frames not yet (completely) in the ring. */
  pendingBytes = 0;
  /** Copy regions in ring order, oldest first. */
  private regions: CopyRegion[] = [];
  /** Parts gathered by `fill()` for the next dispatch. */
  private parts: Array<{ source: Uint8Array; target: SharedArrayBuffer; offset: number }> = [];
  private partRegions: CopyRegion[] = [];
  private settledWaiters: Array<() => void> = [];

  /**
   * @param copier optional copy pool for large shared-memory payloads.
   * @param minCopy smallest payload sent to the copier, bytes.
   */
  constructor(
    readonly ring: ByteRing,
    private readonly copier: RingCopier | null = null,
    private readonly minCopy = 16 * 1024,
  ) {
    this.cursor = ring.tail;
    this.published = this.cursor;
  }

  /** Bytes in the ring not yet released by the consumer (published or being copied), plus overflow. */
  get queuedBytes(): number {
    return ((this.cursor - this.ring.head) >>> 0) + this.pendingBytes;
  }

  /** True while copy workers are still filling reserved regions. */
  get copying(): boolean {
    return this.regions.length > 0 || this.parts.length > 0;
  }

  /** Resolves once no copy is outstanding (at once when none is). */
  settled(): Promise<void> {
    if (!this.copying) return Promise.resolve();
    return new Promise((resolve) => this.settledWaiters.push(resolve));
  }

  /** True when nothing waits outside the ring. */
  get drained(): boolean {
    return this.qHead === this.queue.length;
  }

  /** Free ring bytes at the producer cursor. */
  get room(): number {
    return this.ring.freeAt(this.cursor);
  }

  /** Queues frames (call {@link fill} to move them into the ring). */
  push(frames: readonly Frame[]): void {
    for (const f of frames) {
      this.queue.push(f);
      this.pendingBytes += HEADER_SIZE + f.payload.length;
    }
  }

  /** Moves as many queued bytes as fit into the ring (unpublished). Returns true when the queue is empty. */
  fill(): boolean {
    const ring = this.ring;
    while (this.qHead < this.queue.length) {
      let free = ring.freeAt(this.cursor);
      if (free === 0) return false;
      const f = this.queue[this.qHead]!;
      const len0 = f.payload.length;
      if (this.written === 0 && free >= HEADER_SIZE + len0) {
        // Fast path: the whole frame fits; encode it in place when it does not wrap.
        const { at, until } = ring.contiguousAt(this.cursor);
        if (until >= HEADER_SIZE + len0) {
          const data = ring.bytes;
          encodeHeader(f, data, at);
          if (this.copier && len0 >= this.minCopy && isShared(f.payload)) {
            const region: CopyRegion = { start: (this.cursor + HEADER_SIZE) >>> 0, done: false };
            this.regions.push(region);
            this.parts.push({ source: f.payload, target: ring.sab, offset: RING_HEADER_BYTES + at + HEADER_SIZE });
            this.partRegions.push(region);
          } else if (len0 > 0) {
            f.payload.copy(data, at + HEADER_SIZE);
          }
          this.cursor = (this.cursor + HEADER_SIZE + len0) >>> 0;
          this.pendingBytes -= HEADER_SIZE + len0;
          this.qHead++;
          continue;
        }
      }
      if (this.written < HEADER_SIZE) {
        if (this.written === 0) encodeHeader(f, this.scratch, 0);
        const n = Math.min(HEADER_SIZE - this.written, free);
        this.cursor = ring.write(this.cursor, this.scratch, this.written, n);
        this.written += n;
        this.pendingBytes -= n;
        free -= n;
        if (this.written < HEADER_SIZE) return false;
      }
      const len = f.payload.length;
      const done = this.written - HEADER_SIZE;
      if (done < len) {
        const n = Math.min(len - done, free);
        if (n === 0) return false;
        this.cursor = ring.write(this.cursor, f.payload, done, n);
        this.written += n;
        this.pendingBytes -= n;
        if (this.written - HEADER_SIZE < len) return false;
      }
      this.qHead++;
      this.written = 0;
    }
    this.queue = [];
    this.qHead = 0;
    return true;
  }

  /**
   * Publishes everything written so far (up to the first region still being copied),
   * adding `wireDelta` to the ring's counter, and hands gathered copies to the copier.
   */
  publish(wireDelta = 0): void {
    if (this.parts.length > 0) this.dispatch();
    const upTo = this.regions.length > 0 ? this.regions[0]!.start : this.cursor;
    // The region start lies after its header: publishing up to it exposes the header
    // but not the payload, which the consumer (a byte stream) simply waits for.
    if (upTo === this.published && wireDelta === 0) return;
    this.published = upTo;
    this.ring.publish(upTo, wireDelta);
  }

  private dispatch(): void {
    const parts = this.parts;
    const regions = this.partRegions;
    this.parts = [];
    this.partRegions = [];
    const finish = (): void => {
      for (const r of regions) r.done = true;
      while (this.regions.length > 0 && this.regions[0]!.done) this.regions.shift();
      if (!this.ring.closed) this.publish();
      if (!this.copying || this.ring.closed) for (const w of this.settledWaiters.splice(0)) w();
    };
    this.copier!.copy(parts, { offsetInWrite: 0 }).then(finish, () => {
      // A failed copy (pool closed, worker died) is redone here: the sources are the
      // frames' payloads, still referenced by the sender until acknowledged.
      if (!this.ring.closed) for (const p of parts) Buffer.from(p.target, p.offset, p.source.length).set(p.source);
      finish();
    });
  }

  /**
   * Removes everything still outside the ring (the rest of a partly written frame,
   * then whole frames) and returns it encoded in one transferable ArrayBuffer; the
   * byte stream continues there after the ring's published bytes.
   */
  takeRest(): ArrayBuffer {
    const out = Buffer.allocUnsafeSlow(this.pendingBytes);
    let off = 0;
    for (let i = this.qHead; i < this.queue.length; i++) {
      const f = this.queue[i]!;
      const skip = i === this.qHead ? this.written : 0;
      if (skip < HEADER_SIZE) {
        if (skip === 0) encodeHeader(f, this.scratch, 0);
        off += this.scratch.copy(out, off, skip, HEADER_SIZE);
      }
      const from = Math.max(0, skip - HEADER_SIZE);
      off += f.payload.copy(out, off, from);
    }
    if (off !== out.length) throw new FrameError(ErrorCode.BAD_FRAME, `takeRest: encoded ${off} bytes, expected ${out.length}`);
    this.clear();
    return out.buffer as ArrayBuffer;
  }

  /** Drops the overflow queue (abort). */
  clear(): void {
    this.parts = [];
    this.partRegions = [];
    this.regions = [];
    for (const w of this.settledWaiters.splice(0)) w();
    this.queue = [];
    this.qHead = 0;
    this.written = 0;
    this.pendingBytes = 0;
  }
}
