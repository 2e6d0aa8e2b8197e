/**
 * A minimal byte-stream contract shared by every transport the benchmarks compare, so
 * each scenario is written once. Adapters are thin (one call per operation) and use
 * each library's native API, so none of them pays for a foreign stream abstraction.
 * @packageDocumentation
 */
import type { LatencyTraceSnapshot } from '../../index.js';
import { once } from 'node:events';
import type { Duplex } from 'node:stream';

/** A received chunk: a Buffer, or (yamux) a Uint8Array / Uint8ArrayList. */
export interface Chunk {
  readonly byteLength: number;
}

/** Byte `i` of a chunk. */
export function byteAt(chunk: Chunk, i: number): number | undefined {
  if (chunk instanceof Uint8Array) return chunk[i];
  return (chunk as unknown as { get(i: number): number }).get(i);
}

/** One bidirectional byte stream (a socket, a virtual socket, an HTTP/2 or yamux stream). */
export interface Pipe {
  /** Queues `buf` (never modified afterwards by the caller); false = wait for {@link Pipe.drained}. */
  write(buf: Uint8Array): boolean;
  /** Resolves when the pipe accepts writes again. */
  drained(): Promise<void>;
  /** Calls `cb` for every received chunk (set once). */
  onData(cb: (chunk: Chunk) => void): void;
  /** Ends the write side gracefully; resolves once the pipe is closed both ways. */
  close(): Promise<void>;
  /** Aborts the pipe at once. */
  destroy(): void;
}

/** The transports compared. */
export type KindSpec =
  | { kind: 'net' }
  | { kind: 'netchannel'; channels: number; latencyChannels?: number; isolation?: boolean; transport?: ChannelTransport; trace?: boolean }
  | { kind: 'http2' }
  | { kind: 'yamux' };

/**
 * Channels of a netchannel case: tcp (default) or udp; `loss` > 0 (or `proxy`) puts the
 * impairment proxy (bench/lib/udp-impair-proxy.ts) in front of a udp server, in its process.
 */
export type ChannelTransport = { kind: 'tcp' } | { kind: 'udp'; proxy?: boolean; loss?: number };

/** Where a client reaches a listener (JSON, crosses the process boundary). */
export type Target = { kind: 'net' | 'http2' | 'yamux'; port: number } | { kind: 'netchannel'; address: string; vport: number };

/** The listening end of one case. */
export interface Listener {
  readonly target: Target;
  /** Closes every accepted pipe and the listener. */
  close(): Promise<void>;
  /** netchannel with `trace`: the stack's latency trace (see `stack.latencyTrace()`). */
  latencyTrace?(): LatencyTraceSnapshot;
}

/** The connecting end of one case. */
export interface Dialer {
  /** Opens one pipe; `latency` asks for the latency class where the transport has one. */
  open(options?: { latency?: boolean }): Promise<Pipe>;
  /** Closes every pipe and the connection(s). */
  close(): Promise<void>;
  /** netchannel with `trace`: the stack's latency trace (see `stack.latencyTrace()`). */
  latencyTrace?(): LatencyTraceSnapshot;
}

/** Label of a transport case, e.g. `netchannel 4ch` or `raw net`. */
export function kindLabel(k: KindSpec): string {
  switch (k.kind) {
    case 'net':
      return 'raw net';
    case 'netchannel':
      return `netchannel ${k.channels}ch${k.isolation === false ? ' iso-off' : ''}`;
    default:
      return k.kind;
  }
}

/** {@link Pipe} over a Node Duplex (net.Socket, VirtualSocket, Http2Stream). */
export function duplexPipe(d: Duplex): Pipe {
  const closed = new Promise<void>((resolve) => {
    if (d.destroyed) resolve();
    else d.once('close', () => resolve());
  });
  d.on('error', () => {}); // reported through close/timeouts; a benchmark must not crash on EPIPE
  return {
    write: (buf) => d.write(buf),
    drained: async () => {
      if (d.writableNeedDrain) await once(d, 'drain');
    },
    onData: (cb) => {
      d.on('data', cb);
    },
    close: async () => {
      if (d.listenerCount('data') === 0) d.resume();
      d.end();
      await closed;
    },
    destroy: () => {
      d.destroy();
    },
  };
}
