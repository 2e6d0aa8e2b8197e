/**
 * A channel over any Node byte stream (net.Socket for tcp/unix, tls.TLSSocket, …):
 * frames are written with cork/uncork so a batch leaves in one writev, and decoded
 * incrementally on the way in. Stream-based drivers only construct it.
 * @packageDocumentation
 */
import type { Duplex } from 'node:stream';
import { ChannelError, ErrorCode, NetChannelError } from '../../errors/index.js';
import { BaseChannel, type BaseChannelOptions } from '../../netdriver/base-channel.js';
import { encodeHeader, FrameDecoder } from '../../netdriver/codec.js';
import { HEADER_SIZE, type Frame } from '../../netdriver/frame.js';

/** Options of {@link StreamChannel}. */
export interface StreamChannelOptions extends BaseChannelOptions {
  /**
   * Largest DATA payload the decoder accepts.
   * @default 1048576
   */
  maxPayload?: number;
  /**
   * Hand up straddling DATA payloads in pieces (no copy); see FrameDecoder `splitData`.
   * @default false
   */
  splitData?: boolean;
}

/** The subset of `net.Socket` a {@link StreamChannel} needs. */
export type ByteStream = Duplex & {
  /** Present on net.Socket: abort with RST when supported. */
  resetAndDestroy?: () => unknown;
};

/** Frames payloads up to this size are copied next to their header in one buffer. */
const COALESCE_LIMIT = 1024;
const EMPTY_CHUNK = Buffer.alloc(0);

/** A {@link Channel} carried over a byte stream. */
export class StreamChannel extends BaseChannel {
  private readonly stream: ByteStream;
  private readonly decoder: FrameDecoder;
  private readonly lowWater: number;
  private drainArmed = false;
  private readonly onDrained = (): void => {
    this.drainArmed = false;
    if (this.stream.writableLength <= this.lowWater) this.onTxDrained();
    else this.armDrain();
  };

  constructor(stream: ByteStream, options: StreamChannelOptions) {
    super(options);
    this.stream = stream;
    this.lowWater = this.txHighWaterMark / 2;
    this.decoder = new FrameDecoder({
      ...(options.maxPayload !== undefined && { maxPayload: options.maxPayload }),
      splitData: options.splitData ?? false,
    });
    stream.on('data', (chunk: Buffer) => this.onData(chunk));
    stream.on('end', () => {
      this.onTransportEnd();
      this.probePeer();
    });
    stream.on('drain', () => this.onTxDrained());
    stream.on('error', (err: Error) => {
      this.closeError ??= err instanceof NetChannelError ? err : new ChannelError(ErrorCode.CLOSED, `channel ${this.id} transport failed: ${err.message}`);
    });
    stream.on('close', () => this.onTransportClose(this.closeError));
  }

  private closeError: Error | undefined;
  private corked = false;
  private readonly uncork = (): void => {
    this.corked = false;
    this.stream.uncork();
  };

  get txQueuedBytes(): number {
    return this.stream.writableLength;
  }

  protected _send(frames: readonly Frame[], written?: () => void): void {
    const s = this.stream;
    // Everything enqueued in this tick leaves in one writev: cork now, uncork on nextTick.
    if (!this.corked) {
      this.corked = true;
      s.cork();
      process.nextTick(this.uncork);
    }
    for (const f of frames) {
      const len = f.payload.length;
      if (len <= COALESCE_LIMIT) {
        const buf = Buffer.allocUnsafe(HEADER_SIZE + len);
        encodeHeader(f, buf, 0);
        if (len > 0) f.payload.copy(buf, HEADER_SIZE);
        s.write(buf);
      } else {
        s.write(encodeHeader(f));
        s.write(f.payload);
      }
    }
    // The stream calls back once the bytes written so far were handed to the OS.
    if (written !== undefined) s.write(EMPTY_CHUNK, written);

    if (this.needWritable || s.writableLength > this.lowWater) this.armDrain();
  }

  /** 'drain' only fires once the buffer is empty; an empty write's callback tells us earlier. */
  private armDrain(): void {
    if (this.drainArmed || this.destroyed || this.stream.writableEnded) return;
    this.drainArmed = true;
    this.stream.write(EMPTY_CHUNK, this.onDrained);
  }

  protected _end(): void {
    this.stream.end();
  }

  /**
   * A byte stream shows an aborted peer only as EOF. A zero-length write tells the two
   * apart where the OS can (a Unix socket whose peer closed fails it with EPIPE, which
   * closes this channel; after a mere half-close it succeeds and does nothing).
   */
  private probePeer(): void {
    if (this.destroyed || this.stream.destroyed || this.stream.writableEnded) return;
    this.stream.write(EMPTY_CHUNK);
  }

  protected _destroy(err?: Error): void {
    if (err) this.closeError ??= err;
    // Abort, not half-close: over TCP send an RST so the peer sees the channel close now.
    // resetAndDestroy throws for non-TCP handles (Unix sockets): plain destroy there.
    if (typeof this.stream.resetAndDestroy === 'function') {
      try {
        this.stream.resetAndDestroy();
        return;
      } catch {
        // not a TCP handle
      }
    }
    this.stream.destroy();
  }

  protected _pauseRx(): void {
    this.stream.pause();
  }

  protected _resumeRx(): void {
    this.stream.resume();
  }

  private onData(chunk: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.decoder.push(chunk);
    } catch (err) {
      this.destroy(err as Error);
      return;
    }
    this.onFrames(frames, chunk.length);
  }
}
