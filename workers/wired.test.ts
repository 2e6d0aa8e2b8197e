import { describe, expect, it } from 'vitest';
import { createStack, Stack, type StackOptions } from '../index.js';
import { within } from '../test/pair.js';
import { hashIncoming, sendBulk } from '../test/worker-pair.js';
import type { CopyPool, WorkerChannel, WorkersOptions } from './index.js';

// Activates once the stack is wired (createStack({ workers }), stack.copyPool; see docs/multicore.md).
const wired = Object.getOwnPropertyDescriptor(Stack.prototype, 'copyPool') !== undefined;

describe.skipIf(!wired)('createStack({ workers }) (needs the stack wiring)', () => {
  it('runs channels on workers with class isolation, copy pool, elastic ticks; close releases the pools', async () => {
    const workers: WorkersOptions = { channel: { min: 1, max: 2 }, copy: { min: 0, max: 2 } };
    const server = await createStack({ workers, listen: ['tcp://127.0.0.1:0'] } as StackOptions);
    const client = await createStack({ workers, scheduler: { interval: 20 } } as StackOptions);
    try {
      const srv = await server.listen(80);
      const received = new Promise<{ hash: string; bytes: number }>((resolve, reject) => srv.once('connection', (s) => hashIncoming(s).then(resolve, reject)));
      const sock = await client.connect(server.addresses[0]!, 80);
      const sent = await sendBulk(sock, 128 * 1024 * 1024);
      const got = await within(received, 60_000, 'transfer');
      expect(got.hash).toBe(sent);
      const dcs = [...client.peers.values()][0]!.device.channels;
      for (const dc of dcs) expect((dc.channel as WorkerChannel).workerSlot).toBe(dc.appClass === 'latency' ? 0 : 1);
      expect((client as unknown as { copyPool: CopyPool | null }).copyPool).not.toBeNull();
      expect(client.control.ticks).toBeGreaterThan(0);
    } finally {
      await Promise.all([client.close(), server.close()]);
    }
  }, 60_000);
});
