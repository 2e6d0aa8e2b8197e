/**
 * The frame: the unit a channel carries. See docs/wire-format.md for the byte layout.
 * @packageDocumentation
 */

/** Frame types on the wire (byte 0 of the header). */
export const FrameType = {
  /** Channel hello: host id, channel class and index (first frame each way). */
  HELLO: 1,
  /** Virtual-socket payload bytes; `seq` is the byte offset of the first byte. */
  DATA: 2,
  /** Open a virtual socket; `ack` carries the opener's initial grant. */
  SYNC: 3,
  /** Accept a virtual socket; `ack` carries the acceptor's initial grant. */
  SYNC_ACK: 4,
  /** End of the sender's byte stream; `seq` is the final byte offset. */
  FIN: 5,
  /** Abort a virtual socket or refuse a SYNC; `ack` carries a {@link ResetReason}. */
  RST: 6,
  /** Flow control: `seq` acknowledges bytes received in order, `ack` is the new grant. */
  CREDIT: 7,
  /** Liveness probe; payload is echoed in a PONG. */
  PING: 8,
  /** Answer to a PING, same payload. */
  PONG: 9,
  /**
   * Graceful channel close: no more frames follow from the sender. A channel whose
   * transport ends without a BYE is treated as failed (its frames may be lost).
   */
  BYE: 10,
  /**
   * Channel-level acknowledgement (scheduler feedback): `seq` is what the sender of the
   * ACK has received on this channel so far, modulo 2^32, counted as DATA payload bytes
   * plus header-and-payload bytes of every other frame except HELLO, BYE and ACK. No
   * payload; ports 0.
   */
  ACK: 11,
} as const;

/** Numeric frame type. */
export type FrameTypeValue = (typeof FrameType)[keyof typeof FrameType];

/** Frame flag bits (byte 1 of the header). */
export const FrameFlag = {
  /** SYNC/SYNC_ACK: the socket belongs to the latency class. */
  LATENCY: 0x01,
  /** HELLO: this HELLO answers the peer's HELLO. */
  REPLY: 0x02,
  /** CREDIT: the receiver's reader stalls (head-of-line); keep this socket off shared channels. */
  HOL: 0x04,
  /** CREDIT: the receiver has processed the sender's FIN (everything is acknowledged). */
  FIN_SEEN: 0x08,
  /** HELLO: the dialer's proof of the pre-shared key (payload: HMAC-SHA256). */
  AUTH: 0x10,
  /** HELLO reply: the payload carries the acceptor's advertised addresses (multipath). */
  ADVERTISE: 0x20,
  /** DATA: a write callback waits for this segment's acknowledgement; acknowledge promptly once received in order. */
  ACK_NOW: 0x40,
} as const;

/** Mask of every defined flag bit; others must be zero. */
export const KNOWN_FLAGS = FrameFlag.LATENCY | FrameFlag.REPLY | FrameFlag.HOL | FrameFlag.FIN_SEEN | FrameFlag.AUTH | FrameFlag.ADVERTISE | FrameFlag.ACK_NOW;

/** Reasons carried in the `ack` field of an RST frame. */
export const ResetReason = {
  /** The virtual socket was destroyed by its owner. */
  RESET: 1,
  /** Nobody listens on the destination port. */
  REFUSED: 2,
  /** The frame referred to a connection the receiver does not know. */
  UNKNOWN: 3,
  /** The sender broke the protocol (credit exceeded, bad sequence, …). */
  PROTOCOL: 4,
  /** A limit of the receiver was exceeded (too many sockets, …). */
  LIMIT: 5,
} as const;

/** Wire-format version written in byte 2 of every header. */
export const WIRE_VERSION = 1;

/** Size of the fixed frame header in bytes. */
export const HEADER_SIZE = 24;

/** Largest virtual port a listener may bind (1–49151); ports above it are ephemeral (connect side). */
export const MAX_LISTEN_PORT = 49151;
/** First ephemeral virtual port; connecting sockets get 49152–65535, allocated per peer. */
export const FIRST_EPHEMERAL_PORT = MAX_LISTEN_PORT + 1;
/** Largest valid virtual port; the u32 port fields of a frame never carry more. */
export const MAX_PORT = 0xffff;

/** One frame: header fields plus payload. */
export interface Frame {
  /** Frame type. */
  type: FrameTypeValue;
  /** Flag bits, see {@link FrameFlag}. */
  flags: number;
  /** Source virtual port (u32). */
  src: number;
  /** Destination virtual port (u32). */
  dst: number;
  /** Sequence number (u32, modulo 2^32). */
  seq: number;
  /** Acknowledgement / grant / reason (u32), meaning depends on the type. */
  ack: number;
  /** Payload bytes (empty Buffer for control frames). */
  payload: Buffer;
}

/** A shared zero-length payload for control frames. */
export const EMPTY = Buffer.alloc(0);

/** Wire size of a frame: header plus payload. */
export function frameSize(frame: Frame): number {
  return HEADER_SIZE + frame.payload.length;
}

/** Builds a control frame (no payload). */
export function controlFrame(type: FrameTypeValue, src: number, dst: number, seq = 0, ack = 0, flags = 0): Frame {
  return { type, flags, src, dst, seq, ack, payload: EMPTY };
}
