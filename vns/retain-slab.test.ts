import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_FREE_SLAB_BYTES, releaseRetained, retainCopy, SLAB_BYTES, SLAB_IDLE_MS, slabStats, type Retained } from './retain-slab.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('retain slabs', () => {
  it('keeps at most MAX_FREE_SLAB_BYTES of free slabs, and drops idle slabs after SLAB_IDLE_MS', () => {
    vi.useFakeTimers();
    const seg = Buffer.alloc(64 * 1024, 3);
    const held: Retained[] = [];
    for (let i = 0; i < (40 * 1024 * 1024) / seg.length; i++) held.push(retainCopy(seg)); // 10 slabs
    expect(held.every((r) => r.slab !== null && r.payload.equals(seg))).toBe(true);
    for (const r of held) releaseRetained(r.slab);
    const after = slabStats();
    expect(after.freeBytes).toBeLessThanOrEqual(MAX_FREE_SLAB_BYTES);
    expect(after.freeSlabs).toBe(MAX_FREE_SLAB_BYTES / SLAB_BYTES);
    expect(after.current).toBe(true);
    vi.advanceTimersByTime(SLAB_IDLE_MS * 2 + 10);
    expect(slabStats()).toEqual({ freeSlabs: 0, freeBytes: 0, current: false });
  });

  it('does not drop a slab that is in use or was used in the last period', () => {
    vi.useFakeTimers();
    const seg = Buffer.alloc(1024, 5);
    const r = retainCopy(seg);
    vi.advanceTimersByTime(SLAB_IDLE_MS * 3);
    expect(slabStats().current).toBe(true); // still holds a retained copy
    expect(r.payload.equals(seg)).toBe(true);
    releaseRetained(r.slab);
    const again = retainCopy(seg); // used again: survives the next trim
    vi.advanceTimersByTime(SLAB_IDLE_MS);
    expect(slabStats().current).toBe(true);
    releaseRetained(again.slab);
    vi.advanceTimersByTime(SLAB_IDLE_MS * 2);
    expect(slabStats().current).toBe(false);
  });
});
