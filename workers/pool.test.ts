import { afterEach, describe, expect, it } from 'vitest';
import type { Channel } from '../index.js';
import { within } from '../test/pair.js';
import { inWorkers, type WorkerDriver } from './index.js';

const HOST = { hostId: '0'.repeat(32) };
let drivers: WorkerDriver[] = [];
afterEach(async () => {
  await Promise.all(drivers.map((d) => d.close()));
  drivers = [];
});

function driver(options: Parameters<typeof inWorkers>[1] = {}): WorkerDriver {
  const d = inWorkers('tcp', { workers: 2, ...options })(HOST);
  drivers.push(d);
  return d;
}

function closed(ch: Channel): Promise<Error | undefined> {
  return within(new Promise((resolve) => ch.once('close', resolve)), 5000, `channel ${ch.id} close`);
}

describe('channel worker pool', () => {
  it('a worker that crashes closes its channels with NETCHANNEL_ERR_CLOSED naming it, is replaced, and the process lives on', async () => {
    const d = driver();
    const accepted: Channel[] = [];
    const listener = await d.listen('tcp://127.0.0.1:0', (ch) => accepted.push(ch));
    const a = await d.dial(listener.address, { workerSlot: 0 });
    const b = await d.dial(listener.address, { workerSlot: 1 });
    expect(a.workerSlot).toBe(0);
    expect(b.workerSlot).toBe(1);
    const exited = within(new Promise<{ slot: number; error: Error }>((r) => d.pool.once('worker-exit', r)), 5000, 'worker-exit');
    const replaced = within(new Promise<{ slot: number; replacement: boolean }>((r) => d.pool.once('worker-start', r)), 5000, 'worker-start');
    // A malformed message makes the worker throw outside any handler: a crash.
    d.pool.worker(0)!.postMessage({ ops: null });
    const err = await closed(a);
    expect(err).toMatchObject({ code: 'NETCHANNEL_ERR_CLOSED' });
    expect(err!.message).toMatch(/channel worker #0 \(thread \d+\) crashed: .*ops/);
    expect((await exited).slot).toBe(0);
    expect(await replaced).toMatchObject({ slot: 0, replacement: true });
    expect(b.destroyed).toBe(false);
    const c = await d.dial(listener.address, { workerSlot: 0 });
    expect(c.workerSlot).toBe(0);
    c.destroy();
    b.destroy();
    await listener.close();
  });

  it('places class-hinted dials: latency on slot 0, throughput on the others; otherwise least-loaded', async () => {
    const d = driver({ workers: 3 });
    const listener = await d.listen('tcp://127.0.0.1:0', () => {});
    const t = await Promise.all(Array.from({ length: 4 }, () => d.dial(listener.address, { appClass: 'throughput' })));
    const l = await d.dial(listener.address, { appClass: 'latency' });
    expect(l.workerSlot).toBe(0);
    expect(t.map((c) => c.workerSlot).sort()).toEqual([1, 1, 2, 2]);
    const info = d.pool.info();
    expect(info.map((w) => [w.slot, w.latencyChannels, w.throughputChannels])).toEqual([
      [0, 1, 0],
      [1, 0, 2],
      [2, 0, 2],
    ]);
    // Without a hint: the worker with the fewest channels (accepted ones count too).
    const before = d.pool.info();
    const least = before.reduce((a, b) => (b.channels < a.channels ? b : a)).slot;
    const free = await d.dial(listener.address);
    expect(free.workerSlot).toBe(least);
    for (const c of [...t, l, free]) c.destroy();
    await listener.close();
  });

  it('aborts a dial through its signal and fails a dial to a missing worker build with NETCHANNEL_ERR_DIAL_FAILED', async () => {
    const d = driver();
    const ac = new AbortController();
    ac.abort();
    await expect(d.dial('tcp://127.0.0.1:1', { signal: ac.signal })).rejects.toMatchObject({ code: 'NETCHANNEL_ERR_DIAL_FAILED', message: /aborted/ });
    const broken = driver({ workerFile: '/nonexistent/channel-worker.js' });
    const err = await broken.dial('tcp://127.0.0.1:1').catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'NETCHANNEL_ERR_DIAL_FAILED' });
    expect((err as Error).message).toMatch(/channel worker #\d \(thread \d+\) crashed/);
  });

  it('validates options and addresses with typed errors', () => {
    expect(() => inWorkers('udp' as never)).toThrow(/'tcp' or 'unix', got "udp"/);
    expect(() => inWorkers('tcp', { workers: 0 })).toThrow(/options\.workers must be an integer 1-64, got 0/);
    expect(() => inWorkers('tcp', { workers: 4, max: 2 })).toThrow(/options\.workers \(4\) <= options\.max \(2\)/);
    expect(() => inWorkers('tcp', { handoff: 'pipe' as never })).toThrow(/options\.handoff must be 'transfer' or 'shared', got "pipe"/);
    expect(() => inWorkers('tcp', { ringBytes: 10 })).toThrow(/options\.ringBytes/);
    const d = driver();
    expect(() => d.validate('tcp://127.0.0.1')).toThrow(expect.objectContaining({ code: 'NETCHANNEL_ERR_INVALID_ADDRESS' }));
    expect(inWorkers('unix').scheme).toBe('unix');
  });

  it('stops idle workers after idleTimeout and starts them again on the next dial', async () => {
    const d = driver({ idleTimeout: 50 });
    const listener = await d.listen('tcp://127.0.0.1:0', (ch) => ch.destroy());
    const a = await d.dial(listener.address);
    const stops = new Promise<void>((resolve) => {
      let n = 0;
      d.pool.on('worker-stop', () => ++n === 2 && resolve());
    });
    a.destroy();
    await listener.close();
    await within(stops, 5000, 'idle workers stop');
    expect(d.pool.info()).toEqual([]);
    const l2 = await d.listen('tcp://127.0.0.1:0', (ch) => ch.destroy());
    expect(d.pool.info()).toHaveLength(2);
    await l2.close();
  });
});
