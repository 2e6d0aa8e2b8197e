/**
 * Heap accounting for the idle-memory scenario (children run with --expose-gc).
 * @packageDocumentation
 */
import { setImmediate as tick } from 'node:timers/promises';

/** Memory of this process after a full collection, bytes. */
export interface MemoryFigures {
  /** V8 heap in use plus memory of ArrayBuffers/Buffers and other external objects. */
  heapPlusExternal: number;
  /** Resident set size (includes native allocations, e.g. libuv handles, kernel-side excluded). */
  rss: number;
}

/** Collects garbage a few times (finalizers run in between) and samples memory. */
export async function settledMemory(): Promise<MemoryFigures> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('idle-memory needs the child to run with --expose-gc');
  for (let i = 0; i < 4; i++) {
    gc();
    await tick();
  }
  const m = process.memoryUsage();
  return { heapPlusExternal: m.heapUsed + m.external, rss: m.rss };
}
