/**
 * {@link WsChannel}: a channel over one WebSocket connection, one frame per binary
 * message. Written only against the public driver contract (`netdriver/index.js`).
 *
 * Wire mapping:
 * - every frame is exactly ONE binary WebSocket message: its 24-byte header followed by
 *   its payload. A message that holds less or more than one whole frame, or a text
 *   message, is malformed input: the channel is destroyed with a `FrameError`.
 * - half-close: WebSockets have none, so it is emulated. `end()` sends a **zero-length
 *   binary message** (the end-of-frames marker; no frame is shorter than 24 bytes, so
 *   it is unambiguous) after the queued frames and keeps receiving. Once a side has
 *   both sent and received the marker it closes the WebSocket with code 1000; that
 *   close is graceful (`'close'` without error). A message after the peer's marker is
 *   a protocol error.
 * - abort: `destroy()` terminates the connection (no close handshake); the peer sees
 *   the WebSocket close with code 1006 and its channel closes with an error.
 * @packageDocumentation
 */
import type { WebSocket } from 'ws';
import { ChannelError, ErrorCode, FrameError, NetChannelError } from '../../errors/index.js';
import { BaseChannel, encodeFrame, FrameDecoder, type BaseChannelOptions, type Frame } from '../../netdriver/index.js';

/** Options of {@link WsChannel}. */
export interface WsChannelOptions extends BaseChannelOptions {
  /**
   * Largest DATA payload the frame decoder accepts, in bytes.
   * @default 1048576
   */
  maxPayload?: number;
  /**
   * Compress frames with permessage-deflate (only effective when it was negotiated).
   * @default false
   */
  compress?: boolean;
}

/** WebSocket close code of the graceful close after both end-of-frames markers. */
export const WS_CLOSE_NORMAL = 1000;

const END_MARKER = Buffer.alloc(0);

/** Maps an error emitted by a `ws` WebSocket onto a netchannel error. */
export function wsChannelError(err: Error, what: string): NetChannelError {
  if (err instanceof NetChannelError) return err;
  const code = (err as { code?: unknown }).code;
  if (code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
    return new FrameError(ErrorCode.FRAME_TOO_LARGE, `${what}: WebSocket message larger than the ws maxPayload limit (${err.message})`);
  }
  if (typeof code === 'string' && code.startsWith('WS_ERR_')) {
    return new FrameError(ErrorCode.BAD_FRAME, `${what}: WebSocket protocol violation (${err.message})`);
  }
  return new ChannelError(ErrorCode.CLOSED, `${what}: WebSocket transport failed: ${err.message}`, { cause: err });
}

/** A {@link Channel} over one open `ws` WebSocket. */
export class WsChannel extends BaseChannel {
  private readonly socket: WebSocket;
  private readonly decoder: FrameDecoder;
  private readonly lowWater: number;
  private readonly sendOptions: { binary: true; compress: boolean };
  /** We sent the end-of-frames marker. */
  private sentEnd = false;
  /** The peer sent its end-of-frames marker. */
  private gotEnd = false;
  /** `destroy()` terminated the connection. */
  private terminated = false;
  private closeError: Error | undefined;
  /** Frames decoded in this tick, handed to the base class in one batch. */
  private rxBatch: Frame[] = [];
  private rxBatchBytes = 0;
  private rxFlushQueued = false;

  /** Send callback: `ws` calls it once the message was written to the OS socket. */
  private readonly onSent = (err?: Error): void => {
    if (err === undefined || err === null) {
      if (this.socket.bufferedAmount <= this.lowWater) this.onTxDrained();
    }
  };

  private readonly flushRx = (): void => {
    this.rxFlushQueued = false;
    if (this.rxBatch.length === 0) return;
    const frames = this.rxBatch;
    const bytes = this.rxBatchBytes;
    this.rxBatch = [];
    this.rxBatchBytes = 0;
    this.onFrames(frames, bytes);
  };

  /** Wraps an OPEN WebSocket; attaches its listeners at once. */
  constructor(socket: WebSocket, options: WsChannelOptions) {
    super(options);
    this.socket = socket;
    this.lowWater = this.txHighWaterMark / 2;
    // Never `splitData` (ChannelOptions.splitData is ignored): a message must decode to
    // exactly one whole frame, which is what the check in onMessage relies on.
    this.decoder = new FrameDecoder(options.maxPayload === undefined ? {} : { maxPayload: options.maxPayload });
    this.sendOptions = { binary: true, compress: options.compress ?? false };
    socket.binaryType = 'nodebuffer';
    socket.on('message', (data, isBinary) => this.onMessage(data as Buffer, isBinary));
    socket.on('error', (err: Error) => {
      this.closeError ??= wsChannelError(err, `ws channel ${this.id} to ${this.remoteAddress}`);
    });
    socket.on('close', (code: number, reason: Buffer) => this.onSocketClose(code, reason));
  }

  /**
   * `ws`'s `bufferedAmount`: bytes queued in the WebSocket sender and the OS socket's
   * user-space buffer. Besides the frames it counts the WebSocket framing (2–14 bytes
   * per message), so it slightly exceeds the frames' wire size.
   */
  get txQueuedBytes(): number {
    return this.socket.bufferedAmount;
  }

  protected _send(frames: readonly Frame[]): void {
    // One frame = one message. encodeFrame copies header and payload into one buffer;
    // ws never writes into it (it masks a copy on the client side).
    for (const f of frames) this.socket.send(encodeFrame(f), this.sendOptions, this.onSent);
  }

  protected _end(): void {
    this.sentEnd = true;
    // Queued after every frame sent so far: ws keeps message order.
    this.socket.send(END_MARKER, { binary: true, compress: false }, this.onSent);
    if (this.gotEnd) this.socket.close(WS_CLOSE_NORMAL);
  }

  protected _destroy(err?: Error): void {
    if (err) this.closeError ??= err;
    this.terminated = true;
    this.rxBatch = [];
    this.rxBatchBytes = 0;
    this.socket.terminate();
  }

  protected _pauseRx(): void {
    this.socket.pause();
  }

  protected _resumeRx(): void {
    this.socket.resume();
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (this.destroyed) return;
    if (!isBinary) {
      this.destroy(new FrameError(ErrorCode.BAD_FRAME, `ws channel ${this.id} from ${this.remoteAddress}: received a text message, frames travel as binary messages`));
      return;
    }
    if (this.gotEnd) {
      this.destroy(new FrameError(ErrorCode.PROTOCOL, `ws channel ${this.id} from ${this.remoteAddress}: message of ${data.length} bytes after the end-of-frames marker`));
      return;
    }
    if (data.length === 0) {
      this.gotEnd = true;
      this.flushRx();
      this.onTransportEnd();
      if (this.sentEnd && !this.destroyed) this.socket.close(WS_CLOSE_NORMAL);
      return;
    }
    let frames: Frame[];
    try {
      frames = this.decoder.push(data);
    } catch (err) {
      this.destroy(err as Error);
      return;
    }
    const frame = frames[0];
    if (frames.length !== 1 || frame === undefined || this.decoder.bufferedBytes !== 0) {
      const what =
        frames.length === 0
          ? 'holds no whole frame (truncated)'
          : frames.length > 1
            ? `holds ${frames.length} frames, must hold exactly one`
            : `has ${this.decoder.bufferedBytes} bytes after its frame`;
      this.destroy(new FrameError(ErrorCode.BAD_FRAME, `ws channel ${this.id} from ${this.remoteAddress}: WebSocket message of ${data.length} bytes ${what}`));
      return;
    }
    this.rxBatch.push(frame);
    this.rxBatchBytes += data.length;
    if (!this.rxFlushQueued) {
      // ws emits all messages of one socket read synchronously: batch them into one
      // onFrames call (one 'readable') at the end of this tick.
      this.rxFlushQueued = true;
      queueMicrotask(this.flushRx);
    }
  }

  private onSocketClose(code: number, reason: Buffer): void {
    this.flushRx();
    let err: Error | undefined;
    if (this.terminated) {
      err = this.closeError;
    } else if (this.sentEnd && this.gotEnd && code === WS_CLOSE_NORMAL) {
      err = undefined;
    } else {
      const why = reason.length > 0 ? ` (${reason.toString('utf8').slice(0, 123)})` : '';
      err =
        this.closeError ??
        new ChannelError(
          ErrorCode.CLOSED,
          `ws channel ${this.id} to ${this.remoteAddress}: WebSocket closed with code ${code}${why} before both ends sent their end-of-frames marker`,
        );
    }
    this.onTransportClose(err);
  }
}
