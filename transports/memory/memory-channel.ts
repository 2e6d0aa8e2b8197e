/**
 * In-process channel pair: frames move between two objects on the event loop, with
 * the same backpressure, half-close and abort semantics as a socket.
 * @packageDocumentation
 */
import { ChannelError, ErrorCode } from '../../errors/index.js';
import { BaseChannel, type BaseChannelOptions } from '../../netdriver/base-channel.js';
import { DEFAULT_MAX_PAYLOAD, validateFrame } from '../../netdriver/codec.js';
import { frameSize, type Frame } from '../../netdriver/frame.js';

/** Options of one memory channel end. */
export interface MemoryChannelOptions extends BaseChannelOptions {
  /**
   * Largest DATA payload this end accepts.
   * @default 1048576
   */
  maxPayload?: number;
}

/** One end of an in-memory channel pair. */
export class MemoryChannel extends BaseChannel {
  private peer: MemoryChannel | null = null;
  /** Frames sent to the peer and not yet dequeued there. */
  private inflight = 0;
  /** Frames waiting for the next delivery tick or for the peer to resume. */
  private outbox: Frame[] = [];
  private outboxBytes = 0;
  private scheduled = false;
  private endPending = false;
  private sentEnd = false;
  private gotEnd = false;
  private paused = false;

  private readonly maxPayload: number;

  constructor(options: MemoryChannelOptions) {
    super(options);
    this.maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
  }

  /** Creates two connected ends. */
  static pair(a: MemoryChannelOptions, b: MemoryChannelOptions): [MemoryChannel, MemoryChannel] {
    const x = new MemoryChannel(a);
    const y = new MemoryChannel(b);
    x.peer = y;
    y.peer = x;
    return [x, y];
  }

  get txQueuedBytes(): number {
    return this.inflight;
  }

  protected _send(frames: readonly Frame[]): void {
    for (const f of frames) {
      this.outbox.push(f);
      const n = frameSize(f);
      this.outboxBytes += n;
      this.inflight += n;
    }
    this.schedule();
  }

  protected _end(): void {
    this.endPending = true;
    this.schedule();
  }

  protected _destroy(err?: Error): void {
    const peer = this.peer;
    this.peer = null;
    this.outbox = [];
    setImmediate(() => {
      this.onTransportClose(err);
      if (peer && !peer.destroyed) {
        peer.peer = null;
        peer.destroy(new ChannelError(ErrorCode.CLOSED, `memory channel ${peer.id}: peer ${this.id} aborted`));
      }
    });
  }

  protected _pauseRx(): void {
    this.paused = true;
  }

  protected _resumeRx(): void {
    this.paused = false;
    this.peer?.schedule();
  }

  protected override onDequeued(frames: readonly Frame[]): void {
    let n = 0;
    for (const f of frames) n += frameSize(f);
    this.peer?.acknowledge(n);
  }

  private acknowledge(bytes: number): void {
    this.inflight -= bytes;
    if (this.inflight <= this.txHighWaterMark / 2) this.onTxDrained();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    const peer = this.peer;
    if (!peer || peer.destroyed) return;
    if (this.outbox.length > 0 && !peer.paused) {
      const frames = this.outbox;
      const bytes = this.outboxBytes;
      this.outbox = [];
      this.outboxBytes = 0;
      peer.deliver(frames, bytes);
    }
    if (this.endPending && this.outbox.length === 0 && !this.sentEnd) {
      this.sentEnd = true;
      peer.receiveEnd();
      this.maybeClose();
    }
  }

  /** The receiving end checks every frame like a byte decoder would; a bad one closes it. */
  private deliver(frames: Frame[], bytes: number): void {
    try {
      for (const f of frames) validateFrame(f, this.maxPayload);
    } catch (err) {
      this.destroy(err as Error);
      return;
    }
    this.onFrames(frames, bytes);
  }

  private receiveEnd(): void {
    this.gotEnd = true;
    this.onTransportEnd();
    this.maybeClose();
  }

  private maybeClose(): void {
    if (!(this.sentEnd && this.gotEnd)) return;
    const peer = this.peer;
    setImmediate(() => {
      this.onTransportClose();
      if (peer) peer.onTransportClose();
    });
  }
}
