/**
 * Send side of one udp:// connection: segments the channel's byte stream into numbered
 * datagrams, keeps them until acknowledged, processes cumulative + selective acks,
 * detects loss (a datagram is lost once {@link REORDER_THRESHOLD} datagrams sent after it
 * were acknowledged, or its RTO expired) and retransmits within the congestion window
 * and the receiver's credit (window edge). With a copy budget (latency-class channels) a
 * datagram sent while the flight is small is queued for one redundant copy, which the
 * channel sends a moment later ({@link Sender.sendCopies}): one loss then costs nothing.
 * @packageDocumentation
 */
import { CongestionWindow, RttEstimator, type RtoBounds } from './congestion.js';

/** Datagrams sent after a datagram that must be acknowledged before it counts as lost. */
export const REORDER_THRESHOLD = 3;

const EMPTY = Buffer.alloc(0);

/** One datagram of the stream, kept until acknowledged. */
interface Segment {
  seq: number;
  data: Buffer;
  fin: boolean;
  /** Time of the latest transmission, ms. */
  sentAt: number;
  /** Transmissions so far. */
  txCount: number;
  /** Transmission order of the latest transmission. */
  order: number;
  /** Transmission order of the first transmission (ascending with seq). */
  firstOrder: number;
  sacked: boolean;
  /** Declared lost, waiting for retransmission. */
  lost: boolean;
}

/** Transmits one DATA datagram (`copy`: a redundant copy of one sent before). */
export type TransmitFn = (seq: number, data: Buffer, fin: boolean, copy: boolean) => void;

/** Counters of a {@link Sender}. */
export interface SenderStats {
  datagramsSent: number;
  retransmits: number;
  timeouts: number;
  invalidAcks: number;
  probes: number;
  /** Redundant copies sent (latency-class redundancy). */
  copies: number;
}

/** Result of {@link Sender.onAck}. */
export type AckResult = 'invalid' | 'progress' | 'none';

/** Send side of a connection. */
export class Sender {
  readonly rtt: RttEstimator;
  readonly cc: CongestionWindow;
  readonly stats: SenderStats = { datagramsSent: 0, retransmits: 0, timeouts: 0, invalidAcks: 0, probes: 0, copies: 0 };
  /** Lowest unacknowledged sequence number. */
  sndUna = 0;
  /** Next new sequence number. */
  sndNxt = 0;
  /** The receiver's window edge: sequence numbers below it may be sent. */
  peerEdge: number;
  /** Datagrams sent and neither acknowledged nor declared lost. */
  inflight = 0;
  /** Stream bytes not yet segmented. */
  queuedBytes = 0;
  /** Bytes of segments sent but not yet acknowledged. */
  unackedBytes = 0;
  private queue: Buffer[] = [];
  private qHead = 0;
  private segs: Segment[] = [];
  private segHead = 0;
  private lostQueue: number[] = [];
  private order = 0;
  private highAckedOrder = -1;
  private finQueued = false;
  private finSent = false;
  /** Sequence numbers waiting for their redundant copy. */
  private copyQueue: number[] = [];

  constructor(
    private readonly segmentSize: number,
    initialEdge: number,
    bounds: RtoBounds,
    maxCwnd: number,
    private readonly transmit: TransmitFn,
    /** A datagram sent while at most this many bytes are unacknowledged gets one copy; 0 = never. */
    private readonly copyBudget = 0,
  ) {
    this.peerEdge = initialEdge;
    this.rtt = new RttEstimator(bounds);
    this.cc = new CongestionWindow(maxCwnd);
  }

  /** Queues stream bytes. */
  write(b: Buffer): void {
    if (b.length === 0) return;
    this.queue.push(b);
    this.queuedBytes += b.length;
  }

  /** Queues the end of the stream (FIN) after the queued bytes. */
  finish(): void {
    this.finQueued = true;
  }

  /** True once the FIN was sent and everything up to it acknowledged. */
  get finAcked(): boolean {
    return this.finSent && this.sndUna === this.sndNxt;
  }

  /** True once the FIN was sent (acknowledged or not). */
  get hasFinSent(): boolean {
    return this.finSent;
  }

  /** True when there is data or a FIN waiting for window or congestion space. */
  get hasPending(): boolean {
    return this.queuedBytes > 0 || (this.finQueued && !this.finSent) || this.lostQueue.length > 0;
  }

  /** True when new data waits only for the receiver's credit. */
  get windowBlocked(): boolean {
    return this.sndNxt >= this.peerEdge && (this.queuedBytes > 0 || (this.finQueued && !this.finSent));
  }

  /** True when datagrams wait for their redundant copy ({@link sendCopies}). */
  get hasCopies(): boolean {
    return this.copyQueue.length > 0;
  }

  /**
   * Sends the queued redundant copies of datagrams not yet acknowledged. A copy is not a
   * transmission: it does not count against the congestion window, restart timers or
   * change the RTT sample (the original's send time stands). Returns copies sent.
   */
  sendCopies(): number {
    const q = this.copyQueue;
    this.copyQueue = [];
    let sent = 0;
    for (const seq of q) {
      const s = this.seg(seq);
      if (s === undefined || s.sacked) continue;
      this.stats.copies++;
      this.stats.datagramsSent++;
      this.transmit(s.seq, s.data, s.fin, true);
      sent++;
    }
    return sent;
  }

  /** Sends retransmissions, then new segments, while window and cwnd allow; returns datagrams sent. */
  pump(now: number, budget = Infinity): number {
    let sent = 0;
    while (sent < budget && this.lostQueue.length > 0 && this.inflight < this.cc.cwnd) {
      const seq = this.lostQueue.shift()!;
      const s = this.seg(seq);
      if (s === undefined || s.sacked || !s.lost) continue;
      s.lost = false;
      this.stats.retransmits++;
      this.send(s, now);
      sent++;
    }
    while (sent < budget && this.sndNxt < this.peerEdge && this.inflight < this.cc.cwnd && this.sndNxt < 0xffffffff) {
      const data = this.take();
      const fin = this.finQueued && this.queuedBytes === 0;
      if (data.length === 0 && (!fin || this.finSent)) break;
      if (fin) this.finSent = true;
      const o = this.order;
      const s: Segment = { seq: this.sndNxt++, data, fin, sentAt: now, txCount: 0, order: o, firstOrder: o, sacked: false, lost: false };
      this.segs.push(s);
      this.unackedBytes += data.length;
      this.send(s, now);
      sent++;
    }
    return sent;
  }

  /**
   * Processes an ACK: `cum` (every seq below received), `edge` (window edge), `sack`
   * ([start, end) pairs above `cum`). Declares losses; returns whether it made progress.
   */
  onAck(cum: number, edge: number, sack: readonly number[], now: number): AckResult {
    const last = sack.length > 0 ? sack[sack.length - 1]! : cum;
    if (cum > this.sndNxt || last > this.sndNxt) {
      this.stats.invalidAcks++;
      return 'invalid';
    }
    if (edge > this.peerEdge) this.peerEdge = edge;
    let acked = 0;
    let sampleAt = -1;
    let progress = false;
    while (this.sndUna < cum) {
      const s = this.segs[this.segHead]!;
      if (!s.sacked) {
        acked++;
        this.release(s);
        if (s.txCount === 1) sampleAt = s.sentAt;
        if (s.order > this.highAckedOrder) this.highAckedOrder = s.order;
      }
      this.segs[this.segHead++] = undefined as unknown as Segment;
      this.sndUna++;
      progress = true;
    }
    if (this.segHead > 1024 && this.segHead * 2 > this.segs.length) {
      this.segs = this.segs.slice(this.segHead);
      this.segHead = 0;
    }
    for (let i = 0; i < sack.length; i += 2) {
      for (let q = Math.max(sack[i]!, this.sndUna); q < sack[i + 1]!; q++) {
        const s = this.seg(q)!;
        if (s.sacked) continue;
        s.sacked = true;
        acked++;
        progress = true;
        this.release(s);
        if (s.txCount === 1 && s.sentAt > sampleAt) sampleAt = s.sentAt;
        if (s.order > this.highAckedOrder) this.highAckedOrder = s.order;
      }
    }
    if (sampleAt >= 0) this.rtt.sample(now - sampleAt);
    if (acked > 0) this.cc.onAcked(acked);
    this.detectLoss();
    return progress ? 'progress' : 'none';
  }

  /** The RTO expired: every unacknowledged datagram in flight is declared lost. */
  onTimeout(): void {
    this.stats.timeouts++;
    this.rtt.expire();
    this.cc.onTimeout(this.sndNxt);
    for (let i = this.segHead; i < this.segs.length; i++) {
      const s = this.segs[i]!;
      if (s.sacked || s.lost) continue;
      s.lost = true;
      this.inflight--;
      this.lostQueue.push(s.seq);
    }
    this.lostQueue.sort((a, b) => a - b);
  }

  /**
   * Tail loss probe (RFC 8985): the newest unacknowledged datagram is queued for
   * retransmission without a window reduction, so an ACK (and loss detection) follows
   * long before the RTO would. Returns false when nothing is in flight.
   */
  probe(): boolean {
    for (let i = this.segs.length - 1; i >= this.segHead; i--) {
      const s = this.segs[i]!;
      if (s.sacked || s.lost) continue;
      s.lost = true;
      this.inflight--;
      this.lostQueue.unshift(s.seq);
      this.stats.probes++;
      return true;
    }
    return false;
  }

  /** Drops everything queued and in flight. */
  clear(): void {
    this.queue = [];
    this.qHead = 0;
    this.queuedBytes = 0;
    this.segs = [];
    this.segHead = 0;
    this.lostQueue = [];
    this.copyQueue = [];
    this.unackedBytes = 0;
    this.inflight = 0;
  }

  private seg(seq: number): Segment | undefined {
    if (seq < this.sndUna || seq >= this.sndNxt) return undefined;
    return this.segs[this.segHead + (seq - this.sndUna)];
  }

  private release(s: Segment): void {
    if (!s.lost) this.inflight--;
    else s.lost = false;
    this.unackedBytes -= s.data.length;
    s.data = EMPTY;
  }

  private send(s: Segment, now: number): void {
    s.sentAt = now;
    s.txCount++;
    s.order = this.order++;
    this.inflight++;
    this.stats.datagramsSent++;
    this.transmit(s.seq, s.data, s.fin, false);
    if (this.copyBudget > 0 && this.unackedBytes <= this.copyBudget) this.copyQueue.push(s.seq);
  }

  private detectLoss(): void {
    const limit = this.highAckedOrder - REORDER_THRESHOLD;
    for (let i = this.segHead; i < this.segs.length; i++) {
      const s = this.segs[i]!;
      if (s.firstOrder > limit) break;
      if (s.sacked || s.lost || s.order > limit) continue;
      s.lost = true;
      this.inflight--;
      this.lostQueue.push(s.seq);
      this.cc.onLoss(s.seq, this.sndNxt);
    }
  }

  /** Takes up to one segment of stream bytes (zero-copy when they lie in one buffer). */
  private take(): Buffer {
    if (this.queuedBytes === 0) return EMPTY;
    const n = Math.min(this.segmentSize, this.queuedBytes);
    const head = this.queue[this.qHead]!;
    let out: Buffer;
    if (head.length >= n) {
      out = head.subarray(0, n);
      if (head.length === n) this.queue[this.qHead++] = EMPTY;
      else this.queue[this.qHead] = head.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const c = this.queue[this.qHead]!;
        const k = Math.min(c.length, n - filled);
        c.copy(out, filled, 0, k);
        filled += k;
        if (k === c.length) this.queue[this.qHead++] = EMPTY;
        else this.queue[this.qHead] = c.subarray(k);
      }
    }
    this.queuedBytes -= n;
    if (this.qHead === this.queue.length) {
      this.queue = [];
      this.qHead = 0;
    } else if (this.qHead > 1024 && this.qHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.qHead);
      this.qHead = 0;
    }
    return out;
  }
}
