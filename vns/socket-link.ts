/**
 * What a virtual socket needs from the layer below (its peer session): transmission
 * of its segments and control frames through the scheduler, and the connection
 * table. The socket never sees a channel; the session never sees socket internals
 * beyond {@link LinkedSocket}.
 * @packageDocumentation
 */
import type { AppClass } from '../netdriver/channel.js';
import type { Frame } from '../netdriver/frame.js';

/** The peer-facing side of one virtual socket, provided by its peer session. */
export interface SocketLink {
  /** Address the peer was reached at (or accepted from). */
  readonly remoteAddress: string;
  /** Host id of the peer stack. */
  readonly remoteHostId: string;
  /** This stack's host id. */
  readonly localHostId: string;
  /**
   * Sends `bytes` of the socket's data: the scheduler picks a channel, then the link
   * calls `sock.takeSegment(bytes, channelId)` and transmits the frame. False when
   * every channel is full; the link then calls `sock.pump()` later.
   */
  sendData(sock: LinkedSocket, bytes: number): boolean;
  /** Re-sends a DATA frame already built; the channel id it went on, or -1 (wait for `pump`). */
  resendData(sock: LinkedSocket, frame: Frame): number;
  /** Sends a control frame (SYNC, CREDIT, FIN, RST, …) of the socket, placed by the scheduler. */
  control(sock: LinkedSocket, frame: Frame): void;
  /** Removes the socket from the connection table. */
  detach(sock: LinkedSocket): void;
  /**
   * Keeps a closed socket in the table until its data is acknowledged (like a kernel
   * after close()); it calls `detach` itself when done, or the link gives up after a timeout.
   */
  linger(sock: LinkedSocket): void;
  /** Accounts `delta` out-of-order bytes against the peer's limit; false = over the limit. */
  reserveReorder(delta: number): boolean;
  /** Accounts `delta` bytes retained for retransmission (negative: released) against the memory budget. */
  retain(delta: number): void;
  /** A scheduler-relevant change: HoL detected/resolved here, or the peer (un)pinned us. */
  notify(sock: LinkedSocket, kind: 'hol-detected' | 'hol-resolved' | 'pinned' | 'shared', windowBytes: number): void;
  /** The socket was destroyed (`err` set when it failed); called once. */
  closed(sock: LinkedSocket, err: Error | null): void;
}

/** Where an opened socket is bound: its peer session and ports (internal). */
export interface SocketBinding {
  link: SocketLink;
  localPort: number;
  remotePort: number;
  flowState: unknown;
}

/** What the link sees of a socket. */
export interface LinkedSocket {
  /** Class of the socket. */
  readonly appClass: AppClass;
  /** Local virtual port. */
  readonly localPort: number;
  /** Remote virtual port. */
  readonly remotePort: number;
  /** Scheduler state of the socket's policy. */
  readonly flowState: unknown;
  /**
   * Set while the peer reports its reader stalled (HoL): the socket stays on one
   * channel — this channel id, or 0 until the link picks one. Null: not pinned.
   */
  pinnedTo: number | null;
  /** The link published `socket-opened` for it. */
  announced: boolean;
  /** Payload bytes delivered in order. */
  readonly bytesRead: number;
  /** Payload bytes written by the application. */
  readonly bytesWritten: number;
  /** Times the sender ran out of credit. */
  readonly creditStalls: number;
  /** The window the peer granted last (bytes the socket may have unacknowledged). */
  readonly sendWindow: number;
  /**
   * Takes the next `bytes` off the transmit queue as a DATA frame that will travel on
   * channel `channelId`, and records it for retransmission.
   */
  takeSegment(bytes: number, channelId: number): Frame;
  /** Retries transmission (called when a channel became writable). */
  pump(): void;
  /**
   * The linger timeout ran out before the peer acknowledged everything: drop what is
   * retained, fail the write callbacks still waiting (NETCHANNEL_ERR_TIMEOUT), detach.
   */
  lingerExpired(): void;
}

/** The link of a socket not yet bound to a peer session: it sends nothing. */
export const UNBOUND_LINK: SocketLink = {
  remoteAddress: '',
  remoteHostId: '',
  localHostId: '',
  sendData: () => false,
  resendData: () => -1,
  retain: () => {},
  control: () => {},
  detach: () => {},
  linger: () => {},
  reserveReorder: () => false,
  notify: () => {},
  closed: () => {},
};
