/**
 * IPC messages between the throughput orchestrator and its server/client children.
 * @packageDocumentation
 */

/** One benchmark case: raw node:net, or netchannel with `channels` throughput channels. */
export type CaseSpec = { kind: 'net' } | { kind: 'netchannel'; channels: number };

/** Where the client connects, as reported by the server child. */
export type Target = { kind: 'net'; port: number } | { kind: 'netchannel'; address: string; vport: number };

/** Parent → server: set up a listener for `spec` and expect `bytes` bytes. */
export interface ServeMsg {
  type: 'serve';
  spec: CaseSpec;
  bytes: number;
}

/** Server → parent: listening at `target`. */
export interface ReadyMsg {
  type: 'ready';
  target: Target;
}

/** Server → parent: all bytes counted and the reply written. */
export interface ServerDoneMsg {
  type: 'server-done';
  /** Bytes counted (>= the requested count). */
  bytes: number;
  /** Server CPU (user + system) from accepting the socket to the reply, µs. */
  cpuUs: number;
  /** Server wall time from the first byte to the last byte, ns. */
  wallNs: number;
}

/** Parent → server: close the listener and wait for the connection to end. */
export interface TeardownMsg {
  type: 'teardown';
}

/** Server → parent: teardown finished. */
export interface ClosedMsg {
  type: 'closed';
}

/** Parent → client: connect to `target`, send `bytes` bytes in `blockSize` writes, time it. */
export interface RunMsg {
  type: 'run';
  spec: CaseSpec;
  target: Target;
  bytes: number;
  blockSize: number;
}

/** Client → parent: one measured transfer (after its connection was closed again). */
export interface ClientDoneMsg {
  type: 'client-done';
  /** Wall time from the first write to the server's reply, ns. */
  wallNs: number;
  /** Client CPU (user + system) over the same interval, µs. */
  cpuUs: number;
  /** Busy CPU time of the whole host over the same interval, ms. */
  hostBusyMs: number;
  /** Netchannel only: times the sender stalled on peer credit during the transfer; else null. */
  creditStalls: number | null;
}

/** Short label of a case, e.g. `raw net` or `netchannel 4ch`. */
export function caseLabel(spec: CaseSpec): string {
  return spec.kind === 'net' ? 'raw net' : `netchannel ${spec.channels}ch`;
}
