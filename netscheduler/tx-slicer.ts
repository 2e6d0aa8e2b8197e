/**
 * Send-side isolation: throughput segments may leave at most `sliceBytes` per
 * event-loop turn (stack-wide); the rest waits for the next turn. Between turns the
 * loop polls I/O, so latency frames are read and answered without sitting behind
 * megabytes of bulk writev. Latency segments are never budgeted.
 * @packageDocumentation
 */

/** A per-turn byte budget for throughput transmission. */
export class TxSlicer {
  private left: number;
  private scheduled = false;
  private readonly waiting = new Set<() => void>();

  constructor(
    /** Throughput bytes allowed per event-loop turn. */
    readonly sliceBytes: number,
  ) {
    this.left = sliceBytes;
  }

  /** Takes `bytes` from this turn's budget; false when it is spent (call {@link wait}). */
  take(bytes: number): boolean {
    if (this.left <= 0) return false;
    this.left -= bytes;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.refill);
    }
    return true;
  }

  /** Runs `resume` once the next turn's budget is available. */
  wait(resume: () => void): void {
    this.waiting.add(resume);
  }

  private readonly refill = (): void => {
    this.scheduled = false;
    this.left = this.sliceBytes;
    if (this.waiting.size === 0) return;
    const list = [...this.waiting];
    this.waiting.clear();
    for (const resume of list) resume();
  };
}
