/**
 * Options of a stack's `connect` and `listen` (shared with the rpc layer).
 * @packageDocumentation
 */
import type { AppClass } from '../netdriver/channel.js';

/** Options of `Stack.connect`. */
export interface ConnectOptions {
  /** Traffic class of the socket. @default 'throughput' */
  appClass?: AppClass;
  /** Send buffer of this socket, bytes (see the stack option `sendBuffer`). @default the stack's `sendBuffer` */
  sendBuffer?: number;
}

/** Options of `Stack.listen`. */
export interface ListenOptions {
  /** Class forced on accepted sockets. @default the class each connector asked for */
  appClass?: AppClass;
}
