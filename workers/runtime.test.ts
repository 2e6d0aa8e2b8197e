import { describe, expect, it } from 'vitest';
import { createStack, memory } from '../index.js';
import { readAll, within } from '../test/pair.js';
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
});
