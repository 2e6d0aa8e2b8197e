/**
 * What a virtual socket needs from the layer below: channel selection (the
 * scheduler), control-frame transmission and removal from the connection table.
 * @packageDocumentation
 */
import type { AppClass } from '../netdriver/channel.js';
import type { Frame } from '../netdriver/frame.js';
import type { DeviceChannel } from '../netdriver/net-device.js';

/** The peer-facing side of one virtual socket, provided by its peer session. */
export interface SocketLink {
  /** Address the peer was reached at (or accepted from). */
  readonly remoteAddress: string;
  /** Host id of the peer stack. */
  readonly remoteHostId: string;
  /** This stack's host id. */
  readonly localHostId: string;
  /**
   * Asks the scheduler for a channel for `bytes` of the socket's data. Returns
   * undefined when every channel is full; the link then calls `sock.pump()` later.
   */
  select(sock: LinkedSocket, bytes: number): DeviceChannel | undefined;
  /** Sends a control frame (SYNC, CREDIT, FIN, RST, …) on a channel of the socket's class. */
  control(appClass: AppClass, frame: Frame): void;
  /** Removes the socket from the connection table. */
  detach(sock: LinkedSocket): void;
  /**
   * Keeps a closed socket in the table until its data is acknowledged (like a kernel
   * after close()); it calls `detach` itself when done, or the link gives up after a timeout.
   */
  linger(sock: LinkedSocket): void;
  /** Accounts `delta` out-of-order bytes against the peer's limit; false = over the limit. */
  reserveReorder(delta: number): boolean;
  /** A scheduler-relevant change: HoL detected/resolved here, or the peer (un)pinned us. */
  notify(sock: LinkedSocket, kind: 'hol-detected' | 'hol-resolved' | 'pinned' | 'shared', windowBytes: number): void;
  /** The socket was destroyed (`err` set when it failed); called once. */
  closed(sock: LinkedSocket, err: Error | null): void;
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
  /** Retries transmission (called when a channel became writable). */
  pump(): void;
}
