/**
 * Typed errors of netchannel. Every error thrown or emitted by the library is a
 * {@link NetChannelError} with a stable `code` (`NETCHANNEL_ERR_*`), so callers can
 * branch on `err.code` exactly as they do with Node's `ECONNREFUSED` and friends.
 * @packageDocumentation
 */

/** Every stable error code the library produces. */
export const ErrorCode = {
  /** An argument or option has the wrong type or is out of range. */
  INVALID_ARG: 'NETCHANNEL_ERR_INVALID_ARG',
  /** An address string cannot be parsed or is not allowed for its scheme. */
  INVALID_ADDRESS: 'NETCHANNEL_ERR_INVALID_ADDRESS',
  /** No driver is registered for the address scheme. */
  UNKNOWN_SCHEME: 'NETCHANNEL_ERR_UNKNOWN_SCHEME',
  /** A frame on the wire is malformed (bad version, type, flags or field). */
  BAD_FRAME: 'NETCHANNEL_ERR_BAD_FRAME',
  /** A frame's payload length exceeds the configured maximum. */
  FRAME_TOO_LARGE: 'NETCHANNEL_ERR_FRAME_TOO_LARGE',
  /** The channel HELLO exchange failed or timed out. */
  HANDSHAKE: 'NETCHANNEL_ERR_HANDSHAKE',
  /** A driver could not dial or listen on an address. */
  DIAL_FAILED: 'NETCHANNEL_ERR_DIAL_FAILED',
  /** An operation was attempted on a closed channel, socket, server or stack. */
  CLOSED: 'NETCHANNEL_ERR_CLOSED',
  /** Nobody listens on the virtual port that was connected to. */
  CONNECTION_REFUSED: 'NETCHANNEL_ERR_CONNECTION_REFUSED',
  /** The peer reset (destroyed) the virtual socket. */
  CONNECTION_RESET: 'NETCHANNEL_ERR_CONNECTION_RESET',
  /** Every channel to the peer host is gone. */
  PEER_UNREACHABLE: 'NETCHANNEL_ERR_PEER_UNREACHABLE',
  /** The peer sent beyond the credit it was granted, or otherwise broke the protocol. */
  PROTOCOL: 'NETCHANNEL_ERR_PROTOCOL',
  /** The virtual port is already in use. */
  PORT_IN_USE: 'NETCHANNEL_ERR_PORT_IN_USE',
  /** An operation did not finish in its configured time. */
  TIMEOUT: 'NETCHANNEL_ERR_TIMEOUT',
  /** A peer failed to prove the pre-shared key, or requires one this stack lacks. */
  AUTH: 'NETCHANNEL_ERR_AUTH',
  /** The remote request handler failed (message interface). */
  REMOTE: 'NETCHANNEL_ERR_REMOTE',
  /** A configured limit was exceeded (sockets per peer, pending handshakes, …). */
  LIMIT: 'NETCHANNEL_ERR_LIMIT',
  /** An operation was cancelled through its AbortSignal (`name` is `'AbortError'`, as Node's). */
  ABORTED: 'NETCHANNEL_ERR_ABORTED',
  /** `server.close()` on a server that is not listening: Node's own code, as net.Server gives. */
  SERVER_NOT_RUNNING: 'ERR_SERVER_NOT_RUNNING',
} as const;

/** Union of all stable error codes. */
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Base class of every netchannel error. */
export class NetChannelError extends Error {
  /** Stable machine-readable code, e.g. `NETCHANNEL_ERR_CONNECTION_REFUSED`. */
  readonly code: ErrorCodeValue;

  constructor(code: ErrorCodeValue, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** An argument or option is invalid; the message names the value. */
export class InvalidArgumentError extends NetChannelError {
  constructor(message: string) {
    super(ErrorCode.INVALID_ARG, message);
  }
}

/** An address cannot be parsed, or names no registered scheme. */
export class AddressError extends NetChannelError {
  /** The offending address string. */
  readonly address: string;

  constructor(code: typeof ErrorCode.INVALID_ADDRESS | typeof ErrorCode.UNKNOWN_SCHEME, address: string, message: string) {
    super(code, message);
    this.address = address;
  }
}

/** Malformed input on a channel. Closes only the channel it arrived on. */
export class FrameError extends NetChannelError {
  constructor(code: typeof ErrorCode.BAD_FRAME | typeof ErrorCode.FRAME_TOO_LARGE | typeof ErrorCode.PROTOCOL, message: string) {
    super(code, message);
  }
}

/** A channel-level failure: handshake, dial, or use after close. */
export class ChannelError extends NetChannelError {}

/** A virtual-socket-level failure: refused, reset, peer unreachable, timeout. */
export class SocketError extends NetChannelError {}

/** An operation cancelled by its AbortSignal; `cause` is the signal's reason. Named `AbortError`, as Node's. */
export class AbortError extends NetChannelError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.ABORTED, message, options);
  }
}
