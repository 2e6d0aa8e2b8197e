import { createHash, randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { definePlacement, thresholdPlacement } from '../netscheduler/placement.js';
import { CopyPool, type CopyPart } from './index.js';

// The task file is the compiled dist/workers/copy-task.js (npm test builds first).
let pool: CopyPool | undefined;
afterEach(async () => {
  await pool?.close();
  pool = undefined;
});

/** `n` random bytes in a SharedArrayBuffer (a worker can only read shared memory). */
function sharedBytes(n: number): Buffer {
  const b = Buffer.from(new SharedArrayBuffer(n));
  randomBytes(n).copy(b);
  return b;
}

/** Cuts `src` into parts of `size` bytes targeting the same offsets of `target`. */
function cut(src: Buffer, target: SharedArrayBuffer, size: number): CopyPart[] {
  const parts: CopyPart[] = [];
  for (let off = 0; off < src.length; off += size) parts.push({ source: src.subarray(off, Math.min(src.length, off + size)), target, offset: off });
  return parts;
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe('copy pool (piscina copy workers)', () => {
  it('copies the parts of a large write into a SharedArrayBuffer, spread by thresholdPlacement', async () => {
    pool = new CopyPool({ min: 2, max: 2 });
    const ids = pool.stats().workers.map((w) => w.threadId);
    expect(ids).toHaveLength(2);
    const src = sharedBytes(6 * 256 * 1024 + 1000);
    const target = new SharedArrayBuffer(src.length);
    const res = await pool.copy(cut(src, target, 256 * 1024));
    expect(Buffer.from(target).equals(src)).toBe(true);
    // Part 0 starts the write (< 62 KB in): inline. Parts 1-3 alternate over the least-loaded
    // workers; then 768 KiB are in flight (>= 734 KB): inline again.
    const [a, b] = [...ids].sort((x, y) => x - y);
    expect(res.placement).toEqual(['inline', a, b, a, 'inline', 'inline', 'inline']);
    expect(res.offloadedBytes).toBe(3 * 256 * 1024);
    expect(res.inlineBytes).toBe(src.length - 3 * 256 * 1024);
    const st = pool.stats();
    expect(st.inflightBytes).toBe(0);
    expect(st.workers.every((w) => w.queuedBytes === 0)).toBe(true);
    expect(st.latencyUs.count).toBe(2); // one task per worker…
    expect(st.workers.map((w) => w.tasks)).toEqual([1, 1]); // …run where placement put it
    expect(st.latencyUs.p50).toBeGreaterThan(0);
  });

  it('skips workers at their queue threshold and keeps latency-class and non-shared data inline', async () => {
    pool = new CopyPool({ min: 2, max: 2, placement: thresholdPlacement({ workerQueueThreshold: 300 * 1024, maxInflight: 64 * 1024 * 1024 }) });
    const [a, b] = pool.stats().workers.map((w) => w.threadId).sort((x, y) => x - y);
    const src = sharedBytes(6 * 256 * 1024);
    const target = new SharedArrayBuffer(src.length);
    const parts = cut(src, target, 256 * 1024);
    // offsetInWrite 1 MiB: every part is past the inline prefix.
    const res = await pool.copy(parts, { offsetInWrite: 1 << 20 });
    expect(res.placement).toEqual([a, b, a, b, 'inline', 'inline']);
    expect(Buffer.from(target).equals(src)).toBe(true);

    const lat = await pool.copy(parts, { appClass: 'latency', offsetInWrite: 1 << 20 });
    expect(lat.placement.every((p) => p === 'inline')).toBe(true);

    const plain = randomBytes(512 * 1024); // not shared: a worker could not read it without a copy
    const t2 = new SharedArrayBuffer(plain.length);
    const res2 = await pool.copy([{ source: plain.subarray(256 * 1024), target: t2, offset: 256 * 1024 }], { offsetInWrite: 1 << 20 });
    expect(res2.placement).toEqual(['inline']);
    expect(Buffer.from(t2, 256 * 1024).equals(plain.subarray(256 * 1024))).toBe(true);
  });

  it('asks the placement policy once per part with the running offset and in-flight bytes', async () => {
    const seen: Array<{ bytes: number; offsetInWrite: number; inflightBytes: number; workers: number }> = [];
    const spy = definePlacement('spy', () => ({
      name: 'spy',
      place(req, workers) {
        seen.push({ bytes: req.bytes, offsetInWrite: req.offsetInWrite, inflightBytes: req.inflightBytes, workers: workers.length });
        return workers[0] ?? 'inline';
      },
    }));
    pool = new CopyPool({ min: 1, max: 1, placement: spy, minPartBytes: 0 });
    const src = sharedBytes(300_000);
    const target = new SharedArrayBuffer(src.length);
    await pool.copy(cut(src, target, 100_000), { offsetInWrite: 5 });
    expect(seen).toEqual([
      { bytes: 100_000, offsetInWrite: 5, inflightBytes: 0, workers: 1 },
      { bytes: 100_000, offsetInWrite: 100_005, inflightBytes: 100_000, workers: 1 },
      { bytes: 100_000, offsetInWrite: 200_005, inflightBytes: 200_000, workers: 1 },
    ]);
    expect(Buffer.from(target).equals(src)).toBe(true);
  });

  it('computes SHA-256 per part (copy with checksum) and of whole buffers, equal to node:crypto', async () => {
    pool = new CopyPool({ min: 2, max: 2, checksum: true });
    const src = sharedBytes(2 * 1024 * 1024);
    const target = new SharedArrayBuffer(src.length);
    const parts = cut(src, target, 512 * 1024);
    const res = await pool.copy(parts, { offsetInWrite: 1 << 20 });
    expect(res.offloadedBytes).toBeGreaterThan(0);
    expect(res.digests!.map((d) => d.toString('hex'))).toEqual(parts.map((p) => sha(p.source)));
    expect((await pool.checksum(src)).toString('hex')).toBe(sha(src));
    const plain = randomBytes(3 * 1024 * 1024 + 7);
    expect((await pool.checksum(plain)).toString('hex')).toBe(sha(plain));
  });

  it('validates options and arguments with typed errors', async () => {
    expect(() => new CopyPool({ max: 0 })).toThrow(/options\.max must be an integer 1-64, got 0/);
    expect(() => new CopyPool({ min: 3, max: 2 })).toThrow(/options\.min \(3\) must be <= options\.max \(2\)/);
    expect(() => new CopyPool({ placement: (() => ({})) as never })).toThrow(/definePlacement/);
    pool = new CopyPool({ max: 1 });
    await expect(pool.copy([{ source: Buffer.alloc(10), target: new SharedArrayBuffer(5), offset: 0 }])).rejects.toMatchObject({ code: 'NETCHANNEL_ERR_INVALID_ARG' });
    await pool.close();
    await expect(pool.checksum(Buffer.alloc(1))).rejects.toMatchObject({ code: 'NETCHANNEL_ERR_CLOSED' });
  });
});
