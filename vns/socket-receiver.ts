/**
 * The receive half of a virtual socket: in-order delivery by byte sequence number
 * (reordering across channels), the credit (window) it grants the peer, the peer's
 * FIN, and head-of-line detection for a reader that stopped reading.
 * @packageDocumentation
 */
import { controlFrame, FrameFlag, FrameType, type Frame } from '../netdriver/frame.js';
import { ReorderBuffer } from './reorder-buffer.js';
import { seqAdd, seqDiff } from './seq.js';

/** What the receiver needs from its socket. */
export interface ReceiverHost {
  readonly localPort: number;
  readonly remotePort: number;
  /** Bytes delivered to the application but not read yet. */
  readonly readableLength: number;
  /** Hands in-order bytes (or the end, `null`) to the application. */
  deliverUp(chunk: Buffer | null): void;
  /** Sends a control frame (CREDIT) to the peer. */
  sendControl(frame: Frame): void;
  /** Accounts out-of-order bytes against the peer's budget; false = over it. */
  reserveReorder(delta: number): boolean;
  /** The peer broke the protocol (`protocol`) or a limit (`limit`): reset the socket. */
  fail(kind: 'protocol' | 'limit', message: string): void;
}

/** Receive state of one virtual socket. */
export class SocketReceiver {
  /** Next in-order byte expected. */
  rcvNxt = 0;
  /** Highest offset the peer may send up to (never shrinks). */
  grantSent: number;
  /** Payload bytes delivered in order. */
  received = 0;
  /** True once the peer's FIN was received in order. */
  finReceived = false;
  private finSeq = -1;
  private readonly reorder = new ReorderBuffer();
  /** Out-of-order bytes accounted against the peer's budget. */
  private reorderReserved = 0;
  // Head-of-line handling.
  private extraWindow = 0;
  private lastConsumed = 0;
  private stalledTicks = 0;
  /** `rcvNxt` acknowledged by the last CREDIT sent (delayed acknowledgement). */
  private ackSent = 0;
  /** Offset a DATA segment with ACK_NOW ended at; a CREDIT goes out once `rcvNxt` reaches it. */
  private ackNowAt = 0;
  private ackNowPending = false;

  constructor(
    private readonly host: ReceiverHost,
    /** Receive window granted to the peer, bytes. */
    readonly window: number,
    /** Extra window granted while the reader stalls (HoL), bytes; 0 disables it. */
    private readonly holExpansion: number,
  ) {
    this.grantSent = window;
  }

  /** Current receive window (credit) including any HoL expansion, bytes. */
  get receiveWindow(): number {
    return this.window + this.extraWindow;
  }

  /** Out-of-order memory held, as reserved against the peer's budgets (ReorderBuffer `cost`: bytes, or half the read buffer kept alive, plus a per-segment overhead). */
  get reorderBytes(): number {
    return this.reorderReserved;
  }

  /** A DATA segment arrived (`flags`: its frame's; ACK_NOW asks for a prompt acknowledgement). */
  onData(seq: number, payload: Buffer, flags = 0): void {
    if (this.finReceived) return;
    const len = payload.length;
    if (seqDiff(seqAdd(seq, len), this.grantSent) > 0) {
      // (grantSent never shrinks, so an expansion that was undone stays honoured.)
      this.host.fail('protocol', `peer sent bytes ${seq}..${seqAdd(seq, len)} beyond the granted offset ${this.grantSent}`);
      return;
    }
    if ((flags & FrameFlag.ACK_NOW) !== 0) {
      const end = seqAdd(seq, len);
      if (!this.ackNowPending || seqDiff(end, this.ackNowAt) > 0) this.ackNowAt = end;
      this.ackNowPending = true;
    }
    let off = seqDiff(seq, this.rcvNxt);
    if (off < 0) {
      if (off + len <= 0) {
        // A duplicate (re-sent after a channel failure): our acknowledgement may be lost too.
        if (this.ackNowPending) this.maybeAckNow();
        return;
      }
      payload = payload.subarray(-off);
      off = 0;
    }
    if (off > 0) {
      this.reorder.insert(seq, payload);
      // Every held byte lies between the in-order point and the grant (checked above), so
      // once copies cut at other offsets are counted once, what is held is within the grant.
      if (this.reorder.bytes > seqDiff(this.grantSent, this.rcvNxt)) this.reorder.dedupe(this.rcvNxt);
      const added = this.reorder.cost - this.reorderReserved;
      if (added > 0 && this.host.reserveReorder(added)) {
        this.reorderReserved += added;
      } else if (added > 0) {
        this.host.fail('limit', `peer's out-of-order bytes exceed a reorder limit (maxReorderBytesPerPeer, maxReorderBytes or memoryBudget); socket ${this.host.localPort}->${this.host.remotePort} reset`);
      } else if (added < 0) {
        this.releaseReorder(-added); // deduplicated
      }
      return;
    }
    this.deliver(payload);
    if (this.reorder.size > 0) {
      let next: Buffer | undefined;
      while ((next = this.reorder.take(this.rcvNxt)) !== undefined) this.deliver(next);
      this.releaseReorder(this.reorderReserved - this.reorder.cost);
    }
    this.maybeFin();
    if (this.ackNowPending) this.maybeAckNow();
    else this.maybeGrant();
  }

  /** Sends the acknowledgement an ACK_NOW segment asked for once everything up to it is in order. */
  private maybeAckNow(): void {
    const due = seqDiff(this.rcvNxt, this.ackNowAt) >= 0;
    if (due) this.ackNowPending = false;
    this.maybeGrant(due);
  }

  /** The peer's FIN at offset `seq` arrived (the first one counts). */
  onFin(seq: number): void {
    if (this.finSeq !== -1) return;
    if (seqDiff(seq, this.grantSent) > 0 || seqDiff(seq, this.rcvNxt) < 0) {
      this.host.fail('protocol', `peer's FIN at offset ${seq} lies outside ${this.rcvNxt}..${this.grantSent} (received in order .. granted)`);
      return;
    }
    this.finSeq = seq;
    this.maybeFin();
  }

  /** Sends a CREDIT when the application consumed, or the peer sent, a quarter window since the last one (or `force`: when the grant did not shrink, or something is unacknowledged). */
  maybeGrant(force = false): void {
    if (this.finReceived) return;
    const consumed = seqAdd(this.rcvNxt, -this.host.readableLength);
    const grant = seqAdd(consumed, this.receiveWindow);
    const delta = seqDiff(grant, this.grantSent);
    // Also acknowledge every quarter window received, even while the reader is paused
    // (the grant does not move then), so the sender can release what it retains.
    const quarter = this.window >>> 2;
    if (delta >= quarter || seqDiff(this.rcvNxt, this.ackSent) >= quarter || (force && (delta >= 0 || this.rcvNxt !== this.ackSent))) {
      this.grantSent = delta > 0 ? grant : this.grantSent;
      this.ackSent = this.rcvNxt;
      const flags = this.extraWindow > 0 ? FrameFlag.HOL : 0;
      this.host.sendControl(controlFrame(FrameType.CREDIT, this.host.localPort, this.host.remotePort, this.rcvNxt, this.grantSent, flags));
    }
  }

  /**
   * Control tick: acknowledges bytes received since the last CREDIT even when the
   * grant moved less than a quarter window, so a sender whose send buffer is smaller
   * than that is not left waiting (like TCP's delayed ACK).
   */
  ackTick(): void {
    if (this.rcvNxt !== this.ackSent) this.maybeGrant(true);
  }

  /** Acknowledges everything up to the peer's FIN, so it can stop retaining data. */
  sendFinSeen(): void {
    this.host.sendControl(controlFrame(FrameType.CREDIT, this.host.localPort, this.host.remotePort, this.rcvNxt, this.grantSent, FrameFlag.FIN_SEEN));
  }

  /**
   * Control tick: detects a reader that stopped reading with a full window
   * (head-of-line), grants a bounded expansion (and the HOL flag asks the sender to
   * keep the socket off shared channels); undoes both once the reader catches up.
   * Returns what changed, if anything.
   */
  checkHol(): 'hol-detected' | 'hol-resolved' | undefined {
    if (this.finReceived || this.holExpansion === 0) return undefined;
    const readable = this.host.readableLength;
    const consumed = seqAdd(this.rcvNxt, -readable);
    const idle = consumed === this.lastConsumed;
    this.lastConsumed = consumed;
    if (this.extraWindow === 0) {
      this.stalledTicks = idle && readable >= this.window ? this.stalledTicks + 1 : 0;
      if (this.stalledTicks < 2) return undefined;
      this.stalledTicks = 0;
      this.extraWindow = this.holExpansion;
      this.maybeGrant(true);
      return 'hol-detected';
    }
    if (readable >= this.window >>> 1) return undefined;
    this.extraWindow = 0;
    this.maybeGrant(true);
    return 'hol-resolved';
  }

  /** True while out-of-order data is held (not delivered yet). */
  get holdsData(): boolean {
    return this.reorder.size > 0;
  }

  /**
   * A DATA or FIN frame after the socket was destroyed. Like a kernel after close():
   * new data is discarded, so the answer is an RST (`'reset'`); the peer's FIN when
   * nothing was lost is acknowledged (`'ack'`, FIN_SEEN sent); duplicates are ignored.
   */
  afterClose(f: Frame): 'ack' | 'reset' | 'ignore' {
    if (f.type === FrameType.FIN) {
      if (f.seq !== this.rcvNxt) return 'reset';
      this.sendFinSeen();
      return 'ack';
    }
    if (f.type !== FrameType.DATA) return 'ignore';
    return seqDiff(seqAdd(f.seq, f.payload.length), this.rcvNxt) > 0 ? 'reset' : 'ignore';
  }

  /** Drops out-of-order data and returns its reservation (the socket is closing). */
  clear(): void {
    this.releaseReorder(this.reorderReserved);
    this.reorder.clear();
  }

  private deliver(buf: Buffer): void {
    this.rcvNxt = seqAdd(this.rcvNxt, buf.length);
    this.received += buf.length;
    this.host.deliverUp(buf);
  }

  private maybeFin(): void {
    if (this.finSeq === -1 || this.finReceived || this.finSeq !== this.rcvNxt) return;
    this.finReceived = true;
    this.host.deliverUp(null);
    this.sendFinSeen();
  }

  /** Returns `bytes` of this socket's reorder reservation to the peer's budget. */
  private releaseReorder(bytes: number): void {
    if (bytes <= 0) return;
    this.reorderReserved -= bytes;
    this.host.reserveReorder(-bytes);
  }
}
