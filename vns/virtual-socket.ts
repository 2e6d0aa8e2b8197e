/**
 * VirtualSocket: a `stream.Duplex` that behaves like `net.Socket`, carried as
 * segments over the channels the scheduler picks. In-order delivery by byte sequence
 * numbers, credit flow control enforced at the sender, FIN/RST semantics like TCP.
 * @packageDocumentation
 */
import { ErrorCode, SocketError, type NetChannelError } from '../errors/index.js';
import type { AppClass } from '../netdriver/channel.js';
import { controlFrame, FrameFlag, FrameType, ResetReason, type Frame } from '../netdriver/frame.js';
import { traceNow, type SegmentTrace } from '../netdriver/segment-trace.js';
import { AckGate, COPY_WRITES_BELOW } from './ack-gate.js';
import { RetransmitQueue } from './retransmit-queue.js';
import { SocketReceiver, type ReceiverHost } from './socket-receiver.js';
import { MAX_GRANT, seqAdd, seqDiff } from './seq.js';
import { UNBOUND_LINK, type LinkedSocket, type SocketBinding, type SocketLink } from './socket-link.js';
import { SocketSurface } from './socket-surface.js';
import { TxQueue } from './tx-queue.js';
import { resetError } from './reset-error.js';
import type { VirtualSocketInit } from './socket-init.js';

export type { SocketBinding } from './socket-link.js';
export { DEFAULT_MAX_SEGMENT, DEFAULT_WINDOW, type VirtualSocketInit } from './socket-init.js';
/** Shared by every socket, so none needs its own closure for the deferred grant check. */
function deferredGrant(sock: VirtualSocket): void {
  sock.runDeferredGrant();
}

/** `idle`: made by `createSocket`, `connect()` not called yet. */
type State = 'idle' | 'connecting' | 'open' | 'closed';
type Callback = (err?: Error | null) => void;

/** A virtual socket: one reliable byte stream between two stacks. */
export class VirtualSocket extends SocketSurface implements LinkedSocket, ReceiverHost {
  /** Class of the socket (latency or throughput). */
  readonly appClass: AppClass;
  /** @internal Scheduler state. */
  flowState: unknown;
  /**
   * @internal Set while the peer reports its reader stalled (HoL): the socket stays on
   * one channel — this channel id, or 0 until the session picks one. Null: not pinned.
   */
  pinnedTo: number | null = null;
  /** @internal The session published `socket-opened` for it. */
  announced = false;

  private link: SocketLink = UNBOUND_LINK;
  private lport = 0;
  private rport = 0;
  private readonly window: number;
  private readonly mss: number;
  private readonly sendBuffer: number;
  private state: State;

  // Transmit side.
  private sndNxt = 0;
  private sndGrant = 0;
  /** Written bytes not yet sent. */
  private readonly tx: TxQueue;
  private sent = 0;
  /** Bytes of the `_write`/`_writev` whose callback is pending (still counted in `writableLength`). */
  private inWrite = 0;
  /** Write callbacks waiting for acknowledgements (large writes, kept by reference). */
  /** Created on the first ack-gated write (an idle socket never needs one); always null with `zeroCopyWrites`. */
  private gate: AckGate | null = null;
  private readonly zeroCopy: boolean;
  /** The latency trace (latency sockets of a stack with `latencyTrace`), and the time of the last write(). */
  private readonly trace: SegmentTrace | null;
  private lastWriteAt = 0;
  private writeCb: ((err?: Error | null) => void) | null = null;
  private finalCb: ((err?: Error | null) => void) | null = null;
  private finSent = false;
  private finAcked = false;
  /** Sent DATA frames not yet acknowledged (kept for retransmission after a channel failure). */
  private readonly retx: RetransmitQueue;
  private resendControl = false;
  private lingering = false;
  /** Times the sender ran out of credit (flow-control stalls). */
  creditStalls = 0;
  /** @internal The window the peer granted last, bytes. */
  sendWindow = 0;

  /** Receive side: reordering, credit, the peer's FIN, HoL detection. */
  private readonly rx: SocketReceiver;
  private resetByPeer = false;

  /** @internal Sockets are created by a stack's `connect` or a server. */
  constructor(init: VirtualSocketInit) {
    super({
      allowHalfOpen: init.allowHalfOpen,
      decodeStrings: true,
      autoDestroy: true,
      // Keeps the re-grant rule live: when _read runs the buffer is under window/4.
      readableHighWaterMark: Math.min(64 * 1024, init.window >>> 2),
    });
    this.appClass = init.appClass;
    this.window = init.window;
    this.mss = init.maxSegment;
    this.sendBuffer = init.sendBuffer;
    this.retx = new RetransmitQueue(this);
    this.tx = new TxQueue(init.zeroCopy);
    this.zeroCopy = init.zeroCopy;
    this.trace = init.trace ?? null;
    this.rx = new SocketReceiver(this, init.window, init.holExpansion);
    this.state = init.peerGrant === undefined ? (init.link ? 'connecting' : 'idle') : 'open';
    if (init.link) this.bind(init as SocketBinding);
    if (init.peerGrant !== undefined) this.sndGrant = this.sendWindow = init.peerGrant >>> 0;
  }

  /** @internal Binds the socket to its peer session and ports (once). */
  bind(b: SocketBinding): void {
    this.link = b.link;
    this.lport = b.localPort;
    this.rport = b.remotePort;
    this.flowState = b.flowState;
  }

  /** @internal The stack started opening the socket (dialing, then SYNC). */
  markConnecting(): void {
    if (this.state === 'idle') this.state = 'connecting';
  }

  /** True while the socket is being opened (after `connect`, before `'connect'`). */
  override get connecting(): boolean {
    return this.state === 'connecting';
  }
  protected override get established(): boolean {
    return this.state === 'open' && !this.destroyed;
  }
  /** Local virtual port: a listening port on accepted sockets, an ephemeral port (49152–65535) on connecting ones; 0 until opened. */
  override get localPort(): number {
    return this.lport;
  }
  /** Remote virtual port; 0 until `connect()`. */
  get remotePort(): number {
    return this.rport;
  }
  /** Address the peer stack was reached at (e.g. `tcp://127.0.0.1:7000`); `''` until opened. */
  get remoteStackAddress(): string {
    return this.link.remoteAddress;
  }
  /** Host id of the peer stack; `''` until opened. */
  get remoteHostId(): string {
    return this.link.remoteHostId;
  }
  /** Payload bytes received (delivered in order). */
  get bytesRead(): number {
    return this.rx.received;
  }
  /** Payload bytes written: sent on channels plus still buffered in the socket. */
  get bytesWritten(): number {
    return this.sent + this.tx.bytes + this.writableLength;
  }
  /** Bytes held for sending: written but unsent, plus sent but unacknowledged (≤ `sendBuffer` + one write). */
  get retainedBytes(): number {
    return this.tx.bytes + this.retx.bytes;
  }
  /** @internal Out-of-order bytes held for this socket. */
  get reorderBytes(): number {
    return this.rx.reorderBytes;
  }

  // ---- Duplex hooks ------------------------------------------------------------
  /**
   * As `net.Socket#write`. A Buffer of at least 64 KiB is sent without a copy: its
   * callback runs once the peer acknowledged it, and the caller may reuse the Buffer
   * from then on (smaller writes are copied; see `zeroCopyWrites`).
   */
  override write(chunk: unknown, encoding?: BufferEncoding | Callback, cb?: Callback): boolean {
    if (typeof encoding === 'function') {
      cb = encoding;
      encoding = undefined;
    }
    if (this.trace !== null) this.lastWriteAt = traceNow();
    if (!this.zeroCopy && cb !== undefined && chunk instanceof Uint8Array && chunk.byteLength >= COPY_WRITES_BELOW) {
      // Stream offset where this write ends: sent, queued here, and buffered in the
      // Writable (which still counts the chunk being written, already in tx or sent).
      const end = this.sent + this.tx.bytes + this.writableLength - this.inWrite + chunk.byteLength;
      const done = cb;
      const gate = (this.gate ??= new AckGate());
      gate.expect(end);
      cb = (err) => (err ? done(err) : gate.wait(end, this.sent - this.retx.bytes, done));
    }
    return super.write(chunk, encoding as BufferEncoding, cb);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.tx.push(chunk);
    this.inWrite = chunk.length;
    this.writeCb = cb;
    this.pump();
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    this.inWrite = 0;
    for (const c of chunks) {
      this.tx.push(c.chunk);
      this.inWrite += c.chunk.length;
    }
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
    this.grant();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const was = this.state;
    this.state = 'closed';
    this.stopIdleTimer();
    // Like TCP close(): an RST only when received data is discarded unread, on
    // resetAndDestroy(), or to abort a connect; otherwise what was handed to a channel
    // is delivered, then a FIN (the written but unsent rest is dropped, as net does).
    const reset = !this.resetByPeer && (was === 'connecting' || (was === 'open' && (this.resetRequested || this.readableLength > 0 || this.rx.holdsData)));
    if (reset) this.link.control(this, controlFrame(FrameType.RST, this.localPort, this.remotePort, 0, ResetReason.RESET));
    this.tx.clear();
    this.rx.clear();
    if (!reset && !this.resetByPeer && was === 'open' && !this.finSent) {
      this.finSent = true;
      this.link.control(this, controlFrame(FrameType.FIN, this.localPort, this.remotePort, this.sndNxt));
    }
    // Made only when a callback gets it (an Error captures a stack: not free per close).
    const failure = (): Error => err ?? new SocketError(ErrorCode.CLOSED, `virtual socket ${this.localPort}->${this.remotePort} destroyed`);
    if (!reset && !this.resetByPeer && this.finSent && !this.allAcked) {
      this.lingering = true;
      this.link.linger(this);
    } else {
      this.dropUnacked(this.gate?.waiting ? failure() : null);
      this.link.detach(this);
    }
    const pending = this.writeCb ?? this.finalCb;
    this.writeCb = this.finalCb = null;
    this.inWrite = 0;
    if (pending) pending(failure());
    this.link.closed(this, err);
    this.finishDestroy(err, cb);
  }

  // ---- transmit ----------------------------------------------------------------
  /** @internal The link picked channel `channelId` for the next `n` bytes: build that DATA frame. */
  takeSegment(n: number, channelId: number): Frame {
    const payload = this.tx.take(n);
    const flags = this.gate?.reaches(this.sent + n) ? FrameFlag.ACK_NOW : 0;
    const frame: Frame = { type: FrameType.DATA, flags, src: this.localPort, dst: this.remotePort, seq: this.sndNxt, ack: 0, payload };
    this.retx.push(frame, this.tx.takenSlab, channelId);
    if (this.trace !== null) this.trace.selected(frame, this.lastWriteAt);
    this.sndNxt = seqAdd(this.sndNxt, n);
    this.sent += n;
    return frame;
  }

  /** True when every byte sent (and the FIN, if sent) is acknowledged. */
  private get allAcked(): boolean {
    return this.retx.empty && (!this.finSent || this.finAcked);
  }

  /** @internal Sends as much queued data as credit and channels allow. */
  pump(): void {
    if ((this.retx.resendPending || this.resendControl) && !this.resend()) return;
    if (this.state !== 'open') return;
    while (this.tx.bytes > 0) {
      const credit = seqDiff(this.sndGrant, this.sndNxt);
      if (credit <= 0) {
        this.creditStalls++;
        return;
      }
      if (!this.link.sendData(this, Math.min(credit, this.mss, this.tx.bytes))) return;
    }
    this.touch();
    const cb = this.writeCb;
    // The send buffer: a writer is paced by acknowledgements, not by our memory.
    if (cb && this.retx.bytes < this.sendBuffer) {
      this.writeCb = null;
      this.inWrite = 0;
      cb();
    }
    const fin = this.finalCb;
    if (fin && !this.finSent) {
      this.finalCb = null;
      this.finSent = true;
      this.link.control(this, controlFrame(FrameType.FIN, this.localPort, this.remotePort, this.sndNxt));
      fin();
    }
  }

  // ---- receive (called by the peer session) ------------------------------------
  /** @internal The handshake completed with the peer's initial grant. */
  onEstablished(peerGrant: number): void {
    if (this.state !== 'connecting') return;
    if (peerGrant > MAX_GRANT) return this.fail('protocol', `peer granted a window of ${peerGrant} bytes in its SYNC_ACK, over the maximum ${MAX_GRANT}`);
    this.state = 'open';
    this.sndGrant = this.sendWindow = peerGrant >>> 0;
    this.emit('connect');
    this.emit('ready');
    this.pump();
  }

  /** @internal A frame for this socket arrived. */
  onFrame(f: Frame): void {
    if (this.destroyed && f.type !== FrameType.CREDIT && f.type !== FrameType.RST) {
      // Lingering after destroy: as a kernel after close() (see SocketReceiver.afterClose).
      if (this.rx.afterClose(f) === 'reset' && this.lingering) {
        this.link.control(this, controlFrame(FrameType.RST, this.localPort, this.remotePort, 0, ResetReason.RESET));
        this.onReset(ResetReason.RESET);
      }
      return;
    }
    switch (f.type) {
      case FrameType.DATA:
        if (this.trace !== null) this.trace.delivered(f);
        this.rx.onData(f.seq, f.payload, f.flags);
        break;
      case FrameType.CREDIT: {
        const pinned = (f.flags & FrameFlag.HOL) !== 0;
        if (pinned !== (this.pinnedTo !== null)) {
          this.pinnedTo = pinned ? 0 : null;
          this.link.notify(this, pinned ? 'pinned' : 'shared', 0);
        }
        if (seqDiff(f.ack, f.seq) > MAX_GRANT) return this.fail('protocol', `peer granted up to offset ${f.ack}, ${seqDiff(f.ack, f.seq)} bytes past its acknowledgement, over the maximum ${MAX_GRANT}`);
        this.sendWindow = seqDiff(f.ack, f.seq);
        this.onAck(f.seq, (f.flags & FrameFlag.FIN_SEEN) !== 0);
        if (seqDiff(f.ack, this.sndGrant) > 0) {
          this.sndGrant = f.ack;
          this.pump();
        }
        break;
      }
      case FrameType.FIN:
        this.rx.onFin(f.seq);
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
    return this.rx.finReceived;
  }

  /** @internal Destroys without telling the peer (the stack is going away). */
  abandon(): void {
    this.resetByPeer = true;
    this.destroy();
  }

  /** @internal The peer refused or reset the socket, or the link failed. */
  onReset(reason: number, err?: NetChannelError): void {
    if (reason === ResetReason.UNKNOWN && this.finSent && this.rx.finReceived && !err) {
      // The peer already closed cleanly and forgot us: everything we sent was delivered.
      this.finAcked = true;
      this.dropUnacked(null);
      if (this.lingering) this.link.detach(this);
      return;
    }
    if (this.lingering) {
      this.dropUnacked(err ?? resetError(reason, `virtual port ${this.remotePort} at ${this.link.remoteAddress}`));
      this.link.detach(this);
      return;
    }
    if (this.destroyed) return;
    this.resetByPeer = true;
    this.destroy(err ?? resetError(reason, `virtual port ${this.remotePort} at ${this.link.remoteAddress}`));
  }

  /** Drops acknowledged frames; `finSeen` also acknowledges the FIN. */
  private onAck(ack: number, finSeen: boolean): void {
    this.retx.ack(ack);
    if (this.gate?.waiting) this.gate.acked(this.sent - this.retx.bytes);
    if (this.writeCb) this.pump(); // acknowledgements make room in the send buffer
    if (finSeen && this.finSent && seqDiff(ack, this.sndNxt) === 0) this.finAcked = true;
    if (this.lingering && this.allAcked) {
      this.lingering = false;
      this.link.detach(this);
    }
  }

  /** @internal The linger timeout ran out: see {@link LinkedSocket.lingerExpired}. */
  lingerExpired(): void {
    if (!this.lingering) return;
    this.lingering = false;
    this.dropUnacked(new SocketError(ErrorCode.TIMEOUT, `virtual socket ${this.localPort}->${this.remotePort}: the peer did not acknowledge the data sent before lingerTimeout`));
    this.link.detach(this);
  }

  /** Drops what awaits acknowledgement; waiting write callbacks get `err` (null: the peer had it all). */
  private dropUnacked(err: Error | null): void {
    this.retx.clear();
    this.resendControl = false;
    this.gate?.drop(err);
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

  /** @internal Channel `channelId` went stale: re-send the segments it holds on the other channels. */
  reinject(channelId: number): void {
    if (this.destroyed && !this.lingering) return;
    this.retx.reinject(channelId);
    // Control frames (our grant, SYNC, FIN) may be stuck on it too: send the current ones again.
    this.resendControl = true;
    this.pump();
  }

  /** Re-sends pending frames; false when a channel is full (resumed by the link later). */
  private resend(): boolean {
    if (this.resendControl) {
      this.resendControl = false;
      if (this.state === 'connecting') this.link.control(this, this.syncFrame());
      if (this.state === 'open') {
        if (this.rx.finReceived) this.rx.sendFinSeen();
        else this.grant(true);
      }
    }
    for (let f = this.retx.peekResend(); f !== undefined; f = this.retx.peekResend()) {
      const channelId = this.link.resendData(this, f);
      if (channelId < 0) return false;
      this.retx.resent(channelId);
    }
    if (this.finSent && !this.finAcked) this.link.control(this, controlFrame(FrameType.FIN, this.localPort, this.remotePort, this.sndNxt));
    return true;
  }

  /** Sends a CREDIT if the application consumed enough (or `force`), unless closed. */
  private grant(force = false): void {
    if (this.state !== 'closed') this.rx.maybeGrant(force);
  }

  /** Current receive window (credit) including any HoL expansion, bytes. */
  get receiveWindow(): number {
    return this.rx.receiveWindow;
  }

  /** @internal Control tick (scheduler): delayed acknowledgement and head-of-line check of the receive side. */
  checkHol(): void {
    if (this.state !== 'open') return;
    this.rx.ackTick();
    const change = this.rx.checkHol();
    if (change !== undefined) this.link.notify(this, change, this.rx.receiveWindow);
  }

  // ---- ReceiverHost: what the receive side may do to this socket ---------------------
  /** @internal In-order bytes (or the end, `null`) for the application. */
  deliverUp(chunk: Buffer | null): void {
    if (chunk !== null) this.touch();
    this.push(chunk);
    if (chunk === null) this.read(0); // as net: 'end' without a reader when nothing is buffered
  }
  /** @internal A control frame (CREDIT) of the receive side. */
  sendControl(frame: Frame): void {
    this.link.control(this, frame);
  }
  /** @internal The retransmission queue's retained bytes changed by `delta` (the peer's memory budget). */
  retainedChanged(delta: number): void {
    this.link.retain(delta);
  }
  /** @internal Out-of-order bytes against the peer's budget. */
  reserveReorder(delta: number): boolean {
    return this.link.reserveReorder(delta);
  }

  /** @internal The memory budget reclaims this socket: RST LIMIT, `NETCHANNEL_ERR_LIMIT`. */
  limitReset(message: string): void {
    if (this.lingering) {
      this.link.control(this, controlFrame(FrameType.RST, this.localPort, this.remotePort, 0, ResetReason.LIMIT));
      this.dropUnacked(new SocketError(ErrorCode.LIMIT, message));
      this.link.detach(this);
    } else if (!this.destroyed) this.fail('limit', message);
  }

  /** @internal The peer broke the protocol or a limit: RST to it, and this socket fails. */
  fail(kind: 'protocol' | 'limit', message: string): void {
    const limit = kind === 'limit';
    this.link.control(this, controlFrame(FrameType.RST, this.localPort, this.remotePort, 0, limit ? ResetReason.LIMIT : ResetReason.PROTOCOL));
    this.resetByPeer = true; // RST already sent
    this.destroy(new SocketError(limit ? ErrorCode.LIMIT : ErrorCode.PROTOCOL, message));
  }

  /** @internal SYNC (connect side) or SYNC_ACK (accept side) frame for this socket. */
  syncFrame(type: typeof FrameType.SYNC | typeof FrameType.SYNC_ACK = FrameType.SYNC): Frame {
    return controlFrame(type, this.localPort, this.remotePort, 0, this.window, this.appClass === 'latency' ? FrameFlag.LATENCY : 0);
  }
}
