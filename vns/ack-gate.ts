/**
 * Ack-gated write callbacks: how a virtual socket sends a caller's Buffer without
 * copying it and still lets the caller reuse it after the write callback, as with
 * net.Socket. Kernel TCP copies into its send buffer; we keep a reference to the
 * caller's bytes until the peer acknowledges them (they may be re-sent on another
 * channel until then) and only then run the callback, like MSG_ZEROCOPY's completion.
 *
 * Writes smaller than {@link COPY_WRITES_BELOW} are copied instead and their callback
 * runs as soon as they are sent: a copy of a few KiB costs less than an
 * acknowledgement round trip for a caller that waits on each callback.
 * @packageDocumentation
 */

/**
 * Written chunks shorter than this are copied for retransmission (their callback runs
 * once sent); longer ones are kept by reference and their callback waits for the
 * peer's acknowledgement. 64 KiB: a writer that waits on each callback of 16 KiB
 * writes ran at 0.56× with the acknowledgement wait, of 1 MiB writes at 1.36×.
 */
export const COPY_WRITES_BELOW = 64 * 1024;

type Callback = (err?: Error | null) => void;

/**
 * The pending acknowledgement-gated callbacks of one socket, keyed by stream offset
 * (total bytes written, not sequence numbers, so no wrap-around).
 */
export class AckGate {
  /** Stream offsets whose segment asks for a prompt acknowledgement (ACK_NOW), oldest first. */
  private flagEnds: number[] = [];
  private flagHead = 0;
  private ends: number[] = [];
  private cbs: Callback[] = [];
  private head = 0;

  /** Callbacks waiting for an acknowledgement. */
  get waiting(): number {
    return this.cbs.length - this.head;
  }

  /** A gated write will end at stream offset `end`: the segment reaching it asks for a prompt acknowledgement. */
  expect(end: number): void {
    this.flagEnds.push(end);
  }

  /** True when the segment ending at stream offset `segEnd` reaches an expected end (set ACK_NOW on it). */
  reaches(segEnd: number): boolean {
    let hit = false;
    while (this.flagHead < this.flagEnds.length && this.flagEnds[this.flagHead]! <= segEnd) {
      this.flagHead++;
      hit = true;
    }
    if (hit && this.flagHead * 2 >= this.flagEnds.length) {
      // Compact once most of it is consumed, so a writer that always has one pending stays bounded.
      this.flagEnds = this.flagEnds.slice(this.flagHead);
      this.flagHead = 0;
    }
    return hit;
  }

  /** Runs `cb` once the peer acknowledged every byte up to stream offset `end`. */
  wait(end: number, acked: number, cb: Callback): void {
    if (end <= acked) return cb();
    this.ends.push(end);
    this.cbs.push(cb);
  }

  /** The peer acknowledged up to stream offset `acked`: runs the callbacks it completes, in order. */
  acked(acked: number): void {
    this.release(acked, null);
  }

  /**
   * The unacknowledged data was dropped (socket reset or destroyed): runs every waiting
   * callback with `err`, or without one when the peer is known to have everything.
   */
  drop(err: Error | null): void {
    this.flagEnds = [];
    this.flagHead = 0;
    this.release(Infinity, err);
  }

  /** Runs, in order, the callbacks of writes ending at or before `upTo`, with `err`. */
  private release(upTo: number, err: Error | null): void {
    while (this.head < this.cbs.length && this.ends[this.head]! <= upTo) {
      const cb = this.cbs[this.head]!;
      this.head++;
      if (this.head * 2 >= this.cbs.length) this.compact();
      cb(err);
    }
  }

  /** Drops the consumed front of the queue (done once at least half of it is consumed: amortised O(1)). */
  private compact(): void {
    this.ends = this.ends.slice(this.head);
    this.cbs = this.cbs.slice(this.head);
    this.head = 0;
  }
}
