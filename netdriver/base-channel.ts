/**
 * Shared state machine for channel implementations: counters, the receive queue,
 * receive backpressure, idempotent end/destroy/close and event ordering. A driver
 * extends it and implements the protected hooks.
 * @packageDocumentation
 */
import { EventEmitter } from 'node:events';
import { ChannelError, ErrorCode } from '../errors/index.js';
import type { Channel, ChannelEvents } from './channel.js';
import { frameSize, type Frame } from './frame.js';

/** Default transmit high-water mark: 2 MiB (32 × 62,620 B in the reference module, rounded). */
export const DEFAULT_TX_HIGH_WATER_MARK = 2 * 1024 * 1024;
/** Default receive high-water mark at which the transport is paused: 4 MiB. */
export const DEFAULT_RX_HIGH_WATER_MARK = 4 * 1024 * 1024;

/** Options common to every channel built on {@link BaseChannel}. */
export interface BaseChannelOptions {
  /** Address scheme, e.g. `tcp`. */
  scheme: string;
  /** Local endpoint description. */
  localAddress: string;
  /** Remote endpoint description. */
  remoteAddress: string;
  /**
   * Transmit queue size at which `enqueue` returns false.
   * @default 2097152
   */
  txHighWaterMark?: number;
  /**
   * Receive queue size at which the transport stops reading until frames are dequeued.
   * @default 4194304
   */
  rxHighWaterMark?: number;
}

let nextChannelId = 1;

/** Base class with the common channel behaviour; see {@link Channel}. */
export abstract class BaseChannel extends EventEmitter implements Channel {
  readonly id = nextChannelId++;
  readonly scheme: string;
  readonly localAddress: string;
  readonly remoteAddress: string;
  readonly txHighWaterMark: number;
  /** Receive queue size at which the transport is paused. */
  readonly rxHighWaterMark: number;

  bytesSent = 0;
  bytesReceived = 0;
  framesSent = 0;
  framesReceived = 0;
  rxQueuedBytes = 0;

  private readonly single: Frame[] = [];
  private rxQueue: Frame[] = [];
  private rxHead = 0;
  private rxPaused = false;
  private ended = false;
  private peerEnded = false;
  private endEmitted = false;
  private isDestroyed = false;
  private closeEmitted = false;
  /** Set when `enqueue` returned false; cleared when `'writable'` is emitted. */
  protected needWritable = false;

  constructor(options: BaseChannelOptions) {
    super();
    this.scheme = options.scheme;
    this.localAddress = options.localAddress;
    this.remoteAddress = options.remoteAddress;
    this.txHighWaterMark = options.txHighWaterMark ?? DEFAULT_TX_HIGH_WATER_MARK;
    this.rxHighWaterMark = options.rxHighWaterMark ?? DEFAULT_RX_HIGH_WATER_MARK;
  }

  /** Bytes accepted by `enqueue` and not yet handed to the OS (driver-specific). */
  abstract get txQueuedBytes(): number;

  get destroyed(): boolean {
    return this.isDestroyed;
  }

  /** Transmits frames in order (called by `enqueue` after state checks); `written` as in `Channel.enqueue`. */
  protected abstract _send(frames: readonly Frame[], written?: () => void): void;
  /** Half-closes the transport after queued frames are flushed. */
  protected abstract _end(): void;
  /** Tears the transport down at once. Must lead to {@link onTransportClose}. */
  protected abstract _destroy(err?: Error): void;
  /** Stops reading from the transport (receive backpressure). */
  protected abstract _pauseRx(): void;
  /** Resumes reading from the transport. */
  protected abstract _resumeRx(): void;

  enqueue(frames: Frame | readonly Frame[], written?: () => void): boolean {
    if (this.ended || this.isDestroyed) {
      throw new ChannelError(ErrorCode.CLOSED, `channel ${this.id} to ${this.remoteAddress} is ${this.isDestroyed ? 'destroyed' : 'ended'}`);
    }
    let list: readonly Frame[];
    if (Array.isArray(frames)) list = frames as readonly Frame[];
    else {
      // Hot path (one DATA segment per call): reuse one array; no driver keeps it.
      this.single[0] = frames as Frame;
      list = this.single;
    }
    let bytes = 0;
    for (const f of list) bytes += frameSize(f);
    this.framesSent += list.length;
    this.bytesSent += bytes;
    this._send(list, written);
    if (this.txQueuedBytes >= this.txHighWaterMark) {
      this.needWritable = true;
      return false;
    }
    return true;
  }

  dequeue(maxBytes = Infinity): Frame[] {
    const q = this.rxQueue;
    let out: Frame[];
    if (maxBytes === Infinity && this.rxHead === 0) {
      out = q;
      this.rxQueue = [];
      this.rxQueuedBytes = 0;
    } else {
      out = [];
      let taken = 0;
      while (this.rxHead < q.length && taken < maxBytes) {
        const f = q[this.rxHead++]!;
        taken += frameSize(f);
        out.push(f);
      }
      this.rxQueuedBytes -= taken;
      if (this.rxHead === q.length) {
        this.rxQueue = [];
        this.rxHead = 0;
      }
    }
    if (out.length > 0) this.onDequeued(out);
    if (this.rxPaused && this.rxQueuedBytes < this.rxHighWaterMark / 2 && !this.isDestroyed) {
      this.rxPaused = false;
      this._resumeRx();
    }
    if (this.peerEnded && this.rxQueuedBytes === 0 && this.rxQueue.length === 0) this.emitEnd();
    return out;
  }

  end(): void {
    if (this.ended || this.isDestroyed) return;
    this.ended = true;
    this._end();
  }

  destroy(err?: Error): void {
    if (this.isDestroyed) return;
    this.isDestroyed = true;
    this.ended = true;
    this.rxQueue = [];
    this.rxHead = 0;
    this.rxQueuedBytes = 0;
    this._destroy(err);
  }

  close(): Promise<void> {
    if (this.closeEmitted) return Promise.resolve();
    const done = new Promise<void>((resolve) => this.once('close', () => resolve()));
    this.end();
    return done;
  }

  /** Driver hook: the application took these frames off the receive queue. */
  protected onDequeued(_frames: readonly Frame[]): void {}

  /** Driver hook: frames arrived from the transport. */
  protected onFrames(frames: readonly Frame[], wireBytes: number): void {
    if (this.isDestroyed || frames.length === 0) {
      this.bytesReceived += wireBytes;
      return;
    }
    this.bytesReceived += wireBytes;
    this.framesReceived += frames.length;
    for (const f of frames) {
      this.rxQueue.push(f);
      this.rxQueuedBytes += frameSize(f);
    }
    if (!this.rxPaused && this.rxQueuedBytes >= this.rxHighWaterMark) {
      this.rxPaused = true;
      this._pauseRx();
    }
    this.emit('readable');
  }

  /** Driver hook: the transmit queue drained below the low-water mark. */
  protected onTxDrained(): void {
    if (!this.needWritable || this.isDestroyed) return;
    this.needWritable = false;
    this.emit('writable');
  }

  /** Driver hook: the peer half-closed the transport. */
  protected onTransportEnd(): void {
    this.peerEnded = true;
    if (this.rxQueue.length === 0) this.emitEnd();
  }

  /** Driver hook: the transport is fully closed (emits `'close'` exactly once). */
  protected onTransportClose(err?: Error): void {
    if (this.closeEmitted) return;
    this.closeEmitted = true;
    this.isDestroyed = true;
    this.ended = true;
    if (err) this.emit('close', err);
    else this.emit('close');
  }

  private emitEnd(): void {
    if (this.endEmitted) return;
    this.endEmitted = true;
    this.emit('end');
  }

  override on<E extends keyof ChannelEvents>(event: E, listener: (...args: ChannelEvents[E]) => void): this {
    return super.on(event, listener as (...args: unknown[]) => void);
  }

  override once<E extends keyof ChannelEvents>(event: E, listener: (...args: ChannelEvents[E]) => void): this {
    return super.once(event, listener as (...args: unknown[]) => void);
  }

  override off<E extends keyof ChannelEvents>(event: E, listener: (...args: ChannelEvents[E]) => void): this {
    return super.off(event, listener as (...args: unknown[]) => void);
  }
}
