/**
 * The piscina task of the copy workers, loaded by path from
 * `dist/workers/copy-task.js`: copies parts between shared buffers and optionally
 * computes the SHA-256 of each copied part (the end-to-end payload checksum), or just
 * checksums one buffer. Reports its own busy time, so the pool can compute worker
 * utilization without sampling event loops.
 * @packageDocumentation
 */
import { createHash } from 'node:crypto';
import { threadId } from 'node:worker_threads';
import { InvalidArgumentError } from '../errors/index.js';

/** One part: `src` is copied into `dst` (both views; equal lengths). */
export interface CopyTaskPart {
  src: Uint8Array;
  dst: Uint8Array;
}

/** A copy request for one worker. */
export interface CopyTask {
  op: 'copy';
  parts: CopyTaskPart[];
  /** Compute SHA-256 of each copied part. */
  checksum: boolean;
}

/** A checksum request. */
export interface ChecksumTask {
  op: 'checksum';
  data: Uint8Array;
}

/** What a task returns. */
export interface CopyTaskResult {
  /** SHA-256 per part (copy with checksum) or of `data` (checksum), else null. */
  digests: Uint8Array[] | null;
  /** Bytes processed. */
  bytes: number;
  /** Time spent in the task, µs. */
  busyUs: number;
  /** The worker's thread id. */
  threadId: number;
}

/** Runs one task (piscina calls the default export). */
export default function copyTask(task: CopyTask | ChecksumTask): CopyTaskResult {
  const t0 = performance.now();
  if (task.op === 'checksum') {
    const digest = createHash('sha256').update(task.data).digest();
    return { digests: [new Uint8Array(digest)], bytes: task.data.length, busyUs: (performance.now() - t0) * 1000, threadId };
  }
  let bytes = 0;
  const digests: Uint8Array[] | null = task.checksum ? [] : null;
  for (const p of task.parts) {
    if (p.src.length !== p.dst.length) throw new InvalidArgumentError(`copy part of ${p.src.length} bytes into a ${p.dst.length}-byte region`);
    p.dst.set(p.src);
    bytes += p.src.length;
    if (digests) digests.push(new Uint8Array(createHash('sha256').update(p.dst).digest()));
  }
  return { digests, bytes, busyUs: (performance.now() - t0) * 1000, threadId };
}
