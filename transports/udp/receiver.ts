/**
 * Receive side of one udp:// connection: accepts numbered DATA datagrams inside the
 * receive window, suppresses duplicates, reorders, and hands the stream bytes on in
 * order; produces the cumulative ack, the window edge (receiver-driven credit) and the
 * SACK ranges. Holding back delivery (receive backpressure) stops the edge from
 * advancing, so the sender runs out of credit instead of flooding the receiver.
 * @packageDocumentation
 */
import { MAX_SACK_RANGES } from './wire.js';

/** Verdict on one DATA datagram. */
export type Accept = 'ok' | 'duplicate' | 'window';

/** Receives a segment in order. */
export type DeliverFn = (data: Buffer, fin: boolean) => void;

/** Receive side of a connection. */
export class Receiver {
  /** Every sequence number below it was received (the cumulative ack). */
  rcvNext = 0;
  /** Next sequence number to hand on (≤ rcvNext while delivery is held back). */
  consumed = 0;
  /** Bytes held: out of order, or in order but not yet delivered. */
  heldBytes = 0;
  /** The FIN was handed on. */
  finDelivered = false;
  private readonly held = new Map<number, { data: Buffer; fin: boolean }>();
  /** Received ranges above rcvNext, [start, end) pairs, ascending and disjoint. */
  private ranges: number[] = [];
  private paused = false;
  private finSeq = -1;

  constructor(
    /** Receive window in datagrams. */
    readonly window: number,
    private readonly deliver: DeliverFn,
  ) {}

  /** Window edge to advertise: the sender may send sequence numbers below it. */
  get edge(): number {
    return this.consumed + this.window;
  }

  /** SACK ranges for an ACK: the lowest ones, and always the highest. */
  get sack(): number[] {
    const r = this.ranges;
    if (r.length <= 2 * MAX_SACK_RANGES) return r;
    return [...r.slice(0, 2 * (MAX_SACK_RANGES - 1)), r[r.length - 2]!, r[r.length - 1]!];
  }

  /** Takes one DATA datagram. */
  accept(seq: number, data: Buffer, fin: boolean): Accept {
    if (seq < this.rcvNext || this.held.has(seq)) return 'duplicate';
    if (seq >= this.edge) return 'window';
    if (this.finSeq >= 0 && (seq > this.finSeq || (fin && seq !== this.finSeq))) return 'window';
    if (fin) this.finSeq = seq;
    this.held.set(seq, { data, fin });
    this.heldBytes += data.length;
    if (seq === this.rcvNext) {
      this.rcvNext++;
      if (this.ranges.length > 0 && this.ranges[0] === this.rcvNext) {
        this.rcvNext = this.ranges[1]!;
        this.ranges.splice(0, 2);
      }
    } else {
      this.insertRange(seq);
    }
    this.flush();
    return 'ok';
  }

  /** Stops handing bytes on (the channel's receive queue is full). */
  pause(): void {
    this.paused = true;
  }

  /** Resumes handing bytes on; returns true when the window edge moved. */
  resume(): boolean {
    this.paused = false;
    const before = this.consumed;
    this.flush();
    return this.consumed !== before;
  }

  /** Drops everything held. */
  clear(): void {
    this.held.clear();
    this.heldBytes = 0;
    this.ranges = [];
  }

  private flush(): void {
    while (!this.paused && this.consumed < this.rcvNext) {
      const seq = this.consumed++;
      const s = this.held.get(seq);
      if (s === undefined) return; // cleared by a destroy during delivery
      this.held.delete(seq);
      this.heldBytes -= s.data.length;
      if (s.fin) this.finDelivered = true;
      this.deliver(s.data, s.fin);
    }
  }

  /** Adds `seq` (> rcvNext, not yet present) to the ranges, merging neighbours. */
  private insertRange(seq: number): void {
    const r = this.ranges;
    // Find the first range whose start is above seq; new datagrams usually land at the end.
    let i = r.length;
    while (i > 0 && r[i - 2]! > seq) i -= 2;
    const prevEnd = i > 0 ? r[i - 1]! : -1;
    const nextStart = i < r.length ? r[i]! : -1;
    if (prevEnd === seq && nextStart === seq + 1) {
      r[i - 1] = r[i + 1]!;
      r.splice(i, 2);
    } else if (prevEnd === seq) {
      r[i - 1] = seq + 1;
    } else if (nextStart === seq + 1) {
      r[i] = seq;
    } else {
      r.splice(i, 0, seq, seq + 1);
    }
  }
}
