import { afterEach, describe, expect, it } from 'vitest';
import { createStack, type Stack, type VirtualSocket } from '../../index.js';
import { parseHostPort } from '../../netdriver/address.js';
import { WireGenerator } from './wire-gen.js';

// The scaling bench measures a stack fed by this generator; if the generator broke the
// protocol the bench would measure resets or garbage. These runs check it against an
// inline receiver: no RST, no protocol error, every byte counted after FIN.
const WINDOW = 256 * 1024;

describe('wire generator (bench/scaling.ts) against an inline receiver', () => {
  let stack: Stack | null = null;
  afterEach(async () => {
    await stack?.close();
    stack = null;
  });

  async function receiver(echo: boolean): Promise<{ address: { host: string; port: number }[]; counts: number[]; ended: () => number; socketErrors: () => number }> {
    stack = await createStack({ listen: ['tcp://127.0.0.1:0', 'tcp://127.0.0.1:0'], window: WINDOW });
    const counts: number[] = [];
    let ended = 0;
    let errors = 0;
    (await stack.listen(80)).on('connection', (s: VirtualSocket) => {
      const i = counts.push(0) - 1;
      s.on('error', () => errors++);
      s.on('end', () => ended++);
      if (echo) s.pipe(s);
      s.on('data', (d: Buffer) => (counts[i]! += d.length));
    });
    return { address: stack.addresses.map((a) => parseHostPort(a, 'tcp', false)), counts, ended: () => ended, socketErrors: () => errors };
  }

  for (const shape of [
    { name: 'bulk', sockets: 4, frameBytes: 62 * 1024, bytes: 48 * 1024 * 1024 },
    { name: 'short messages', sockets: 64, frameBytes: 4 * 1024, bytes: 40 * 1024 * 1024 },
  ]) {
    it(`${shape.name}: the stack counts exactly what the generator sent, with no RST`, async () => {
      const r = await receiver(false);
      const gen = await WireGenerator.start({ addresses: r.address, channels: 4, sockets: shape.sockets, frameBytes: shape.frameBytes, port: 80, maxBytes: shape.bytes });
      try {
        const stats = await gen.finish();
        expect(stats.errors).toEqual([]);
        expect(stats.resets).toBe(0);
        expect(stats.sent).toBeGreaterThanOrEqual(shape.bytes);
        expect(r.ended()).toBe(shape.sockets);
        expect(r.counts.reduce((a, b) => a + b, 0)).toBe(stats.sent);
        expect(r.socketErrors()).toBe(0);
        // it ran on credit: the sockets' initial windows together are far below what was sent,
        // and a byte past a grant would have been a PROTOCOL reset (counted above)
        expect(stats.sent).toBeGreaterThan(2 * shape.sockets * WINDOW);
      } finally {
        gen.close();
      }
    });
  }

  it('echo: every byte comes back in order, acknowledged, and both FINs are seen', async () => {
    const r = await receiver(true);
    const gen = await WireGenerator.start({ addresses: r.address, channels: 4, sockets: 8, frameBytes: 16 * 1024, port: 80, echo: true, window: 1024 * 1024, maxBytes: 24 * 1024 * 1024 });
    try {
      const stats = await gen.finish();
      expect(stats.errors).toEqual([]);
      expect(stats.resets).toBe(0);
      expect(stats.echoed).toBe(stats.sent);
      expect(r.counts.reduce((a, b) => a + b, 0)).toBe(stats.sent);
    } finally {
      gen.close();
    }
  });
});
