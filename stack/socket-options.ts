/**
 * Options of a stack's `connect`/`createConnection`/`createSocket` and `listen`
 * (shared with the rpc layer), with their known keys.
 * @packageDocumentation
 */
import type { KnownKeys } from '../errors/validate.js';
import type { AppClass } from '../netdriver/channel.js';

/** Options of `Stack.connect`, `Stack.createConnection` and `Stack.createSocket`. */
export interface ConnectOptions {
  /** Traffic class of the socket. @default 'throughput' */
  appClass?: AppClass;
  /**
   * Cancels the connect: the socket is destroyed with a NETCHANNEL_ERR_ABORTED
   * `AbortError` (also when the signal is already aborted). After `'connect'` it has
   * no effect. @default undefined
   */
  signal?: AbortSignal;
  /**
   * Connect timeout, ms: from the call (or `connect()` for `createSocket`) until
   * `'connect'`, dialing included; then the socket is destroyed with
   * NETCHANNEL_ERR_TIMEOUT. Unlike net's `timeout` (an idle timer), it ends at
   * `'connect'`; use `socket.setTimeout()` for idle timeouts.
   * @default the stack's `connectTimeout`
   */
  timeout?: number;
  /** Send buffer of this socket, bytes (see the stack option `sendBuffer`). @default the stack's `sendBuffer` */
  sendBuffer?: number;
}

/** Options of `Stack.listen`. */
export interface ListenOptions {
  /** Class forced on accepted sockets. @default the class each connector asked for */
  appClass?: AppClass;
  /** Closes the server when aborted (`listen` rejects with an `AbortError` if already aborted). @default undefined */
  signal?: AbortSignal;
  /**
   * Idle timeout set on every accepted socket, ms: as `socket.setTimeout(timeout)` in a
   * net `'connection'` handler, the socket emits `'timeout'` after that long without
   * traffic either way; like net, it is not destroyed (the application decides).
   * @default undefined (none)
   */
  timeout?: number;
}

/** Known keys of {@link ConnectOptions}. */
export const CONNECT_OPTION_KEYS = { appClass: true, signal: true, timeout: true, sendBuffer: true } as const satisfies KnownKeys<ConnectOptions>;

/** Known keys of {@link ListenOptions}. */
export const LISTEN_OPTION_KEYS = { appClass: true, signal: true, timeout: true } as const satisfies KnownKeys<ListenOptions>;
