/**
 * Validation of connect and listen options, and the guard of one opening socket: its
 * connect timeout and AbortSignal, released once the socket connects or closes.
 * @packageDocumentation
 */
import { AbortError, ErrorCode, InvalidArgumentError, SocketError } from '../errors/index.js';
import { checkKnownKeys, intOption } from '../errors/validate.js';
import type { AppClass } from '../netdriver/channel.js';
import { MAX_LISTEN_PORT } from '../netdriver/frame.js';
import type { VirtualSocket } from '../vns/virtual-socket.js';
import { CONNECT_OPTION_KEYS, LISTEN_OPTION_KEYS, type ConnectOptions, type ListenOptions } from './socket-options.js';

/** Connect options after validation. */
export interface ResolvedConnectOptions {
  appClass: AppClass;
  signal: AbortSignal | undefined;
  /** Connect timeout, ms (undefined: the stack's `connectTimeout`). */
  timeout: number | undefined;
  /** Send buffer of the socket, bytes (undefined: the stack's `sendBuffer`). */
  sendBuffer: number | undefined;
}

/** Listen options after validation. */
export interface ResolvedListenOptions {
  appClass: AppClass | undefined;
  signal: AbortSignal | undefined;
  /** Idle timeout of accepted sockets, ms, or undefined. */
  timeout: number | undefined;
}

function checkObject(where: string, o: unknown): Record<string, unknown> {
  if (o === undefined) return {};
  if (o === null || typeof o !== 'object') throw new InvalidArgumentError(`${where} must be an object, got ${JSON.stringify(o)}`);
  return o as Record<string, unknown>;
}

function checkClass(where: string, value: unknown): AppClass | undefined {
  if (value === undefined || value === 'latency' || value === 'throughput') return value;
  throw new InvalidArgumentError(`${where}.appClass must be 'latency' or 'throughput', got ${JSON.stringify(value)}`);
}

function checkSignal(where: string, value: unknown): AbortSignal | undefined {
  if (value === undefined || value instanceof AbortSignal) return value;
  throw new InvalidArgumentError(`${where}.signal must be an AbortSignal, got ${typeof value}`);
}

/** Validates `connect`/`createConnection`/`createSocket` options (unknown keys included). */
export function resolveConnectOptions(options: ConnectOptions | undefined): ResolvedConnectOptions {
  const o = checkObject('connect options', options);
  checkKnownKeys('connect options', o, CONNECT_OPTION_KEYS);
  const timeout = o.timeout === undefined ? undefined : intOption('timeout', o.timeout, 0, 1, 3_600_000);
  const sendBuffer = o.sendBuffer === undefined ? undefined : intOption('sendBuffer', o.sendBuffer, 0, 1024, 2 ** 30);
  return { appClass: checkClass('connect options', o.appClass) ?? 'throughput', signal: checkSignal('connect options', o.signal), timeout, sendBuffer };
}

/** Validates `listen` options (unknown keys included). */
export function resolveListenOptions(options: ListenOptions | undefined): ResolvedListenOptions {
  const o = checkObject('listen options', options);
  checkKnownKeys('listen options', o, LISTEN_OPTION_KEYS);
  const timeout = o.timeout === undefined ? undefined : intOption('timeout', o.timeout, 0, 1, 2 ** 31 - 1);
  return { appClass: checkClass('listen options', o.appClass), signal: checkSignal('listen options', o.signal), timeout };
}

/** A virtual port to connect to: an integer 1–49151 (a listening port). */
export function checkConnectPort(port: unknown): number {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > MAX_LISTEN_PORT) {
    throw new InvalidArgumentError(`virtual port must be an integer 1-${MAX_LISTEN_PORT}, got ${JSON.stringify(port)}`);
  }
  return port;
}

/** The error of an operation cancelled by `signal`. */
export function abortError(signal: AbortSignal, what: string): AbortError {
  return new AbortError(`${what} was aborted`, { cause: signal.reason });
}

/**
 * Destroys `sock` with NETCHANNEL_ERR_TIMEOUT after `timeoutMs`, or with an
 * `AbortError` when `signal` aborts (at once, on the next tick, if it already is),
 * unless it connects or closes first.
 */
export function guardOpen(sock: VirtualSocket, timeoutMs: number, signal: AbortSignal | undefined, what: string): void {
  const onAbort = (): void => {
    release();
    sock.destroy(abortError(signal!, what));
  };
  const timer = setTimeout(() => {
    release();
    sock.destroy(new SocketError(ErrorCode.TIMEOUT, `${what} timed out after ${timeoutMs} ms`));
  }, timeoutMs);
  const release = (): void => {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
    sock.off('connect', release);
    sock.off('close', release);
  };
  sock.once('connect', release);
  sock.once('close', release);
  if (signal?.aborted) process.nextTick(onAbort);
  else signal?.addEventListener('abort', onAbort, { once: true });
}
