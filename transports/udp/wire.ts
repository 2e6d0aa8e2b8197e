/**
 * The udp:// datagram format (see docs/udp-transport.md for the byte table). Every
 * datagram starts with a 16-byte header; the body depends on the type. The decoder is a
 * security boundary: it checks every field and the exact body length, and reports a
 * malformed datagram as a {@link FrameError} — the endpoint drops and counts it, it
 * never reaches a channel.
 * @packageDocumentation
 */
import { ErrorCode, FrameError } from '../../errors/index.js';

/** Protocol version in byte 0 of every datagram. */
export const UDP_VERSION = 1;

/** Size of the common datagram header in bytes. */
export const UDP_HEADER_SIZE = 16;

/** Datagram types (byte 1). */
export const DatagramType = {
  /** Dialer → listener: open a connection (dst cid 0, src cid = dialer's id). */
  SYN: 1,
  /** Listener → dialer: connection accepted (src cid = listener's id). */
  SYN_ACK: 2,
  /** A segment of the channel's byte stream; `seq` is its datagram sequence number. */
  DATA: 3,
  /** Cumulative + selective acknowledgement and the receive window edge. */
  ACK: 4,
  /** Keepalive / window probe: the peer answers with an ACK. */
  PING: 5,
  /** Abort the connection (or refuse a SYN); body: one reason byte. */
  RST: 6,
} as const;

/** Numeric datagram type. */
export type DatagramTypeValue = (typeof DatagramType)[keyof typeof DatagramType];

/** DATA flag: the last segment of the sender's stream (graceful end). */
export const FLAG_FIN = 0x01;
/**
 * DATA flag: a redundant copy of a datagram already sent (latency-class redundancy, see
 * docs/udp-transport.md). The receiver treats it like any DATA datagram; the flag only
 * tells it to count the copy (used, or discarded as expected) instead of as a duplicate.
 */
export const FLAG_COPY = 0x02;
/** SYN flag: the dialed channel is of the latency class (the listener enables redundancy). */
export const SYN_FLAG_LATENCY = 0x02;

/** Reasons carried by RST. */
export const RstReason = {
  /** The peer destroyed the channel. */
  ABORT: 1,
  /** The listener does not accept connections (closed, or at its limit). */
  REFUSED: 2,
  /** The datagram named a connection the sender of the RST does not know. */
  UNKNOWN: 3,
  /** The peer broke the protocol (bad frame in the stream, …). */
  PROTOCOL: 4,
  /** The peer's keepalive timed out. */
  TIMEOUT: 5,
  /**
   * The sender closed gracefully (both FINs through) and is going away: for a receiver
   * that delivered the sender's FIN and sent its own, this stands for the final ACK.
   */
  CLOSED: 6,
} as const;

/** Largest RST reason value. */
const MAX_RST_REASON = RstReason.CLOSED;

/** Most SACK ranges one ACK carries. */
export const MAX_SACK_RANGES = 32;

/** Smallest datagram size the protocol works with (header + a useful payload). */
export const MIN_DATAGRAM_SIZE = 576;
/** Largest datagram size (IPv4 UDP payload limit 65,507, rounded down). */
export const MAX_DATAGRAM_SIZE = 65_000;

/** Body size of SYN and SYN_ACK: datagram size u16, reserved u16, window u32. */
export const SYN_BODY = 8;
/** Fixed part of an ACK body: cum u32, window edge u32, range count u8, 3 reserved. */
export const ACK_FIXED = 12;

/** A decoded datagram header and body. */
export interface Datagram {
  type: DatagramTypeValue;
  flags: number;
  /** Receiver's connection id (0 only in SYN). */
  dstCid: number;
  /** Sender's connection id (never 0). */
  srcCid: number;
  /** DATA: datagram sequence number; others 0. */
  seq: number;
  /** DATA: stream bytes (zero-copy slice of the datagram). */
  payload: Buffer;
  /** SYN/SYN_ACK: the sender's largest datagram size. */
  datagramSize: number;
  /** SYN/SYN_ACK: the sender's receive window in datagrams. ACK: right edge (seq < edge may be sent). */
  window: number;
  /** ACK: every seq below it was received. */
  cum: number;
  /** ACK: received ranges above `cum`, as [start, end) pairs. */
  sack: number[];
  /** RST: reason. */
  reason: number;
}

function bad(msg: string): FrameError {
  return new FrameError(ErrorCode.BAD_FRAME, msg);
}

/** Writes the common header into `b` at 0. */
function header(b: Buffer, type: DatagramTypeValue, flags: number, dstCid: number, srcCid: number, seq: number): Buffer {
  b[0] = UDP_VERSION;
  b[1] = type;
  b[2] = flags;
  b[3] = 0;
  b.writeUInt32BE(dstCid >>> 0, 4);
  b.writeUInt32BE(srcCid >>> 0, 8);
  b.writeUInt32BE(seq >>> 0, 12);
  return b;
}

/** Encodes SYN or SYN_ACK (`latency` sets {@link SYN_FLAG_LATENCY} on a SYN). */
export function encodeSyn(type: typeof DatagramType.SYN | typeof DatagramType.SYN_ACK, dstCid: number, srcCid: number, datagramSize: number, window: number, latency = false): Buffer {
  const flags = latency && type === DatagramType.SYN ? SYN_FLAG_LATENCY : 0;
  const b = header(Buffer.allocUnsafe(UDP_HEADER_SIZE + SYN_BODY), type, flags, dstCid, srcCid, 0);
  b.writeUInt16BE(datagramSize, 16);
  b.writeUInt16BE(0, 18);
  b.writeUInt32BE(window >>> 0, 20);
  return b;
}

/** Encodes the header of a DATA datagram (the payload travels as a second buffer); `copy` sets {@link FLAG_COPY}. */
export function encodeDataHeader(dstCid: number, srcCid: number, seq: number, fin: boolean, copy = false): Buffer {
  return header(Buffer.allocUnsafe(UDP_HEADER_SIZE), DatagramType.DATA, (fin ? FLAG_FIN : 0) | (copy ? FLAG_COPY : 0), dstCid, srcCid, seq);
}

/** Encodes an ACK with up to {@link MAX_SACK_RANGES} ranges (`sack` holds [start, end) pairs). */
export function encodeAck(dstCid: number, srcCid: number, cum: number, windowEdge: number, sack: readonly number[]): Buffer {
  const n = Math.min(sack.length >> 1, MAX_SACK_RANGES);
  const b = header(Buffer.allocUnsafe(UDP_HEADER_SIZE + ACK_FIXED + 8 * n), DatagramType.ACK, 0, dstCid, srcCid, 0);
  b.writeUInt32BE(cum >>> 0, 16);
  b.writeUInt32BE(windowEdge >>> 0, 20);
  b.writeUInt32BE(n << 24, 24);
  for (let i = 0; i < n; i++) {
    b.writeUInt32BE(sack[2 * i]! >>> 0, 28 + 8 * i);
    b.writeUInt32BE(sack[2 * i + 1]! >>> 0, 32 + 8 * i);
  }
  return b;
}

/** Encodes a PING. */
export function encodePing(dstCid: number, srcCid: number): Buffer {
  return header(Buffer.allocUnsafe(UDP_HEADER_SIZE), DatagramType.PING, 0, dstCid, srcCid, 0);
}

/** Encodes an RST with `reason`. */
export function encodeRst(dstCid: number, srcCid: number, reason: number): Buffer {
  const b = header(Buffer.allocUnsafe(UDP_HEADER_SIZE + 1), DatagramType.RST, 0, dstCid, srcCid, 0);
  b[16] = reason;
  return b;
}

/**
 * Decodes and validates one datagram.
 * @param maxSize largest datagram accepted, bytes; a longer one is rejected with
 *   `NETCHANNEL_ERR_FRAME_TOO_LARGE`.
 * @throws FrameError `NETCHANNEL_ERR_BAD_FRAME` naming the bad field.
 */
export function decodeDatagram(b: Buffer, maxSize: number): Datagram {
  if (b.length > maxSize) throw new FrameError(ErrorCode.FRAME_TOO_LARGE, `datagram of ${b.length} bytes exceeds the limit of ${maxSize} bytes`);
  if (b.length < UDP_HEADER_SIZE) throw bad(`datagram of ${b.length} bytes is shorter than the ${UDP_HEADER_SIZE}-byte header`);
  if (b[0] !== UDP_VERSION) throw bad(`unsupported udp protocol version ${b[0]} (expected ${UDP_VERSION})`);
  const type = b[1]!;
  const flags = b[2]!;
  if (b[3] !== 0) throw bad(`reserved header byte is ${b[3]}, must be 0`);
  if (type < DatagramType.SYN || type > DatagramType.RST) throw bad(`unknown datagram type ${type}`);
  const allowed = type === DatagramType.DATA ? FLAG_FIN | FLAG_COPY : type === DatagramType.SYN ? SYN_FLAG_LATENCY : 0;
  if ((flags & ~allowed) !== 0) throw bad(`unknown flags 0x${flags.toString(16)} on datagram type ${type}`);
  const dstCid = b.readUInt32BE(4);
  const srcCid = b.readUInt32BE(8);
  const seq = b.readUInt32BE(12);
  if (srcCid === 0) throw bad('source connection id is 0');
  if ((type === DatagramType.SYN) !== (dstCid === 0)) throw bad(`destination connection id ${dstCid} on datagram type ${type} (0 exactly in SYN)`);
  if (type !== DatagramType.DATA && seq !== 0) throw bad(`sequence number ${seq} on datagram type ${type}, must be 0`);
  const d: Datagram = { type: type as DatagramTypeValue, flags, dstCid, srcCid, seq, payload: EMPTY, datagramSize: 0, window: 0, cum: 0, sack: NO_SACK, reason: 0 };
  const body = b.length - UDP_HEADER_SIZE;
  switch (type) {
    case DatagramType.SYN:
    case DatagramType.SYN_ACK:
      if (body !== SYN_BODY) throw bad(`datagram type ${type} has a ${body}-byte body, must be ${SYN_BODY}`);
      d.datagramSize = b.readUInt16BE(16);
      if (b.readUInt16BE(18) !== 0) throw bad('reserved SYN field is not 0');
      d.window = b.readUInt32BE(20);
      if (d.datagramSize < MIN_DATAGRAM_SIZE || d.datagramSize > MAX_DATAGRAM_SIZE) throw bad(`datagram size ${d.datagramSize} out of range ${MIN_DATAGRAM_SIZE}-${MAX_DATAGRAM_SIZE}`);
      if (d.window < 2) throw bad(`receive window of ${d.window} datagrams, must be at least 2`);
      break;
    case DatagramType.DATA:
      if (body === 0 && (flags & FLAG_FIN) === 0) throw bad('DATA datagram without payload or FIN');
      d.payload = b.subarray(UDP_HEADER_SIZE);
      break;
    case DatagramType.ACK: {
      if (body < ACK_FIXED) throw bad(`ACK body of ${body} bytes is shorter than ${ACK_FIXED}`);
      const n = b[24]!;
      if (b[25] !== 0 || b[26] !== 0 || b[27] !== 0) throw bad('reserved ACK bytes are not 0');
      if (n > MAX_SACK_RANGES) throw bad(`ACK carries ${n} SACK ranges, limit is ${MAX_SACK_RANGES}`);
      if (body !== ACK_FIXED + 8 * n) throw bad(`ACK with ${n} ranges has a ${body}-byte body, must be ${ACK_FIXED + 8 * n}`);
      d.cum = b.readUInt32BE(16);
      d.window = b.readUInt32BE(20);
      const sack: number[] = [];
      let prev = d.cum;
      for (let i = 0; i < n; i++) {
        const start = b.readUInt32BE(28 + 8 * i);
        const end = b.readUInt32BE(32 + 8 * i);
        // Ranges are ascending, disjoint, non-empty, above cum (no wrap: seq < 2^32).
        if (start <= prev || end <= start) throw bad(`SACK range #${i} [${start}, ${end}) is not ascending above ${prev}`);
        sack.push(start, end);
        prev = end;
      }
      d.sack = sack;
      break;
    }
    case DatagramType.PING:
      if (body !== 0) throw bad(`PING has a ${body}-byte body, must be empty`);
      break;
    default:
      if (body !== 1) throw bad(`RST has a ${body}-byte body, must be 1`);
      d.reason = b[16]!;
      if (d.reason < 1 || d.reason > MAX_RST_REASON) throw bad(`unknown RST reason ${d.reason}`);
  }
  return d;
}

const EMPTY = Buffer.alloc(0);
const NO_SACK: number[] = [];
