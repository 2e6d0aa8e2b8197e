/**
 * The sender's retransmission queue: DATA frames sent and not yet acknowledged, in
 * sequence order, each with the slab its retained copy lives in and the channel it
 * last went on. After a channel failure the whole queue is re-sent from the oldest
 * unacknowledged frame; when a channel goes stale, only the frames it holds are
 * re-sent (reinjected) on the others.
 * @packageDocumentation
 */
import type { Frame } from '../netdriver/frame.js';
import { releaseRetained, type Slab } from './retain-slab.js';
import { seqAdd, seqDiff } from './seq.js';

/** Unacknowledged frames of one virtual socket. */
export class RetransmitQueue {
  private frames: Frame[] = [];
  private slabs: Array<Slab | null> = [];
  /** Channel each frame last went on. */
  private channels: number[] = [];
  /** Index of the oldest unacknowledged frame. */
  private head = 0;
  /** Index of the next frame to re-send; `frames.length` when nothing is pending. */
  private next = 0;
  /** Frames dropped from the front of the arrays by compaction (absolute index = base + local). */
  private base = 0;
  /** Absolute indices of frames to reinject (re-send from a stale channel), oldest first. */
  private reinjectQueue: number[] = [];
  private reinjectHead = 0;
  /** Index (local) of the frame {@link peekResend} returned, or -1 for the sequential pointer. */
  private peeked = -1;
  /** Payload bytes of the unacknowledged frames (what the socket retains). */
  bytes = 0;

  constructor(
    /** Told of every change of {@link bytes} (the peer's memory-budget account): the socket itself, so no closure per socket. */
    private readonly account: { retainedChanged(delta: number): void },
  ) {}

  /** True when every frame sent is acknowledged. */
  get empty(): boolean {
    return this.head === this.frames.length;
  }

  /** True while frames wait to be re-sent. */
  get resendPending(): boolean {
    return this.next < this.frames.length || this.nextReinject() >= 0;
  }

  /** Records a frame just sent on `channelId` (its payload copy lives in `slab`, or its own buffer). */
  push(frame: Frame, slab: Slab | null, channelId: number): void {
    this.frames.push(frame);
    this.slabs.push(slab);
    this.channels.push(channelId);
    this.next = this.frames.length;
    this.bytes += frame.payload.length;
    this.account.retainedChanged(frame.payload.length);
  }

  /** Drops every frame that ends at or before `ack` (cumulative acknowledgement). */
  ack(ack: number): void {
    const q = this.frames;
    let h = this.head;
    let released = 0;
    while (h < q.length && seqDiff(seqAdd(q[h]!.seq, q[h]!.payload.length), ack) <= 0) {
      releaseRetained(this.slabs[h]!);
      released += q[h]!.payload.length;
      h++;
    }
    if (h === this.head) return;
    this.bytes -= released;
    this.account.retainedChanged(-released);
    this.head = h;
    if (this.next < h) this.next = h;
    if (h > 64 && h * 2 > q.length) {
      // Compact once most of the array is acknowledged.
      this.frames = q.slice(h);
      this.slabs = this.slabs.slice(h);
      this.channels = this.channels.slice(h);
      this.next -= h;
      this.head = 0;
      this.base += h;
    }
  }

  /** Schedules every unacknowledged frame for re-sending. */
  rewind(): void {
    this.next = this.head;
    this.reinjectQueue = [];
    this.reinjectHead = 0;
  }

  /**
   * Schedules the unacknowledged frames last sent on `channelId` for re-sending (the
   * channel went stale); returns how many.
   */
  reinject(channelId: number): number {
    let n = 0;
    for (let i = this.head; i < this.next; i++) {
      if (this.channels[i] === channelId) {
        this.reinjectQueue.push(this.base + i);
        n++;
      }
    }
    return n;
  }

  /** The next frame to re-send, if any (call {@link resent} once it is on a channel). */
  peekResend(): Frame | undefined {
    const r = this.nextReinject();
    if (r >= 0) {
      this.peeked = r;
      return this.frames[r];
    }
    this.peeked = -1;
    return this.next < this.frames.length ? this.frames[this.next] : undefined;
  }

  /** The frame from {@link peekResend} was re-sent on `channelId`. */
  resent(channelId: number): void {
    if (this.peeked >= 0) {
      this.channels[this.peeked] = channelId;
      this.reinjectHead++;
      this.peeked = -1;
      return;
    }
    this.channels[this.next++] = channelId;
  }

  /** Local index of the next still-unacknowledged frame to reinject, or -1. */
  private nextReinject(): number {
    const q = this.reinjectQueue;
    while (this.reinjectHead < q.length) {
      const local = q[this.reinjectHead]! - this.base;
      if (local >= this.head && local < this.next) return local;
      this.reinjectHead++; // acknowledged meanwhile (or re-sent by a rewind)
    }
    if (q.length > 0) {
      this.reinjectQueue = [];
      this.reinjectHead = 0;
    }
    return -1;
  }

  /** Forgets everything (the socket is gone or reset). */
  clear(): void {
    for (let i = this.head; i < this.slabs.length; i++) releaseRetained(this.slabs[i]!);
    this.frames = [];
    this.slabs = [];
    this.channels = [];
    this.head = 0;
    this.next = 0;
    this.base = 0;
    this.reinjectQueue = [];
    this.reinjectHead = 0;
    if (this.bytes !== 0) this.account.retainedChanged(-this.bytes);
    this.bytes = 0;
  }
}
