/**
 * VirtualSocket: a `stream.Duplex` that behaves like `net.Socket`, carried as
 * segments over the channels the scheduler picks. In-order delivery by byte sequence
 * numbers, credit flow control enforced at the sender, FIN/RST semantics like TCP.
 * @packageDocumentation
 */
import { ErrorCode, SocketError, type NetChannelError } from '../errors/index.js';
import type { AppClass } from '../netdriver/channel.js';
import { controlFrame, FrameFlag, FrameType, ResetReason, type Frame } from '../netdriver/frame.js';
import { ReorderBuffer } from './reorder-buffer.js';
import { retainCopy, type Slab } from './retain-slab.js';
import { RetransmitQueue } from './retransmit-queue.js';
import { seqAdd, seqDiff } from './seq.js';
import type { LinkedSocket, SocketLink } from './socket-link.js';
import { SocketSurface } from './socket-surface.js';

/** Default receive window (credit) per socket: 4 MiB. */
export const DEFAULT_WINDOW = 4 * 1024 * 1024;
/** Default largest DATA payload: 64 KiB. */
export const DEFAULT_MAX_SEGMENT = 64 * 1024;

/** Construction parameters (internal: sockets are made by stacks). */
export interface VirtualSocketInit {
  link: SocketLink;
  appClass: AppClass;
  localPort: number;
  remotePort: number;
  flowState: unknown;
  /** Receive window granted to the peer, in bytes. */
  window: number;
  /** Largest DATA payload sent. */
  maxSegment: number;
  /** Keep the writable side open after the peer ends (like net.Socket). */
  allowHalfOpen: boolean;
  /** Already established (acceptor side), with the peer's initial grant. */
  peerGrant?: number;
  /** Extra receive window granted while the reader stalls (HoL), bytes. */
  holExpansion: number;
  /**
   * Retain the caller's Buffers (no copy) for retransmission: the caller must not
   * modify a Buffer after writing it, even after the write callback.
   */
  zeroCopy: boolean;
}

/** Shared by every socket, so none needs its own closure for the deferred grant check. */
function deferredGrant(sock: VirtualSocket): void {
  sock.runDeferredGrant();
}

type State = 'connecting' | 'open' | 'closed';

/** A virtual socket: one reliable byte stream between two stacks. */
export class VirtualSocket extends SocketSurface implements LinkedSocket {
  /** Class of the socket (latency or throughput). */
  readonly appClass: AppClass;
  /** Local virtual port. */
  readonly localPort: number;
  /** Remote virtual port. */
  readonly remotePort: number;
  /** @internal Scheduler state. */
  readonly flowState: unknown;
  /** @internal Mapping state read by the session's channel selection. */
  /**
   * @internal Set while the peer reports its reader stalled (HoL): the socket stays on
   * one channel — this channel id, or 0 until the session picks one. Null: not pinned.
   */
  pinnedTo: number | null = null;
  /** @internal The session published `socket-opened` for it. */
  announced = false;

  private readonly link: SocketLink;
  private readonly window: number;
  private readonly mss: number;
  private readonly zeroCopy: boolean;
  private state: State;

  // Transmit side.
  private sndNxt = 0;
  private sndGrant = 0;
  private tx: Buffer[] = [];
  private txOffset = 0;
  private txBytes = 0;
  private sent = 0;
  private writeCb: ((err?: Error | null) => void) | null = null;
  private finalCb: ((err?: Error | null) => void) | null = null;
  private finSent = false;
  private finAcked = false;
  /** Sent DATA frames not yet acknowledged (kept for retransmission after a channel failure). */
  private readonly retx = new RetransmitQueue();
  /** Slab of the payload `takeTx` just returned. */
  private takenSlab: Slab | null = null;
  private resendControl = false;
  private lingering = false;
  /** Times the sender ran out of credit (flow-control stalls). */
  creditStalls = 0;

  // Receive side.
  private rcvNxt = 0;
  private grantSent = 0;
  private readonly reorder = new ReorderBuffer();
  /** Out-of-order bytes accounted against the peer's budget. */
  private reorderReserved = 0;
  private finSeq = -1;
  private finReceived = false;
  private received = 0;
  private resetByPeer = false;

  // Head-of-line handling (receive side).
  private readonly holExpansion: number;
  private extraWindow = 0;
  private lastConsumed = 0;
  private stalledTicks = 0;


  /** @internal Sockets are created by a stack's `connect` or a server. */
  constructor(init: VirtualSocketInit) {
    super({
      allowHalfOpen: init.allowHalfOpen,
      decodeStrings: true,
      emitClose: true,
      autoDestroy: true,
      // Keeps the re-grant rule live: when _read runs the buffer is under window/4.
      readableHighWaterMark: Math.min(64 * 1024, init.window >>> 2),
    });
    this.link = init.link;
    this.appClass = init.appClass;
    this.localPort = init.localPort;
    this.remotePort = init.remotePort;
    this.flowState = init.flowState;
    this.window = init.window;
    this.mss = init.maxSegment;
    this.zeroCopy = init.zeroCopy;
    this.holExpansion = init.holExpansion;
    this.grantSent = init.window;
    if (init.peerGrant === undefined) {
      this.state = 'connecting';
    } else {
      this.state = 'open';
      this.sndGrant = init.peerGrant >>> 0;
    }
  }

  // ---- net.Socket-like surface -------------------------------------------------

  /** True until the handshake completes. */
  override get connecting(): boolean {
    return this.state === 'connecting';
  }
  /** Address the peer stack was reached at, e.g. `tcp://127.0.0.1:7000`. */
  get remoteAddress(): string {
    return this.link.remoteAddress;
  }
  /** Host id of the peer stack. */
  get remoteHostId(): string {
    return this.link.remoteHostId;
  }
  /** This stack's host id. */
  get localAddress(): string {
    return this.link.localHostId;
  }
  /** Payload bytes received (delivered in order). */
  get bytesRead(): number {
    return this.received;
  }
  /** Payload bytes written: sent on channels plus still buffered in the socket. */
  get bytesWritten(): number {
    return this.sent + this.txBytes + this.writableLength;
  }
  /** `{ address, port, family }` of the local end, like net.Socket#address(). */
  address(): { address: string; port: number; family: string } {
    return { address: this.link.localHostId, port: this.localPort, family: 'netchannel' };
  }

  // ---- Duplex hooks ------------------------------------------------------------

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.queue(chunk);
    this.writeCb = cb;
    this.pump();
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    for (const c of chunks) this.queue(c.chunk);
    this.writeCb = cb;
    this.pump();
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.finalCb = cb;
    this.pump();
  }

  override _read(): void {
    // Readable.read() calls _read before it removes the bytes it returns, so judge
    // the consumption once the read has completed.
    if (!this.grantQueued) {
      this.grantQueued = true;
      process.nextTick(deferredGrant, this);
    }
  }

  private grantQueued = false;

  /** @internal Runs the grant check queued by `_read`. */
  runDeferredGrant(): void {
    this.grantQueued = false;
    this.maybeGrant();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const wasOpen = this.state !== 'closed';
    this.state = 'closed';
    this.stopIdleTimer();
    // Like TCP: once our FIN is out, closing sends no RST (it could overtake data on
    // another channel); later data from the peer is answered by the session's RST.
    const reset = wasOpen && !this.finSent && !this.resetByPeer;
    if (reset) {
      this.link.control(this.appClass, controlFrame(FrameType.RST, this.localPort, this.remotePort, 0, ResetReason.RESET));
    }
    this.tx = [];
    this.txBytes = 0;
    this.releaseReorder(this.reorderReserved);
    this.reorder.clear();
    if (!reset && !this.resetByPeer && this.finSent && !this.allAcked) {
      this.lingering = true;
      this.link.linger(this);
    } else {
      this.dropUnacked();
      this.link.detach(this);
    }
    const pending = this.writeCb ?? this.finalCb;
    this.writeCb = this.finalCb = null;
    if (pending) pending(err ?? new SocketError(ErrorCode.CLOSED, `virtual socket ${this.localPort}->${this.remotePort} destroyed`));
    this.link.closed(this, err);
    cb(err);
  }

  // ---- transmit ----------------------------------------------------------------

  private queue(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.tx.push(chunk);
    this.txBytes += chunk.length;
  }

  /**
   * Takes `n` bytes off the transmit queue. The result is kept for retransmission
   * until acknowledged, so bytes of the caller's Buffer are copied (the caller may
   * reuse its Buffer once the write callback ran, as with net.Socket) unless the
   * socket was made with `zeroCopy`.
   */
  private takeTx(n: number): Buffer {
    const head = this.tx[0]!;
    const avail = head.length - this.txOffset;
    if (avail >= n) {
      const slice = head.subarray(this.txOffset, this.txOffset + n);
      let out = slice;
      this.takenSlab = null;
      if (!this.zeroCopy) {
        const r = retainCopy(slice);
        out = r.payload;
        this.takenSlab = r.slab;
      }
      this.txOffset += n;
      if (this.txOffset === head.length) {
        this.tx.shift();
        this.txOffset = 0;
      }
      this.txBytes -= n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    this.takenSlab = null;
    let filled = 0;
    while (filled < n) {
      const c = this.tx[0]!;
      const k = Math.min(c.length - this.txOffset, n - filled);
      c.copy(out, filled, this.txOffset, this.txOffset + k);
      filled += k;
      this.txOffset += k;
      if (this.txOffset === c.length) {
        this.tx.shift();
        this.txOffset = 0;
      }
    }
    this.txBytes -= n;
    return out;
  }

  /** True when every byte sent (and the FIN, if sent) is acknowledged. */
  private get allAcked(): boolean {
    return this.retx.empty && (!this.finSent || this.finAcked);
  }

  /** @internal Sends as much queued data as credit and channels allow. */
  pump(): void {
    if ((this.retx.resendPending || this.resendControl) && !this.resend()) return;
    if (this.state !== 'open') return;
    while (this.txBytes > 0) {
      const credit = seqDiff(this.sndGrant, this.sndNxt);
      if (credit <= 0) {
        this.creditStalls++;
        return;
      }
      const n = Math.min(credit, this.mss, this.txBytes);
      const ch = this.link.select(this, n);
      if (ch === undefined) return;
      const payload = this.takeTx(n);
      const frame: Frame = { type: FrameType.DATA, flags: 0, src: this.localPort, dst: this.remotePort, seq: this.sndNxt, ack: 0, payload };
      ch.channel.enqueue(frame);
      this.retx.push(frame, this.takenSlab);
      this.sndNxt = seqAdd(this.sndNxt, n);
      this.sent += n;
    }
    this.touch();
    const cb = this.writeCb;
    if (cb) {
      this.writeCb = null;
      cb();
    }
    const fin = this.finalCb;
    if (fin && !this.finSent) {
      this.finalCb = null;
      this.finSent = true;
      this.link.control(this.appClass, controlFrame(FrameType.FIN, this.localPort, this.remotePort, this.sndNxt));
      fin();
    }
  }

  // ---- receive (called by the peer session) ------------------------------------

  /** @internal The handshake completed with the peer's initial grant. */
  onEstablished(peerGrant: number): void {
    if (this.state !== 'connecting') return;
    this.state = 'open';
    this.sndGrant = peerGrant >>> 0;
    this.emit('connect');
    this.emit('ready');
    this.pump();
  }

  /** @internal A frame for this socket arrived. */
  onFrame(f: Frame): void {
    switch (f.type) {
      case FrameType.DATA:
        this.onData(f.seq, f.payload);
        break;
      case FrameType.CREDIT: {
        const pinned = (f.flags & FrameFlag.HOL) !== 0;
        if (pinned !== (this.pinnedTo !== null)) {
          this.pinnedTo = pinned ? 0 : null;
          this.link.notify(this, pinned ? 'pinned' : 'shared', 0);
        }
        this.onAck(f.seq, (f.flags & FrameFlag.FIN_SEEN) !== 0);
        if (seqDiff(f.ack, this.sndGrant) > 0) {
          this.sndGrant = f.ack;
          this.pump();
        }
        break;
      }
      case FrameType.FIN:
        if (this.finSeq === -1) {
          this.finSeq = f.seq;
          this.maybeFin();
        }
        break;
      case FrameType.RST:
        this.onReset(f.ack);
        break;
      case FrameType.SYNC_ACK:
        this.onEstablished(f.ack);
        break;
      default:
        break;
    }
  }

  /** @internal True once the peer's FIN was received in order. */
  get peerFinished(): boolean {
    return this.finReceived;
  }

  /** @internal Destroys without telling the peer (the stack is going away). */
  abandon(): void {
    this.resetByPeer = true;
    this.destroy();
  }

  /** @internal The peer refused or reset the socket, or the link failed. */
  onReset(reason: number, err?: NetChannelError): void {
    if (reason === ResetReason.UNKNOWN && this.finSent && this.finReceived && !err) {
      // The peer already closed cleanly and forgot us: everything we sent was delivered.
      this.finAcked = true;
      this.dropUnacked();
      if (this.lingering) this.link.detach(this);
      return;
    }
    if (this.lingering) {
      this.dropUnacked();
      this.link.detach(this);
      return;
    }
    if (this.destroyed) return;
    this.resetByPeer = true;
    const where = `virtual port ${this.remotePort} at ${this.link.remoteAddress}`;
    const error =
      err ??
      (reason === ResetReason.REFUSED
        ? new SocketError(ErrorCode.CONNECTION_REFUSED, `connection refused: nobody listens on ${where}`)
        : reason === ResetReason.PROTOCOL
          ? new SocketError(ErrorCode.PROTOCOL, `peer reset ${where} for a protocol violation`)
          : reason === ResetReason.LIMIT
            ? new SocketError(ErrorCode.LIMIT, `peer refused ${where}: limit reached`)
            : new SocketError(ErrorCode.CONNECTION_RESET, `connection reset by peer (${where})`));
    this.destroy(error);
  }

  private onData(seq: number, payload: Buffer): void {
    if (this.finReceived || this.destroyed) return;
    const len = payload.length;
    if (seqDiff(seqAdd(seq, len), this.grantSent) > 0) {
      // (grantSent never shrinks, so an expansion that was undone stays honoured.)
      this.protocolError(`peer sent bytes ${seq}..${seqAdd(seq, len)} beyond the granted offset ${this.grantSent}`);
      return;
    }
    let off = seqDiff(seq, this.rcvNxt);
    if (off < 0) {
      if (off + len <= 0) return; // duplicate
      payload = payload.subarray(-off);
      off = 0;
    }
    if (off > 0) {
      this.reorder.insert(seq, payload);
      const added = this.reorder.bytes - this.reorderReserved;
      if (this.reorder.bytes > this.window + this.extraWindow) {
        this.protocolError(`peer made this socket hold ${this.reorder.bytes} out-of-order bytes, over its window of ${this.window + this.extraWindow}`);
      } else if (added > 0 && this.link.reserveReorder(added)) {
        this.reorderReserved += added;
      } else if (added > 0) {
        this.link.control(this.appClass, controlFrame(FrameType.RST, this.localPort, this.remotePort, 0, ResetReason.LIMIT));
        this.resetByPeer = true;
        this.destroy(new SocketError(ErrorCode.LIMIT, `peer's out-of-order bytes exceed maxReorderBytesPerPeer; socket ${this.localPort}->${this.remotePort} reset`));
      }
      return;
    }
    this.deliver(payload);
    if (this.reorder.size > 0) {
      let next: Buffer | undefined;
      while ((next = this.reorder.take(this.rcvNxt)) !== undefined) this.deliver(next);
      this.releaseReorder(this.reorderReserved - this.reorder.bytes);
    }
    this.maybeFin();
    this.maybeGrant();
  }

  /** Returns `bytes` of this socket's reorder reservation to the peer's budget. */
  private releaseReorder(bytes: number): void {
    if (bytes <= 0) return;
    this.reorderReserved -= bytes;
    this.link.reserveReorder(-bytes);
  }

  private deliver(buf: Buffer): void {
    this.rcvNxt = seqAdd(this.rcvNxt, buf.length);
    this.received += buf.length;
    this.touch();
    this.push(buf);
  }

  private maybeFin(): void {
    if (this.finSeq === -1 || this.finReceived || this.finSeq !== this.rcvNxt) return;
    this.finReceived = true;
    this.push(null);
    this.sendFinSeen();
  }

  /** Acknowledges everything up to the peer's FIN, so it can stop retaining data. */
  private sendFinSeen(): void {
    this.link.control(this.appClass, controlFrame(FrameType.CREDIT, this.localPort, this.remotePort, this.rcvNxt, this.grantSent, FrameFlag.FIN_SEEN));
  }

  /** Drops acknowledged frames; `finSeen` also acknowledges the FIN. */
  private onAck(ack: number, finSeen: boolean): void {
    this.retx.ack(ack);
    if (finSeen && this.finSent && seqDiff(ack, this.sndNxt) === 0) this.finAcked = true;
    if (this.lingering && this.allAcked) {
      this.lingering = false;
      this.link.detach(this);
    }
  }

  private dropUnacked(): void {
    this.retx.clear();
    this.resendControl = false;
  }

  /**
   * @internal A channel this socket may have used failed: re-send every unacknowledged
   * segment (the receiver drops duplicates), the SYNC or FIN if outstanding, and our
   * current credit, on the channels that remain.
   */
  retransmit(): void {
    if (this.destroyed && !this.lingering) return;
    this.retx.rewind();
    this.resendControl = true;
    this.pump();
  }

  /** Re-sends pending frames; false when a channel is full (resumed by the link later). */
  private resend(): boolean {
    if (this.resendControl) {
      this.resendControl = false;
      if (this.state === 'connecting') this.link.control(this.appClass, this.syncFrame());
      if (this.state === 'open') {
        if (this.finReceived) this.sendFinSeen();
        else this.maybeGrant(true);
      }
    }
    for (let f = this.retx.peekResend(); f !== undefined; f = this.retx.peekResend()) {
      const ch = this.link.select(this, f.payload.length);
      if (ch === undefined) return false;
      ch.channel.enqueue(f);
      this.retx.resent();
    }
    if (this.finSent && !this.finAcked) this.link.control(this.appClass, controlFrame(FrameType.FIN, this.localPort, this.remotePort, this.sndNxt));
    return true;
  }

  /** Sends a CREDIT when the application consumed a quarter window since the last one. */
  private maybeGrant(force = false): void {
    if (this.state === 'closed' || this.finReceived) return;
    const consumed = seqAdd(this.rcvNxt, -this.readableLength);
    const grant = seqAdd(consumed, this.window + this.extraWindow);
    const delta = seqDiff(grant, this.grantSent);
    if (delta >= this.window >>> 2 || (force && delta >= 0)) {
      this.grantSent = delta > 0 ? grant : this.grantSent;
      const flags = this.extraWindow > 0 ? FrameFlag.HOL : 0;
      this.link.control(this.appClass, controlFrame(FrameType.CREDIT, this.localPort, this.remotePort, this.rcvNxt, this.grantSent, flags));
    }
  }

  /** Current receive window (credit) including any HoL expansion, bytes. */
  get receiveWindow(): number {
    return this.window + this.extraWindow;
  }

  /**
   * @internal Control tick (scheduler): detects a reader that stopped reading with a
   * full window (head-of-line), grants a bounded expansion and asks the sender to
   * keep the socket off shared channels; undoes both once the reader catches up.
   */
  checkHol(): void {
    if (this.state !== 'open' || this.finReceived || this.holExpansion === 0) return;
    const consumed = seqAdd(this.rcvNxt, -this.readableLength);
    const idle = consumed === this.lastConsumed;
    this.lastConsumed = consumed;
    if (this.extraWindow === 0) {
      this.stalledTicks = idle && this.readableLength >= this.window ? this.stalledTicks + 1 : 0;
      if (this.stalledTicks >= 2) {
        this.stalledTicks = 0;
        this.extraWindow = this.holExpansion;
        this.maybeGrant(true);
        this.link.notify(this, 'hol-detected', this.receiveWindow);
      }
    } else if (this.readableLength < this.window >>> 1) {
      this.extraWindow = 0;
      this.maybeGrant(true);
      this.link.notify(this, 'hol-resolved', this.receiveWindow);
    }
  }

  private protocolError(message: string): void {
    this.link.control(this.appClass, controlFrame(FrameType.RST, this.localPort, this.remotePort, 0, ResetReason.PROTOCOL));
    this.resetByPeer = true; // RST already sent
    this.destroy(new SocketError(ErrorCode.PROTOCOL, message));
  }


  /** @internal SYNC frame for this socket (connect side). */
  syncFrame(): Frame {
    return controlFrame(FrameType.SYNC, this.localPort, this.remotePort, 0, this.window, this.appClass === 'latency' ? FrameFlag.LATENCY : 0);
  }

  /** @internal SYNC_ACK frame for this socket (accept side). */
  synAckFrame(): Frame {
    return controlFrame(FrameType.SYNC_ACK, this.localPort, this.remotePort, 0, this.window, this.appClass === 'latency' ? FrameFlag.LATENCY : 0);
  }
}
