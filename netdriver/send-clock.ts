/**
 * When a channel's unacknowledged bytes were sent: a bounded ring of marks (the
 * channel's cumulative send offset after a frame, and when the first byte of the mark
 * was sent). Channel-level ACKs pop the marks they cover. From it the device tells
 * how long ago the oldest byte still in flight left, and when the newest delivered
 * byte left and how long its delivery took — the inputs of RACK-style lateness
 * detection between the channels of one class.
 * @packageDocumentation
 */

/** Marks kept; when full, the newest mark grows to cover more bytes (with its older time). */
const CAPACITY = 64;
/** Frames handed within this many milliseconds of the newest mark join it. */
const MERGE_MS = 0.05;

/** Send times of a channel's bytes in flight. */
export class SendClock {
  private readonly ends = new Float64Array(CAPACITY);
  private readonly times = new Float64Array(CAPACITY);
  private head = 0;
  private count = 0;
  /** `performance.now()` at which the newest fully acknowledged mark was sent; -Infinity before any. */
  newestAckedSentAt = -Infinity;
  /** Milliseconds from sending to acknowledgement of that mark (the channel's current delivery delay); 0 before any. */
  ackDelay = 0;

  /** The channel's cumulative send offset reached `end` at `now` (ms). */
  sent(end: number, now: number): void {
    if (this.count > 0) {
      const last = (this.head + this.count - 1) % CAPACITY;
      if (this.count === CAPACITY || now - this.times[last]! < MERGE_MS) {
        this.ends[last] = end;
        return;
      }
    }
    const i = (this.head + this.count) % CAPACITY;
    this.ends[i] = end;
    this.times[i] = now;
    this.count++;
  }

  /** The peer acknowledged the channel's bytes up to offset `acked`, at `now` (ms). */
  acked(acked: number, now: number): void {
    while (this.count > 0 && this.ends[this.head]! <= acked) {
      this.newestAckedSentAt = this.times[this.head]!;
      this.ackDelay = now - this.newestAckedSentAt;
      this.head = (this.head + 1) % CAPACITY;
      this.count--;
    }
  }

  /** `performance.now()` at which the oldest unacknowledged byte was sent; Infinity when none is in flight. */
  get oldestUnackedAt(): number {
    return this.count > 0 ? this.times[this.head]! : Infinity;
  }
}
