/**
 * One-socket transfer, shared by `bulk` and `overhead`: the client writes `bytes` from a
 * reusable random block (honouring backpressure) and stops the clock when the server's
 * one-byte reply says everything arrived.
 * @packageDocumentation
 */
import { randomBytes } from 'node:crypto';
import { dial, listen, type KindSpec, type Pipe, type Target } from '../pipes/index.js';
import type { ClientSide, Json, ServerSide } from './types.js';

/** Parameters of a transfer case. */
export interface StreamParams {
  kind: KindSpec;
  bytes: number;
  block: number;
}

const REPLY = new Uint8Array([0x44]);

/** Server: counts bytes on the one pipe, replies when all arrived. */
export async function streamServer(params: { [k: string]: Json }): Promise<ServerSide> {
  const p = params as unknown as StreamParams;
  let received = 0;
  let firstNs = 0n;
  let lastNs = 0n;
  const listener = await listen(p.kind, (pipe) => {
    pipe.onData((chunk) => {
      if (received === 0) firstNs = process.hrtime.bigint();
      const before = received;
      received += chunk.byteLength;
      if (before < p.bytes && received >= p.bytes) {
        lastNs = process.hrtime.bigint();
        pipe.write(REPLY);
      }
    });
  });
  return {
    target: listener.target as unknown as Json,
    stop: () => {
      if (received !== p.bytes) throw new Error(`server counted ${received} bytes, expected ${p.bytes}`);
      return { bytes: received, receiveNs: Number(lastNs - firstNs) };
    },
    teardown: () => listener.close(),
  };
}

let block: Buffer | null = null;

/** Client: opens the pipe (untimed); `run` writes and waits for the reply. */
export async function streamClient(params: { [k: string]: Json }, target: Json): Promise<ClientSide> {
  const p = params as unknown as StreamParams;
  if (block?.length !== p.block) block = randomBytes(p.block);
  const buf = block;
  const dialer = await dial(p.kind, target as unknown as Target);
  const pipe = await dialer.open();
  const replied = new Promise<void>((resolve) => pipe.onData(() => resolve()));
  return {
    run: async () => {
      await writeAll(pipe, buf, p.bytes);
      await replied;
      return { bytes: p.bytes };
    },
    teardown: () => dialer.close(),
  };
}

/** Writes `bytes` bytes from `buf`, waiting whenever the pipe asks to. */
export async function writeAll(pipe: Pipe, buf: Uint8Array, bytes: number): Promise<void> {
  let left = bytes;
  while (left > 0) {
    const n = Math.min(left, buf.byteLength);
    left -= n;
    if (!pipe.write(n === buf.byteLength ? buf : buf.subarray(0, n))) await pipe.drained();
  }
}
