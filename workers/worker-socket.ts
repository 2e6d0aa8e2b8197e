/**
 * Worker side of one channel: owns the `net.Socket`, writes what the main thread
 * encoded, decodes and validates what arrives (the FrameDecoder is the security
 * boundary, so malformed input fails the channel here, before it crosses threads),
 * and hands frames up in per-turn batches (`'transfer'`) or through a byte ring
 * (`'shared'`). Behaves like StreamChannel towards the socket: RST on destroy, a
 * zero-length probe after EOF, errors kept for the close report.
 * @packageDocumentation
 */
import type net from 'node:net';
import { ErrorCode, NetChannelError } from '../errors/index.js';
import { FrameDecoder } from '../netdriver/codec.js';
import type { Frame } from '../netdriver/frame.js';
import { packFrames, wireBytes } from './batch.js';
import type { RingPair, WireChannelOptions, WorkerOp } from './protocol.js';
import { ByteRing } from './ring.js';
import { RingFrameWriter } from './ring-writer.js';

/** Where a worker socket sends its operations (one message per event-loop turn). */
export interface WorkerOutbox {
  /** Appends an operation (with the ArrayBuffer to transfer, if any). */
  push(op: WorkerOp, transfer?: ArrayBuffer): void;
  /** Asks for `flush()` on this socket before the turn's message is posted. */
  markDirty(s: WorkerSocket): void;
}

const EMPTY_CHUNK = Buffer.alloc(0);

/** One channel's socket inside a channel worker. */
export abstract class WorkerSocket {
  protected readonly decoder: FrameDecoder;
  private closeCode: string | undefined;
  private closeMessage: string | undefined;
  private heldByMain = false;
  private paused = false;
  protected closed = false;
  private dirty = false;

  constructor(
    /** Channel id (shared with the main thread). */
    readonly c: number,
    protected readonly socket: net.Socket,
    opts: WireChannelOptions,
    protected readonly out: WorkerOutbox,
    private readonly onGone: (s: WorkerSocket) => void,
  ) {
    this.decoder = new FrameDecoder({ ...(opts.maxPayload !== undefined && { maxPayload: opts.maxPayload }), splitData: opts.splitData });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => {
      this.beforeEnd();
      this.out.push({ k: 'end', c: this.c });
      this.probePeer();
    });
    socket.on('error', (err: Error & { code?: string }) => {
      if (this.closeMessage === undefined) {
        this.closeCode = ErrorCode.CLOSED;
        this.closeMessage = `transport failed: ${err.message}`;
      }
    });
    socket.on('close', () => {
      if (this.closed) return;
      this.closed = true;
      this.beforeEnd();
      this.out.push(this.closeMessage === undefined ? { k: 'close', c: this.c } : { k: 'close', c: this.c, code: this.closeCode!, message: this.closeMessage });
      this.dispose();
      this.onGone(this);
    });
  }

  /** Called by the outbox before it posts: move pending work into operations. */
  flush(): void {
    this.dirty = false;
    this.onFlush();
  }

  protected markDirty(): void {
    if (this.dirty) return;
    this.dirty = true;
    this.out.markDirty(this);
  }

  // ---- operations from the main thread ---------------------------------------------

  /** Encoded frames to write (transfer mode, or shared-mode leftovers at end). */
  abstract tx(b: ArrayBuffer): void;
  /** Transfer mode: the main thread took `n` bytes of rx batches. */
  rxAck(_n: number): void {}

  end(): void {
    if (this.closed || this.socket.writableEnded) return;
    this.beforeSocketEnd();
    this.socket.end();
  }

  destroy(): void {
    if (this.closed) return;
    try {
      this.socket.resetAndDestroy();
    } catch {
      this.socket.destroy(); // not a TCP handle (unix)
    }
  }

  pauseByMain(held: boolean): void {
    this.heldByMain = held;
    this.updateFlow();
  }

  // ---- hooks for the hand-off modes -------------------------------------------------

  /** Frames decoded from `wire` transport bytes. */
  protected abstract onRxFrames(frames: Frame[], wire: number): void;
  /** Move batched work into operations (called once per turn when dirty). */
  protected abstract onFlush(): void;
  /** The peer ended or the socket closed: hand up everything received first. */
  protected abstract beforeEnd(): void;
  /** The main thread ended: write everything it sent first. */
  protected beforeSocketEnd(): void {}
  /** Release mode resources after close. */
  protected dispose(): void {}
  /** True while the mode itself wants reading stopped (window full, ring full). */
  protected abstract get heldByMode(): boolean;

  /** Pauses or resumes the socket to match the main thread's and the mode's wishes. */
  protected updateFlow(): void {
    const hold = this.heldByMain || this.heldByMode;
    if (hold === this.paused || this.closed) return;
    this.paused = hold;
    if (hold) this.socket.pause();
    else this.socket.resume();
  }

  /** Writes `buf` and calls `done(len)` once the OS took it. */
  protected write(buf: Buffer, done?: (n: number) => void): void {
    if (this.closed || this.socket.writableEnded) return;
    const n = buf.length;
    if (done) this.socket.write(buf, (err) => err === null || err === undefined ? done(n) : undefined);
    else this.socket.write(buf);
  }

  private onData(chunk: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.decoder.push(chunk);
    } catch (err) {
      const e = err as NetChannelError;
      this.closeCode = e instanceof NetChannelError ? e.code : ErrorCode.BAD_FRAME;
      this.closeMessage = e.message;
      this.destroy();
      return;
    }
    this.onRxFrames(frames, chunk.length);
  }

  /** After EOF a zero-length write tells an aborted peer (EPIPE) from a half-close. */
  private probePeer(): void {
    if (this.closed || this.socket.destroyed || this.socket.writableEnded) return;
    this.socket.write(EMPTY_CHUNK);
  }
}

/** `'transfer'` hand-off: frames batched per turn into one transferred ArrayBuffer. */
export class TransferSocket extends WorkerSocket {
  private pending: Frame[] = [];
  private pendingBytes = 0;
  private pendingWire = 0;
  private inflight = 0;
  private acked = 0;
  private windowHeld = false;

  constructor(
    c: number,
    socket: net.Socket,
    private readonly opts: WireChannelOptions,
    out: WorkerOutbox,
    onGone: (s: WorkerSocket) => void,
  ) {
    super(c, socket, opts, out, onGone);
  }

  protected get heldByMode(): boolean {
    return this.windowHeld;
  }

  tx(b: ArrayBuffer): void {
    this.write(Buffer.from(b), this.onWritten);
  }

  private readonly onWritten = (n: number): void => {
    this.acked += n;
    this.markDirty();
  };

  override rxAck(n: number): void {
    this.inflight -= n;
    if (this.windowHeld && this.inflight + this.pendingBytes < this.opts.rxWindow) {
      this.windowHeld = false;
      this.updateFlow();
    }
  }

  protected onRxFrames(frames: Frame[], wire: number): void {
    this.pendingWire += wire;
    if (frames.length > 0) {
      for (const f of frames) this.pending.push(f);
      this.pendingBytes += wireBytes(frames);
    }
    if (this.pendingWire > 0) this.markDirty();
    if (!this.windowHeld && this.inflight + this.pendingBytes >= this.opts.rxWindow) {
      this.windowHeld = true;
      this.updateFlow();
    }
  }

  protected onFlush(): void {
    this.flushRx();
    if (this.acked > 0) {
      this.out.push({ k: 'ack', c: this.c, n: this.acked });
      this.acked = 0;
    }
  }

  private flushRx(): void {
    if (this.pending.length === 0) return; // wire bytes of a partial frame ride with the next batch
    const b = packFrames(this.pending, this.pendingBytes);
    this.out.push({ k: 'rx', c: this.c, b, w: this.pendingWire }, b);
    this.inflight += this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    this.pendingWire = 0;
  }

  protected beforeEnd(): void {
    this.flushRx();
  }
}

/** `'shared'` hand-off: SPSC byte rings, `tx` consumed here, `rx` produced here. */
export class SharedSocket extends WorkerSocket {
  private readonly txRing: ByteRing;
  private readonly rxRing: ByteRing;
  private readonly writer: RingFrameWriter;
  /** tx ring position handed to the socket (released when the write completes). */
  private sentPos: number;
  private wirePending = 0;
  private ringHeld = false;
  private mainEnded = false;

  constructor(c: number, socket: net.Socket, opts: WireChannelOptions, rings: RingPair, out: WorkerOutbox, onGone: (s: WorkerSocket) => void) {
    super(c, socket, opts, out, onGone);
    this.txRing = new ByteRing(rings.tx);
    this.rxRing = new ByteRing(rings.rx);
    this.writer = new RingFrameWriter(this.rxRing);
    this.sentPos = this.txRing.head;
    this.waitTx();
  }

  protected get heldByMode(): boolean {
    return this.ringHeld;
  }

  // ---- tx: ring → socket, zero-copy views released on the write callback -------------

  private waitTx(): void {
    if (this.closed || this.mainEnded) return;
    this.txRing.when('data', () => this.txRing.tail !== this.sentPos, () => {
      this.drainTx();
      this.waitTx();
    });
  }

  private drainTx(): void {
    const to = this.txRing.tail;
    if (to === this.sentPos || this.closed) return;
    const views = this.txRing.views(this.sentPos, to);
    this.sentPos = to;
    for (let i = 0; i < views.length; i++) {
      const last = i === views.length - 1;
      this.write(views[i]!, last ? () => this.txRing.release(to) : undefined);
    }
  }

  tx(b: ArrayBuffer): void {
    this.drainTx();
    this.write(Buffer.from(b));
  }

  protected override beforeSocketEnd(): void {
    this.mainEnded = true;
    this.drainTx();
  }

  // ---- rx: decoded frames → ring, published once per turn ----------------------------

  protected onRxFrames(frames: Frame[], wire: number): void {
    this.wirePending += wire;
    if (frames.length > 0) {
      this.writer.push(frames);
      this.writer.fill();
    }
    this.markDirty();
    if (!this.writer.drained && !this.ringHeld) {
      this.ringHeld = true;
      this.updateFlow();
      this.waitSpace();
    }
  }

  private waitSpace(): void {
    this.rxRing.when('space', () => this.closed || this.writer.room > 0, () => {
      if (this.closed) return;
      this.writer.fill();
      this.markDirty();
      if (this.writer.drained) {
        this.ringHeld = false;
        this.updateFlow();
      } else {
        this.waitSpace();
      }
    });
  }

  protected onFlush(): void {
    this.writer.publish(this.wirePending);
    this.wirePending = 0;
  }

  protected beforeEnd(): void {
    // Everything received goes up before the end/close report: what fits through the
    // ring, the rest (only when the ring is full) as one leftover message.
    this.writer.fill();
    this.writer.publish(this.wirePending);
    this.wirePending = 0;
    if (!this.writer.drained) {
      const rest = this.writer.takeRest();
      this.out.push({ k: 'rx', c: this.c, b: rest, w: 0 }, rest);
    }
  }

  protected override dispose(): void {
    this.txRing.close();
    this.rxRing.close();
  }
}
