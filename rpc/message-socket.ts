/**
 * MessageSocket: a message-oriented interface on a virtual socket (or any byte
 * Duplex) — requests matched to responses by id, many in flight, handler errors as
 * error responses, oneway messages, a size limit, timeouts. It rides the same channels
 * and scheduler as the socket it wraps. See docs/rpc.md.
 * @packageDocumentation
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { ErrorCode, InvalidArgumentError, NetChannelError, type ErrorCodeValue } from '../errors/index.js';
import { ChunkQueue, decodeHeader, encodeHeader, HEADER_BYTES, MessageKind, type FrameHeader, type MessageKindValue } from './frame.js';

/** Default largest message payload: 16 MiB. */
export const DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024;

/** What a handler may return or a caller may send. */
export type Payload = Buffer | Uint8Array | string;

/** Answers one request; a thrown error (or rejection) becomes an error response. */
export type RequestHandler = (payload: Buffer, socket: MessageSocket) => Payload | Promise<Payload>;

/** Options of {@link MessageSocket}. */
export interface MessageSocketOptions {
  /** Largest payload sent or accepted, bytes; a larger incoming frame closes the socket. @default 16777216 */
  maxMessageSize?: number;
  /** Answers incoming requests. @default none: requests get an error response */
  handler?: RequestHandler;
  /** Default timeout of {@link MessageSocket.request}, ms; 0 = none. @default 0 */
  timeout?: number;
}

/** Options of one {@link MessageSocket.request}. */
export interface RequestOptions {
  /** Reject with NETCHANNEL_ERR_TIMEOUT after this many ms; 0 = none. @default the socket's `timeout` */
  timeout?: number;
}

/** Events of a {@link MessageSocket}. */
export interface MessageSocketEvents {
  /** A oneway message arrived. */
  message: [Buffer];
  /** The underlying socket closed; `err` when it failed. */
  close: [Error | undefined];
}

// errors/index.ts has no code for "the remote handler failed" yet; use it once it does.
const REMOTE_CODE: ErrorCodeValue = ErrorCode.REMOTE;

/** The peer's handler threw: `message` is its message, `remoteCode` its `code` if any. */
export class RpcRemoteError extends NetChannelError {
  /** `code` of the error the remote handler threw (e.g. `'ENOENT'`), when it had one. */
  readonly remoteCode: string | undefined;

  constructor(message: string, remoteCode?: string) {
    super(REMOTE_CODE, message);
    this.remoteCode = remoteCode;
  }
}

interface Pending {
  resolve: (b: Buffer) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout | null;
}

function toBuffer(p: Payload, what: string): Buffer {
  if (Buffer.isBuffer(p)) return p;
  if (typeof p === 'string') return Buffer.from(p, 'utf8');
  if (p instanceof Uint8Array) return Buffer.from(p.buffer, p.byteOffset, p.byteLength);
  throw new InvalidArgumentError(`${what} must be a Buffer, Uint8Array or string, got ${typeof p}`);
}

/** Frames messages over one byte stream. Made by `rpcConnect`/`rpcListen`, or directly. */
export class MessageSocket extends EventEmitter<MessageSocketEvents> {
  /** The wrapped stream (a VirtualSocket in rpcConnect/rpcListen). */
  readonly socket: Duplex;
  /** Largest payload sent or accepted, bytes. */
  readonly maxMessageSize: number;
  private readonly handler: RequestHandler | undefined;
  private readonly timeout: number;
  private readonly pending = new Map<number, Pending>();
  private readonly inbox = new ChunkQueue();
  private head: FrameHeader | null = null;
  private nextId = 1;
  private handling = 0;
  private peerEnded = false;
  private failure: Error | undefined;
  private corked = false;
  private closed: Promise<void>;

  constructor(socket: Duplex, options: MessageSocketOptions = {}) {
    super();
    const max = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    if (!Number.isInteger(max) || max < 0 || max > 0xffffffff) throw new InvalidArgumentError(`options.maxMessageSize must be an integer 0-4294967295, got ${JSON.stringify(options.maxMessageSize)}`);
    const timeout = options.timeout ?? 0;
    if (!Number.isFinite(timeout) || timeout < 0) throw new InvalidArgumentError(`options.timeout must be a number >= 0, got ${JSON.stringify(options.timeout)}`);
    if (options.handler !== undefined && typeof options.handler !== 'function') throw new InvalidArgumentError('options.handler must be a function');
    this.socket = socket;
    this.maxMessageSize = max;
    this.handler = options.handler;
    this.timeout = timeout;
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.failAll(new NetChannelError(ErrorCode.CLOSED, 'message socket closed', { cause: this.failure }));
        this.inbox.clear();
        this.emit('close', this.failure);
        resolve();
      });
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err: Error) => {
      this.failure ??= err;
      this.failAll(err);
    });
    socket.on('end', () => {
      this.peerEnded = true;
      this.failAll(new NetChannelError(ErrorCode.CLOSED, 'the peer closed the message socket'));
      if (this.handling === 0) socket.end();
    });
  }

  /** Requests waiting for their response. */
  get pendingRequests(): number {
    return this.pending.size;
  }

  /** True once the socket can no longer send. */
  get isClosed(): boolean {
    return this.socket.destroyed || this.socket.writableEnded;
  }

  /**
   * Sends a request and resolves with the response payload.
   * @throws (rejects) NETCHANNEL_ERR_FRAME_TOO_LARGE over `maxMessageSize`, NETCHANNEL_ERR_TIMEOUT,
   * NETCHANNEL_ERR_CLOSED when the socket closes first, {@link RpcRemoteError} when the handler threw.
   */
  request(payload: Payload, options: RequestOptions = {}): Promise<Buffer> {
    let body: Buffer;
    try {
      body = this.checkSend(payload, 'request payload');
    } catch (err) {
      return Promise.reject(err);
    }
    const timeout = options.timeout ?? this.timeout;
    if (!Number.isFinite(timeout) || timeout < 0) return Promise.reject(new InvalidArgumentError(`options.timeout must be a number >= 0, got ${JSON.stringify(timeout)}`));
    const id = this.allocateId();
    return new Promise<Buffer>((resolve, reject) => {
      const timer =
        timeout > 0
          ? setTimeout(() => {
              this.pending.delete(id);
              reject(new NetChannelError(ErrorCode.TIMEOUT, `request ${id} got no response within ${timeout} ms`));
            }, timeout)
          : null;
      this.pending.set(id, { resolve, reject, timer });
      this.write(id, MessageKind.REQUEST, body);
    });
  }

  /**
   * Sends a oneway message (no response). Returns the socket's `write()` result: false
   * asks the caller to wait for `socket`'s 'drain'.
   * @throws NETCHANNEL_ERR_FRAME_TOO_LARGE or NETCHANNEL_ERR_CLOSED.
   */
  send(payload: Payload): boolean {
    return this.write(0, MessageKind.ONEWAY, this.checkSend(payload, 'message payload'));
  }

  /** Graceful close: pending requests are rejected, queued messages are flushed, the socket ends. Idempotent. */
  close(): Promise<void> {
    this.failAll(new NetChannelError(ErrorCode.CLOSED, 'message socket closed by the application'));
    if (!this.socket.writableEnded && !this.socket.destroyed) this.socket.end();
    return this.closed;
  }

  /** Immediate close: the socket is destroyed (its peer sees a reset). Idempotent. */
  destroy(err?: Error): void {
    if (err) this.failure ??= err;
    this.failAll(err ?? new NetChannelError(ErrorCode.CLOSED, 'message socket destroyed'));
    // A reset, not a FIN: the peer must not take the close for a clean end (net.Socket and VirtualSocket have it).
    const sock = this.socket as Duplex & { resetAndDestroy?: (err?: Error) => unknown };
    if (typeof sock.resetAndDestroy === 'function') sock.resetAndDestroy(err);
    else sock.destroy(err);
  }

  private checkSend(payload: Payload, what: string): Buffer {
    const body = toBuffer(payload, what);
    if (body.length > this.maxMessageSize) {
      throw new NetChannelError(ErrorCode.FRAME_TOO_LARGE, `${what} of ${body.length} bytes exceeds maxMessageSize ${this.maxMessageSize}`);
    }
    if (this.isClosed) throw new NetChannelError(ErrorCode.CLOSED, 'message socket is closed', { cause: this.failure });
    return body;
  }

  private allocateId(): number {
    do this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
    while (this.pending.has(this.nextId));
    return this.nextId;
  }

  /** Writes one frame; frames written in one tick leave in one batch (cork). */
  private write(id: number, kind: MessageKindValue, body: Buffer): boolean {
    const s = this.socket;
    if (s.writableEnded || s.destroyed) return false;
    if (!this.corked) {
      this.corked = true;
      s.cork();
      process.nextTick(() => {
        this.corked = false;
        s.uncork();
      });
    }
    s.write(encodeHeader(body.length, id, kind));
    return body.length === 0 ? !s.writableNeedDrain : s.write(body);
  }

  private onData(chunk: Buffer): void {
    const q = this.inbox;
    q.push(chunk);
    for (;;) {
      if (!this.head) {
        if (q.size < HEADER_BYTES) return;
        const h = decodeHeader(q.take(HEADER_BYTES));
        if (h.length > this.maxMessageSize) {
          return this.protocolError(ErrorCode.FRAME_TOO_LARGE, `incoming message of ${h.length} bytes exceeds maxMessageSize ${this.maxMessageSize}`);
        }
        if (h.kind > MessageKind.ONEWAY) return this.protocolError(ErrorCode.BAD_FRAME, `unknown message kind ${h.kind}`);
        this.head = h;
      }
      if (q.size < this.head.length) return;
      const { id, kind, length } = this.head;
      this.head = null;
      this.dispatch(id, kind, length === 0 ? Buffer.alloc(0) : q.take(length));
      if (this.socket.destroyed) return;
    }
  }

  private dispatch(id: number, kind: number, payload: Buffer): void {
    if (kind === MessageKind.REQUEST) return void this.answer(id, payload);
    if (kind === MessageKind.ONEWAY) return void this.emit('message', payload);
    const p = this.pending.get(id);
    if (!p) return; // timed out or rejected already: a late answer is dropped
    this.pending.delete(id);
    if (p.timer) clearTimeout(p.timer);
    if (kind === MessageKind.RESPONSE) return p.resolve(payload);
    let info: { message?: unknown; code?: unknown } = {};
    try {
      info = JSON.parse(payload.toString('utf8')) as typeof info;
    } catch {
      info = { message: payload.toString('utf8') };
    }
    p.reject(new RpcRemoteError(typeof info.message === 'string' ? info.message : 'remote handler failed', typeof info.code === 'string' ? info.code : undefined));
  }

  private async answer(id: number, payload: Buffer): Promise<void> {
    this.handling++;
    let kind: MessageKindValue = MessageKind.RESPONSE;
    let body: Buffer;
    try {
      if (!this.handler) throw new NetChannelError(ErrorCode.INVALID_ARG, 'this message socket has no request handler');
      body = toBuffer(await this.handler(payload, this), 'handler result');
      if (body.length > this.maxMessageSize) throw new NetChannelError(ErrorCode.FRAME_TOO_LARGE, `response of ${body.length} bytes exceeds maxMessageSize ${this.maxMessageSize}`);
    } catch (err) {
      kind = MessageKind.ERROR;
      const e = err as { message?: unknown; code?: unknown };
      const message = err instanceof Error ? err.message : String(err);
      body = Buffer.from(JSON.stringify(typeof e?.code === 'string' ? { message, code: e.code } : { message }), 'utf8');
    }
    this.handling--;
    this.write(id, kind, body);
    if (this.peerEnded && this.handling === 0 && !this.socket.writableEnded) this.socket.end();
  }

  private protocolError(code: typeof ErrorCode.FRAME_TOO_LARGE | typeof ErrorCode.BAD_FRAME, message: string): void {
    this.head = null;
    this.inbox.clear();
    this.destroy(new NetChannelError(code, message));
  }

  private failAll(err: Error): void {
    if (this.pending.size === 0) return;
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(err);
    }
  }
}
