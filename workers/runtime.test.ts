import { describe, expect, it } from 'vitest';
import { createStack, memory } from '../index.js';
import type { StackEvent } from '../events/index.js';
import { readAll, until, within } from '../test/pair.js';
import { createWorkerRuntime, resolveWorkersOptions } from './index.js';

describe('WorkersOptions and the worker runtime', () => {
  it('resolves options: absent = inline only; defaults; typed errors naming the field', () => {
    expect(resolveWorkersOptions(undefined)).toBeNull();
    expect(resolveWorkersOptions({})).toEqual({ channel: null, copy: null, handoff: 'shared', checksum: false, elastic: {} });
    expect(resolveWorkersOptions({ channel: {}, copy: { max: 1 }, handoff: 'transfer', checksum: true })).toEqual({
      channel: { min: 1, max: 2 },
      copy: { min: 0, max: 1 },
      handoff: 'transfer',
      checksum: true,
      elastic: {},
    });
    expect(() => resolveWorkersOptions({ channel: { min: 0 } })).toThrow(/options\.workers\.channel\.min must be an integer 1-64, got 0/);
    expect(() => resolveWorkersOptions({ copy: { min: 3, max: 2 } })).toThrow(/options\.workers\.copy\.max \(2\) must be >= min \(3\)/);
    expect(() => resolveWorkersOptions({ handoff: 'x' as never })).toThrow(/options\.workers\.handoff/);
    expect(() => resolveWorkersOptions({ checksum: 1 as never })).toThrow(/options\.workers\.checksum must be a boolean/);
  });

  it('inline only: no transports, no copy pool, tick does nothing', async () => {
    const rt = createWorkerRuntime(undefined);
    expect(rt.transports).toEqual([]);
    expect(rt.copyPool).toBeNull();
    expect(rt.tick()).toEqual([]);
    await rt.close();
  });

  it('channel and copy workers: two stacks over the runtime transports, elastic ticks, close', async () => {
    const server = createWorkerRuntime({ channel: { min: 1, max: 2 }, copy: { min: 0, max: 1 } });
    const client = createWorkerRuntime({ channel: { min: 1, max: 2 }, copy: { min: 0, max: 1 } });
    expect(server.transports.map((t) => t.scheme)).toEqual(['tcp', 'unix']);
    expect(server.copyPool).not.toBeNull();
    const a = await createStack({ transports: [...server.transports, memory()], listen: ['tcp://127.0.0.1:0'], channels: { throughput: 2, latency: 1 } });
    const b = await createStack({ transports: [...client.transports, memory()], channels: { throughput: 2, latency: 1 } });
    try {
      (await a.listen(7)).on('connection', (s) => s.pipe(s));
      const sock = await b.connect(a.addresses[0]!, 7);
      const echoed = readAll(sock);
      sock.end(Buffer.alloc(300_000, 9));
      expect((await within(echoed, 10_000, 'echo')).length).toBe(300_000);
      // One tick per live channel pool (tcp) plus the copy pool.
      const decisions = client.tick();
      expect(decisions).toHaveLength(2);
      for (const d of decisions) expect(['hold', 'park', 'add', 'remove']).toContain(d.action);
    } finally {
      await Promise.all([b.close(), a.close()]);
      await Promise.all([server.close(), client.close()]);
    }
  });

  it('an acceptor with a listen address per channel worker spreads accepted channels over its workers', async () => {
    const rt = createWorkerRuntime({ channel: { min: 2, max: 2 } });
    const a = await createStack({ transports: [...rt.transports, memory()], listen: ['tcp://127.0.0.1:0', 'tcp://127.0.0.1:0'], channels: { throughput: 4, latency: 0 } });
    const b = await createStack({ channels: { throughput: 4, latency: 0 } });
    try {
      (await a.listen(7)).on('connection', (s) => s.pipe(s));
      const sock = await b.connect([...a.addresses], 7);
      const echoed = readAll(sock);
      sock.end(Buffer.alloc(200_000, 3));
      expect((await within(echoed, 10_000, 'echo')).length).toBe(200_000);
      const pool = [...rt.transports[0]!.drivers][0]!.pool;
      await until(() => pool.info().reduce((n, w) => n + w.channels, 0) === 4, 5000, '4 accepted channels');
      const info = pool.info();
      expect(info.map((w) => w.listeners)).toEqual([1, 1]);
      for (const w of info) expect(w.channels, `channels on worker ${w.slot}`).toBeGreaterThanOrEqual(1);
    } finally {
      await Promise.all([b.close(), a.close()]);
      await rt.close();
    }
  });

  it('elastic channel workers: a drain is a worker-scaling event and counted in netchannel_worker_scaling_total', async () => {
    // Two idle workers have 2 cores of idle capacity (> removeAbove 1.25): after `samples`
    // ticks the controller drains one (the one without the listener).
    const a = await createStack({ listen: ['tcp://127.0.0.1:0'], workers: { channel: { min: 1, max: 2 }, elastic: { samples: 1 } } });
    const b = await createStack();
    const events: StackEvent[] = [];
    const sub = a.events$.subscribe((e) => void (e.type === 'worker-scaling' && events.push(e)));
    try {
      (await a.listen(7)).on('connection', (s) => s.pipe(s));
      const sock = await b.connect(a.addresses[0]!, 7); // starts the pool
      sock.destroy();
      for (let i = 0; i < 50 && events.length === 0; i++) {
        a.control.tick();
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(events[0]).toMatchObject({ type: 'worker-scaling', kind: 'channel', action: 'remove', from: 2, to: 1, peer: '' });
      expect((events[0] as Extract<StackEvent, { type: 'worker-scaling' }>).idleCapacity).toBeGreaterThan(1.25);
      const text = await a.registry.metrics();
      expect(text).toMatch(/netchannel_worker_scaling_total\{kind="channel",action="remove"\} 1/);
      expect(text).toMatch(/netchannel_worker_scaling_total\{kind="copy",action="add"\} 0/);
    } finally {
      sub.unsubscribe();
      await Promise.all([b.close(), a.close()]);
    }
  });
});
