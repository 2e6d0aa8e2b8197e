import { describe, expect, it } from 'vitest';
import { within } from '../test/pair.js';
import { decideWorkers, ElasticController, inWorkers, resolveThresholds, type ElasticState, type ElasticTarget, type WorkerSample } from './index.js';

const fresh: ElasticState = { low: 0, high: 0 };
const busy = (id: number, u: number, now = 1000): WorkerSample => ({ id, utilization: u, lastWorkAt: now });

/** Runs the decision over consecutive samples, carrying state and the applied target. */
function run(samples: Array<(current: number) => WorkerSample[]>, current: number, min: number, max: number, t0 = 1000): Array<{ target: number; action: string; idle: number }> {
  let state = fresh;
  const out: Array<{ target: number; action: string; idle: number }> = [];
  samples.forEach((mk, i) => {
    const d = decideWorkers({ now: t0 + i * 100, workers: mk(current), current, min, max }, state);
    state = d.state;
    current = d.target;
    out.push({ target: d.target, action: d.action, idle: Math.round(d.idleCapacity * 100) / 100 });
  });
  return out;
}

describe('elastic workers: the decision function', () => {
  it('adds a worker after 3 samples with idle capacity below 0.2 core, then waits for a new streak', () => {
    const hot = (n: number): WorkerSample[] => Array.from({ length: n }, (_, i) => busy(i, 0.95, 1e9));
    const r = run([hot, hot, hot, hot, hot, hot], 2, 1, 4);
    expect(r.map((x) => x.action)).toEqual(['hold', 'hold', 'add', 'hold', 'hold', 'add']);
    expect(r.map((x) => x.target)).toEqual([2, 2, 3, 3, 3, 4]);
    expect(r[0]!.idle).toBe(0.1);
  });

  it('never grows beyond max', () => {
    const hot = (n: number): WorkerSample[] => Array.from({ length: n }, (_, i) => busy(i, 1, 1e9));
    expect(run([hot, hot, hot, hot], 2, 1, 2).map((x) => x.target)).toEqual([2, 2, 2, 2]);
  });

  it('a broken streak starts over', () => {
    const hot = (n: number): WorkerSample[] => Array.from({ length: n }, (_, i) => busy(i, 0.95, 1e9));
    const mid = (n: number): WorkerSample[] => Array.from({ length: n }, (_, i) => busy(i, 0.5, 1e9));
    expect(run([hot, hot, mid, hot, hot, hot], 2, 1, 4).map((x) => x.action)).toEqual(['hold', 'hold', 'hold', 'hold', 'hold', 'add']);
  });

  it('removes a worker after 3 samples with more than 1.25 idle cores, never below min', () => {
    const cool = (n: number): WorkerSample[] => Array.from({ length: n }, (_, i) => busy(i, 0.3, 1e9));
    const r = run([cool, cool, cool, cool, cool, cool, cool, cool, cool], 3, 2, 4);
    // 3 workers at 30%: 2.1 idle cores → remove; 2 workers: 1.4 idle → remove would go below min 2.
    expect(r.map((x) => x.target)).toEqual([3, 3, 2, 2, 2, 2, 2, 2, 2]);
    expect(r.filter((x) => x.action === 'remove')).toHaveLength(1);
  });

  it('holds between the thresholds', () => {
    const ok = (n: number): WorkerSample[] => Array.from({ length: n }, (_, i) => busy(i, 0.6, 1e9));
    expect(run([ok, ok, ok, ok, ok], 2, 1, 4).every((x) => x.action === 'hold' && x.target === 2)).toBe(true);
  });

  it('parks a worker without work for 10 ms (keeping min), and idle capacity counts only active workers', () => {
    const now = 5000;
    const d = decideWorkers(
      { now, workers: [busy(1, 0.9, now), { id: 2, utilization: 0, lastWorkAt: now - 10 }, { id: 3, utilization: 0, lastWorkAt: now - 9 }], current: 3, min: 1, max: 4 },
      fresh,
    );
    expect(d.action).toBe('park');
    expect(d.parked).toEqual([2]);
    expect(d.target).toBe(2);
    expect(d.idleCapacity).toBeCloseTo(0.1 + 1, 5);
    // min 3: nothing may park.
    const keep = decideWorkers({ now, workers: [busy(1, 0), { id: 2, utilization: 0, lastWorkAt: 0 }, { id: 3, utilization: 0, lastWorkAt: 0 }], current: 3, min: 3, max: 4 }, fresh);
    expect(keep.parked).toEqual([]);
    // parkAfterMs 0 disables parking.
    expect(decideWorkers({ now, workers: [{ id: 2, utilization: 0, lastWorkAt: 0 }, busy(1, 1)], current: 2, min: 1, max: 2 }, fresh, { parkAfterMs: 0 }).parked).toEqual([]);
  });

  it('a parked pool that runs hot again gets a worker back', () => {
    const now = 1000;
    let state = fresh;
    let current = 1;
    const actions: string[] = [];
    for (let i = 0; i < 3; i++) {
      const d = decideWorkers({ now: now + i, workers: [busy(1, 0.97, now + i)], current, min: 1, max: 2 }, state);
      state = d.state;
      current = d.target;
      actions.push(d.action);
    }
    expect(actions).toEqual(['hold', 'hold', 'add']);
    expect(current).toBe(2);
  });

  it('validates thresholds', () => {
    expect(resolveThresholds()).toEqual({ addBelow: 0.2, removeAbove: 1.25, samples: 3, parkAfterMs: 10 });
    expect(() => resolveThresholds({ addBelow: 2, removeAbove: 1 })).toThrow(/addBelow < removeAbove/);
    expect(() => resolveThresholds({ samples: 0 })).toThrow(/options\.elastic\.samples must be an integer 1-2147483647, got 0/);
  });
});

describe('elastic workers: the controller', () => {
  it('samples a target, applies decisions and reports them', () => {
    let n = 2;
    let util = 0.95;
    const applied: number[] = [];
    const target: ElasticTarget = {
      kind: 'copy',
      sample: () => Array.from({ length: n }, (_, i) => ({ id: i + 1, utilization: util })),
      current: () => n,
      apply: (m) => {
        applied.push(m);
        n = m;
      },
    };
    const decisions: string[] = [];
    const c = new ElasticController(target, { min: 1, max: 3, onDecision: (d) => decisions.push(`${d.kind}:${d.action}:${d.from}->${d.target}`) });
    for (let i = 0; i < 3; i++) c.tick(1000 + i);
    expect(applied).toEqual([3]);
    util = 0;
    c.tick(1003); // all three idle but worked at 1002: nothing to park yet (< 10 ms)
    c.tick(1020); // idle for 18 ms: park down to min
    expect(n).toBe(1);
    expect(decisions).toEqual(['copy:add:2->3', 'copy:park:3->1']);
  });

  it('resizes a channel worker pool: grow starts workers, shrink drains those without listeners', async () => {
    const driver = inWorkers('tcp', { workers: 1, min: 1, max: 3 })({ hostId: '0'.repeat(32) });
    try {
      const listener = await driver.listen('tcp://127.0.0.1:0', (ch) => ch.destroy());
      expect(driver.pool.resize(3)).toBe(3);
      expect(driver.pool.info()).toHaveLength(3);
      const listenerSlot = driver.pool.info().find((w) => w.listeners > 0)!.slot;
      // Drained workers have no channels, so they stop at once.
      const stopped = new Promise<number[]>((resolve) => {
        const slots: number[] = [];
        driver.pool.on('worker-stop', (e) => {
          slots.push(e.slot);
          if (slots.length === 2) resolve(slots.sort());
        });
      });
      expect(driver.pool.resize(1)).toBe(1);
      expect(await within(stopped, 5000, 'two drained workers stop')).toEqual([0, 1, 2].filter((s) => s !== listenerSlot));
      expect(driver.pool.info().map((w) => w.slot)).toEqual([listenerSlot]);
      expect(driver.pool.resize(9)).toBe(3); // clamped to max
      await listener.close();
    } finally {
      await driver.close();
    }
  });
});
