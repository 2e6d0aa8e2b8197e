/**
 * The main thread's proxy of a channel that lives on a channel worker. It is a
 * BaseChannel like any other (the stack cannot tell the difference); its hooks turn
 * into operations for the worker, and the worker's reports into onFrames /
 * onTxDrained / onTransportEnd / onTransportClose.
 *
 * Two hand-off modes (see docs/multicore.md for the measurements):
 * - {@link TransferChannel}: every frame enqueued in one tick is encoded into one
 *   ArrayBuffer and transferred; received frames come back the same way.
 * - {@link SharedChannel}: frames are encoded straight into a SharedArrayBuffer ring
 *   per direction (Atomics wake-ups).
 * @packageDocumentation
 */
import { ChannelError, ErrorCode, FrameError } from '../errors/index.js';
import { BaseChannel, type BaseChannelOptions } from '../netdriver/base-channel.js';
import { FrameDecoder } from '../netdriver/codec.js';
import type { Frame } from '../netdriver/frame.js';
import { packFrames, parseBatch, wireBytes } from './batch.js';
import type { MainOp, RingPair, WorkerOp } from './protocol.js';
import { ByteRing } from './ring.js';
import { RingFrameWriter, type RingCopier } from './ring-writer.js';

/** What a channel needs from the worker that hosts it. */
export interface WorkerLink {
  /** Slot index of the worker in its pool. */
  readonly slot: number;
  /** Human-readable name for messages, e.g. `channel worker #1 (thread 7)`. */
  readonly label: string;
  /** Sends an operation in this tick's message. */
  post(op: MainOp, transfer?: ArrayBuffer): void;
  /** Asks for `flush()` on the channel before this tick's message is posted. */
  markDirty(ch: WorkerChannel): void;
  /** The channel closed: forget it. */
  detach(ch: WorkerChannel): void;
}

/** Options of a {@link WorkerChannel}. */
export interface WorkerChannelOptions extends BaseChannelOptions {
  /** Largest DATA payload (shared mode decodes the ring stream on this side too). */
  maxPayload?: number;
  /** FrameDecoder `splitData` (shared mode). */
  splitData?: boolean;
  /** Transfer mode: the worker's receive window; acknowledgements are sent per quarter of it. @default 1048576 */
  rxWindow?: number;
}

const FRAME_CODES = new Set<string>([ErrorCode.BAD_FRAME, ErrorCode.FRAME_TOO_LARGE, ErrorCode.PROTOCOL]);

/** A channel hosted by a channel worker; see the module comment. */
export abstract class WorkerChannel extends BaseChannel {
  /** Id of the channel inside its worker. */
  readonly cid: number;
  protected readonly link: WorkerLink;
  protected readonly lowWater: number;
  protected closeError: Error | undefined;
  private held: WorkerOp[] | null = [];
  private dirty = false;

  constructor(link: WorkerLink, cid: number, options: WorkerChannelOptions) {
    super(options);
    this.link = link;
    this.cid = cid;
    this.lowWater = this.txHighWaterMark / 2;
    // Reports that arrive in the same message as the dial/accept wait one turn, so the
    // owner attaches its listeners before the first 'readable' / 'end' / 'close'.
    setImmediate(() => this.release());
  }

  /** Slot of the hosting worker in its pool. */
  get workerSlot(): number {
    return this.link.slot;
  }

  /** @internal A report from the worker for this channel. */
  deliver(op: WorkerOp): void {
    if (this.held) this.held.push(op);
    else this.handle(op);
  }

  /** @internal The worker died or was terminated: close now with `err`. */
  workerLost(err: Error): void {
    this.held = null;
    this.closeRings();
    this.onTransportClose(this.closeError ?? err);
  }

  /** @internal Called by the worker link before it posts this tick's message. */
  flush(): void {
    this.dirty = false;
    this.onFlush();
  }

  protected markDirty(): void {
    if (this.dirty) return;
    this.dirty = true;
    this.link.markDirty(this);
  }

  private release(): void {
    const ops = this.held;
    this.held = null;
    if (ops) for (const op of ops) this.handle(op);
    if (!this.destroyed) this.onReleased();
  }

  /** The owner has had a turn to attach listeners: start receiving. */
  protected onReleased(): void {}

  private handle(op: WorkerOp): void {
    switch (op.k) {
      case 'rx':
        this.onRx(op.b, op.w);
        return;
      case 'ack':
        this.onAck(op.n);
        return;
      case 'end':
        this.beforeReport();
        this.onTransportEnd();
        return;
      case 'close': {
        this.beforeReport();
        this.closeRings();
        this.link.detach(this);
        const reported =
          op.message === undefined
            ? undefined
            : FRAME_CODES.has(op.code ?? '')
              ? new FrameError(op.code as typeof ErrorCode.BAD_FRAME, op.message)
              : new ChannelError(ErrorCode.CLOSED, `channel ${this.id} (${this.link.label}) ${op.message}`);
        this.onTransportClose(this.closeError ?? reported);
        return;
      }
      default:
        return;
    }
  }

  protected _end(): void {
    this.flush();
    this.endTx();
    this.link.post({ k: 'end', c: this.cid });
  }

  protected _destroy(err?: Error): void {
    if (err) this.closeError ??= err;
    this.dropTx();
    this.link.post({ k: 'destroy', c: this.cid });
  }

  protected _pauseRx(): void {
    this.link.post({ k: 'pause', c: this.cid });
  }

  protected _resumeRx(): void {
    this.link.post({ k: 'resume', c: this.cid });
  }

  /** Received bytes: a frame batch (transfer) or leftover stream bytes (shared). */
  protected abstract onRx(b: ArrayBuffer, wire: number): void;
  /** Transfer mode: `n` bytes were handed to the OS. */
  protected onAck(_n: number): void {}
  /** Move this tick's work into operations. */
  protected abstract onFlush(): void;
  /** Before `'end'`/`'close'`: take everything the worker delivered before it. */
  protected beforeReport(): void {}
  /** After flush, before the end operation. */
  protected endTx(): void {}
  /** Drop unsent frames (destroy). */
  protected abstract dropTx(): void;
  /** Shared mode: give the rings up. */
  protected closeRings(): void {}
}

/** `'transfer'` hand-off; see {@link WorkerChannel}. */
export class TransferChannel extends WorkerChannel {
  private txFrames: Frame[] = [];
  private txPending = 0;
  private txInflight = 0;
  private rxUnacked = 0;
  private readonly rxAckEvery: number;

  constructor(link: WorkerLink, cid: number, options: WorkerChannelOptions) {
    super(link, cid, options);
    this.rxAckEvery = Math.max(1, Math.floor((options.rxWindow ?? 1024 * 1024) / 4));
  }

  get txQueuedBytes(): number {
    return this.txPending + this.txInflight;
  }

  protected _send(frames: readonly Frame[]): void {
    for (const f of frames) this.txFrames.push(f);
    this.txPending += wireBytes(frames);
    this.markDirty();
  }

  protected onFlush(): void {
    if (this.txFrames.length > 0 && !this.destroyed) {
      const b = packFrames(this.txFrames, this.txPending);
      this.link.post({ k: 'tx', c: this.cid, b }, b);
      this.txInflight += this.txPending;
      this.txFrames = [];
      this.txPending = 0;
    }
    // The worker stops reading at a full window; a quarter of it per acknowledgement
    // keeps it reading without a message per batch.
    if (this.rxUnacked >= this.rxAckEvery) {
      this.link.post({ k: 'rxack', c: this.cid, n: this.rxUnacked });
      this.rxUnacked = 0;
    }
  }

  protected onRx(b: ArrayBuffer, wire: number): void {
    const n = b.byteLength;
    this.onFrames(parseBatch(b), wire);
    this.rxUnacked += n;
    if (this.rxUnacked >= this.rxAckEvery) this.markDirty();
  }

  protected override onAck(n: number): void {
    this.txInflight -= n;
    if (this.txInflight + this.txPending <= this.lowWater) this.onTxDrained();
  }

  protected dropTx(): void {
    this.txFrames = [];
    this.txPending = 0;
  }
}

/** Largest slice copied out of the rx ring per step (bounds the receive-queue overshoot). */
const RX_SLICE = 64 * 1024;
/** Bytes taken from the rx ring per wake-up before yielding to other work. */
const RX_BUDGET = 64 * 1024;

/** `'shared'` hand-off; see {@link WorkerChannel}. */
export class SharedChannel extends WorkerChannel {
  private readonly txRing: ByteRing;
  private readonly rxRing: ByteRing;
  private readonly writer: RingFrameWriter;
  private readonly decoder: FrameDecoder;
  private readPos: number;
  private lastWire: number;
  private rxHeld = false;

  /**
   * @param copier optional copy pool: large payloads in shared memory are copied into
   *   the tx ring by copy workers instead of this thread.
   */
  constructor(link: WorkerLink, cid: number, options: WorkerChannelOptions, rings: RingPair, copier: RingCopier | null = null) {
    super(link, cid, options);
    this.txRing = new ByteRing(rings.tx);
    this.rxRing = new ByteRing(rings.rx);
    this.writer = new RingFrameWriter(this.txRing, copier);
    this.decoder = new FrameDecoder({ ...(options.maxPayload !== undefined && { maxPayload: options.maxPayload }), splitData: options.splitData ?? false });
    this.readPos = this.rxRing.head;
    this.lastWire = this.rxRing.wire;
  }

  protected override onReleased(): void {
    this.waitRx();
  }

  get txQueuedBytes(): number {
    return this.writer.queuedBytes;
  }

  // ---- transmit ----------------------------------------------------------------------

  protected _send(frames: readonly Frame[]): void {
    this.writer.push(frames);
    this.markDirty();
  }

  protected onFlush(): void {
    if (this.destroyed) return;
    this.writer.fill();
    this.writer.publish();
    if (!this.writer.drained || this.needWritable) this.waitSpace();
  }

  private waitSpace(): void {
    this.txRing.when(
      'space',
      () => this.destroyed || (!this.writer.drained && this.writer.room > 0) || (this.needWritable && this.writer.queuedBytes <= this.lowWater),
      () => {
        if (this.destroyed) return;
        if (!this.writer.drained) {
          this.writer.fill();
          this.writer.publish();
        }
        if (this.writer.queuedBytes <= this.lowWater) this.onTxDrained();
        if (!this.writer.drained || this.needWritable) this.waitSpace();
      },
    );
  }

  protected override _end(): void {
    this.flush();
    // The end follows the last byte: wait for copies still filling the ring.
    if (!this.writer.copying) return super._end();
    void this.writer.settled().then(() => {
      if (!this.destroyed) super._end();
    });
  }

  protected override endTx(): void {
    // What does not fit into the ring follows as one message, then the end.
    if (!this.writer.drained) {
      const rest = this.writer.takeRest();
      this.link.post({ k: 'tx', c: this.cid, b: rest }, rest);
    }
  }

  protected dropTx(): void {
    this.writer.clear();
  }

  // ---- receive -----------------------------------------------------------------------

  private waitRx(): void {
    if (this.rxHeld || this.destroyed) return;
    this.rxRing.when('data', () => this.destroyed || this.rxRing.tail !== this.readPos, () => this.drainRx(RX_BUDGET));
  }

  /** Takes up to `budget` bytes from the ring (stops early when receive is paused). */
  private drainRx(budget: number): void {
    while (budget > 0 && !this.destroyed) {
      const avail = (this.rxRing.tail - this.readPos) >>> 0;
      if (avail === 0) break;
      const n = Math.min(avail, RX_SLICE, budget);
      const buf = this.rxRing.copyOut(this.readPos, n);
      this.readPos = (this.readPos + n) >>> 0;
      this.rxRing.release(this.readPos);
      budget -= n;
      this.decode(buf);
      if (this.rxHeld) return;
    }
    if (this.destroyed || this.rxHeld) return;
    if (((this.rxRing.tail - this.readPos) >>> 0) > 0) setImmediate(() => this.drainRx(RX_BUDGET));
    else this.waitRx();
  }

  private decode(buf: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.decoder.push(buf);
    } catch (err) {
      this.destroy(err as Error);
      return;
    }
    const wire = this.rxRing.wire;
    const delta = (wire - this.lastWire) >>> 0;
    this.lastWire = wire;
    this.onFrames(frames, delta);
  }

  protected onRx(b: ArrayBuffer, wire: number): void {
    this.beforeReport();
    this.decode(Buffer.from(b));
    if (wire > 0) this.onFrames([], wire);
  }

  protected override beforeReport(): void {
    // Ordering: everything the worker published before this report comes first.
    const wasHeld = this.rxHeld;
    this.rxHeld = false;
    this.drainRxAll();
    this.rxHeld = wasHeld;
  }

  private drainRxAll(): void {
    while (!this.destroyed) {
      const avail = (this.rxRing.tail - this.readPos) >>> 0;
      if (avail === 0) return;
      const buf = this.rxRing.copyOut(this.readPos, avail);
      this.readPos = (this.readPos + avail) >>> 0;
      this.rxRing.release(this.readPos);
      this.decode(buf);
    }
  }

  protected override _pauseRx(): void {
    this.rxHeld = true;
    super._pauseRx();
  }

  protected override _resumeRx(): void {
    this.rxHeld = false;
    super._resumeRx();
    setImmediate(() => this.drainRx(RX_BUDGET));
  }

  protected override closeRings(): void {
    this.txRing.close();
    this.rxRing.close();
  }
}
