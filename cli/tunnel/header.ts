/**
 * The tunnel's in-band header: the first bytes of every tunnel virtual socket.
 *
 * Request (entry → exit), once, before the client's bytes:
 *
 * | bytes | field |
 * | --- | --- |
 * | 1 | version, `1` |
 * | 2 | length `n` of the JSON, u16 big-endian, 2–{@link MAX_REQUEST_JSON} |
 * | n | UTF-8 JSON `{ "target": "host:port" }` |
 *
 * Reply (exit → entry), once, before the target's bytes:
 *
 * | bytes | field |
 * | --- | --- |
 * | 1 | status: {@link ReplyStatus} |
 * | 2 | length `m` of the message, u16 big-endian (0 when OK) |
 * | m | UTF-8 message explaining a refusal |
 *
 * See docs/tunnel.md.
 * @packageDocumentation
 */
import type { Readable } from 'node:stream';
import { ErrorCode, NetChannelError } from '../../errors/index.js';

/** Version byte of the request header. */
export const HEADER_VERSION = 1;
/** Largest JSON body of a request header, bytes. */
export const MAX_REQUEST_JSON = 4096;
/** Largest reply message, bytes. */
export const MAX_REPLY_MESSAGE = 1024;

/** Status byte of a reply. */
export const ReplyStatus = {
  /** The exit connected to the target; the target's bytes follow. */
  OK: 0,
  /** The target is not in the exit's allowlist. */
  FORBIDDEN: 1,
  /** The exit could not connect to the target (refused, unreachable, timeout). */
  CONNECT_FAILED: 2,
  /** The request header was malformed. */
  BAD_REQUEST: 3,
} as const;

/** One of {@link ReplyStatus}. */
export type ReplyStatusValue = (typeof ReplyStatus)[keyof typeof ReplyStatus];

/** A decoded reply. */
export interface TunnelReply {
  status: ReplyStatusValue;
  message: string;
}

/** Result of a prefix parser: the value and how many bytes it used, or undefined for "need more". */
export type PrefixParse<T> = { value: T; used: number } | undefined;

function protocolError(message: string): NetChannelError {
  return new NetChannelError(ErrorCode.PROTOCOL, message);
}

/** Encodes the request header for `target` (`host:port`). */
export function encodeRequest(target: string): Buffer {
  const json = Buffer.from(JSON.stringify({ target }), 'utf8');
  if (json.length > MAX_REQUEST_JSON) throw new NetChannelError(ErrorCode.INVALID_ARG, `tunnel target too long (${json.length} bytes of JSON)`);
  const out = Buffer.allocUnsafe(3 + json.length);
  out[0] = HEADER_VERSION;
  out.writeUInt16BE(json.length, 1);
  json.copy(out, 3);
  return out;
}

/**
 * Parses a request header at the start of `buf`.
 * @throws NetChannelError `NETCHANNEL_ERR_PROTOCOL` on a bad version, length or JSON.
 */
export function decodeRequest(buf: Buffer): PrefixParse<{ target: string }> {
  if (buf.length < 1) return undefined;
  if (buf[0] !== HEADER_VERSION) throw protocolError(`tunnel header version must be ${HEADER_VERSION}, got ${buf[0]}`);
  if (buf.length < 3) return undefined;
  const n = buf.readUInt16BE(1);
  if (n < 2 || n > MAX_REQUEST_JSON) throw protocolError(`tunnel header JSON length must be 2-${MAX_REQUEST_JSON}, got ${n}`);
  if (buf.length < 3 + n) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(buf.toString('utf8', 3, 3 + n));
  } catch {
    throw protocolError('tunnel header is not valid JSON');
  }
  const target = (parsed as { target?: unknown } | null)?.target;
  if (typeof target !== 'string' || target.length === 0) throw protocolError('tunnel header needs a string "target"');
  return { value: { target }, used: 3 + n };
}

/** Encodes a reply. */
export function encodeReply(status: ReplyStatusValue, message = ''): Buffer {
  let msg = Buffer.from(message, 'utf8');
  if (msg.length > MAX_REPLY_MESSAGE) msg = msg.subarray(0, MAX_REPLY_MESSAGE);
  const out = Buffer.allocUnsafe(3 + msg.length);
  out[0] = status;
  out.writeUInt16BE(msg.length, 1);
  msg.copy(out, 3);
  return out;
}

/**
 * Parses a reply at the start of `buf`.
 * @throws NetChannelError `NETCHANNEL_ERR_PROTOCOL` on an unknown status or bad length.
 */
export function decodeReply(buf: Buffer): PrefixParse<TunnelReply> {
  if (buf.length < 3) return undefined;
  const status = buf[0]!;
  if (status > ReplyStatus.BAD_REQUEST) throw protocolError(`unknown tunnel reply status ${status}`);
  const m = buf.readUInt16BE(1);
  if (m > MAX_REPLY_MESSAGE) throw protocolError(`tunnel reply message length must be <= ${MAX_REPLY_MESSAGE}, got ${m}`);
  if (buf.length < 3 + m) return undefined;
  return { value: { status: status as ReplyStatusValue, message: buf.toString('utf8', 3, 3 + m) }, used: 3 + m };
}

/**
 * Reads a prefix from `stream` with `parse`, then pauses the stream and puts any bytes
 * past the prefix back (`unshift`), so a later `pipe` sees exactly the rest.
 * Rejects when the stream ends, errors or closes first, when `parse` throws, or after
 * `timeoutMs` (0 = no timeout).
 */
export function readPrefix<T>(stream: Readable, parse: (buf: Buffer) => PrefixParse<T>, timeoutMs = 0): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    const timer = timeoutMs > 0 ? setTimeout(() => fail(new NetChannelError(ErrorCode.TIMEOUT, `no tunnel header within ${timeoutMs} ms`)), timeoutMs) : null;
    const cleanup = (): void => {
      if (timer) clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('close', onEnd);
      stream.off('error', fail);
      stream.pause();
    };
    function fail(err: Error): void {
      cleanup();
      reject(err);
    }
    function onEnd(): void {
      fail(new NetChannelError(ErrorCode.PROTOCOL, `stream ended after ${buf.length} bytes, inside the tunnel header`));
    }
    function onData(chunk: Buffer): void {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      let r: PrefixParse<T>;
      try {
        r = parse(buf);
      } catch (err) {
        fail(err as Error);
        return;
      }
      if (!r) return;
      cleanup();
      if (r.used < buf.length) stream.unshift(buf.subarray(r.used));
      resolve(r.value);
    }
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('close', onEnd);
    stream.on('error', fail);
  });
}
