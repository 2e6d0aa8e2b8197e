/**
 * Per-turn message batching shared by both ends of a channel worker: operations and
 * transferables of one turn are collected, dirty channels get to flush their pending
 * work into operations first, and everything leaves in one `Batch` message.
 * @packageDocumentation
 */
import type { Batch } from './protocol.js';

/** Something that moves its pending work into operations right before a post. */
export interface Flushable {
  flush(): void;
}

/** Collects the operations of one turn; posts them in one message when `defer` fires. */
export class TurnBatcher<Op, D extends Flushable> {
  private ops: Op[] = [];
  private transfer: ArrayBuffer[] = [];
  private dirty: D[] = [];
  private scheduled = false;

  /**
   * @param defer when to post (process.nextTick, setImmediate)
   * @param send posts one batch
   * @param live checked at post time: when false, the turn's operations are dropped
   */
  constructor(
    private readonly defer: (fn: () => void) => void,
    private readonly send: (msg: Batch<Op>, transfer: ArrayBuffer[]) => void,
    private readonly live: () => boolean = () => true,
  ) {}

  push(op: Op, transfer?: ArrayBuffer): void {
    this.ops.push(op);
    if (transfer) this.transfer.push(transfer);
    this.schedule();
  }

  markDirty(d: D): void {
    this.dirty.push(d);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.defer(this.flush);
  }

  private readonly flush = (): void => {
    const dirty = this.dirty;
    this.dirty = [];
    for (const d of dirty) d.flush();
    this.scheduled = false;
    const ops = this.ops;
    const transfer = this.transfer;
    if (ops.length === 0) return;
    this.ops = [];
    this.transfer = [];
    if (this.live()) this.send({ ops }, transfer);
  };
}
