/**
 * Messages between the main thread and a channel worker. Each direction sends one
 * message per event-loop turn holding every operation of that turn (`{ ops }`), with
 * the transmitted ArrayBuffers in the transfer list. Channel ids (`c`) are unique per
 * worker: the main thread numbers the channels it dials (positive), a worker numbers
 * the channels it accepts (negative).
 * @packageDocumentation
 */

/** How frame bytes cross the thread boundary. */
export type HandoffMode = 'transfer' | 'shared';

/** Address schemes a channel worker can serve. */
export type WorkerScheme = 'tcp' | 'unix';

/** Per-channel settings sent with a dial or listen. */
export interface WireChannelOptions {
  /** Largest DATA payload the worker's decoder accepts. */
  maxPayload: number | undefined;
  /** Hand up straddling DATA payloads in pieces (FrameDecoder `splitData`). */
  splitData: boolean;
  /** Transfer mode: bytes the worker may post before the main thread acknowledges them. */
  rxWindow: number;
  /** Shared mode: data capacity of each ring, bytes. */
  ringBytes: number;
}

/** Settings a worker gets at start (`workerData`). */
export interface WorkerBoot {
  /** Index of the worker's slot in its pool (for messages and names). */
  slot: number;
  /** Hand-off mode of every channel of this worker. */
  handoff: HandoffMode;
  /** tcp: disable Nagle's algorithm. */
  noDelay: boolean;
  /** unix: remove a stale socket file before listening. */
  unlinkStale: boolean;
}

/** Shared rings of one channel (shared mode): `tx` main→worker, `rx` worker→main. */
export interface RingPair {
  tx: SharedArrayBuffer;
  rx: SharedArrayBuffer;
}

/** Operations sent by the main thread. */
export type MainOp =
  | { k: 'dial'; c: number; address: string; scheme: WorkerScheme; opts: WireChannelOptions; rings?: RingPair }
  | { k: 'abort'; c: number }
  | { k: 'listen'; l: number; address: string; scheme: WorkerScheme; opts: WireChannelOptions }
  | { k: 'unlisten'; l: number }
  /** Transfer mode: encoded frames to write, in order. */
  | { k: 'tx'; c: number; b: ArrayBuffer }
  /** Transfer mode: the main thread took `n` bytes of rx batches (reopens the window). */
  | { k: 'rxack'; c: number; n: number }
  | { k: 'end'; c: number }
  | { k: 'destroy'; c: number }
  | { k: 'pause'; c: number }
  | { k: 'resume'; c: number };

/** Operations sent by a worker. */
export type WorkerOp =
  | { k: 'dialed'; c: number; local: string; remote: string }
  | { k: 'dialfail'; c: number; message: string }
  | { k: 'listening'; l: number; address: string }
  | { k: 'listenfail'; l: number; message: string; code: string | undefined }
  | { k: 'unlistened'; l: number }
  | { k: 'accept'; l: number; c: number; local: string; remote: string; rings?: RingPair }
  /** Transfer mode: decoded, validated frames re-encoded back to back; `w` = transport bytes behind them. */
  | { k: 'rx'; c: number; b: ArrayBuffer; w: number }
  /** Transfer mode: `n` bytes of earlier `tx` buffers were handed to the OS. */
  | { k: 'ack'; c: number; n: number }
  | { k: 'end'; c: number }
  | { k: 'close'; c: number; code?: string; message?: string };

/** One message in either direction. */
export interface Batch<Op> {
  ops: Op[];
}
