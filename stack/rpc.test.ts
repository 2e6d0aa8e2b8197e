import { afterEach, describe, expect, it } from 'vitest';
import { stackPair, type StackPair } from '../test/pair.js';

let pair: StackPair | undefined;
afterEach(async () => {
  await pair?.close();
  pair = undefined;
});

describe('stack.rpc', () => {
  it('serves request/response messages over the stack’s channels, with remote errors typed', async () => {
    pair = await stackPair('tcp', { channels: { throughput: 2, latency: 1 } });
    const server = await pair.server.rpc.listen(53, (req) => {
      if (req.toString() === 'fail') throw new Error('handler says no');
      return Buffer.from(req.toString().toUpperCase());
    });
    const client = await pair.client.rpc.connect(pair.address, 53, { appClass: 'latency' });
    const replies = await Promise.all(Array.from({ length: 100 }, (_, i) => client.request(Buffer.from(`msg ${i}`))));
    replies.forEach((r, i) => expect(r.toString()).toBe(`MSG ${i}`));
    await expect(client.request(Buffer.from('fail'))).rejects.toMatchObject({ code: 'NETCHANNEL_ERR_REMOTE', message: expect.stringMatching(/handler says no/) });
    await client.close();
    await server.close();
  });
});
