import { afterEach, describe, expect, it } from 'vitest';
import type { VirtualSocket } from '../index.js';
import { stackPair, within, type StackPair } from '../test/pair.js';

let pair: StackPair | undefined;
afterEach(async () => {
  await pair?.close();
  pair = undefined;
});

describe('channel-level ACKs ride along', () => {
  it('a frame sent on a channel with received bytes unacknowledged carries the ACK in the same write: the opener has its SYNC acknowledged when the SYNC_ACK arrives', async () => {
    pair = await stackPair('tcp', { channels: { throughput: 1, latency: 0 } });
    (await pair.server.listen(80)).on('connection', (s: VirtualSocket) => s.resume());
    const seen: number[] = [];
    for (let i = 0; i < 20; i++) {
      const s = await pair.client.connect(pair.address, 80);
      // Without the ride-along the server's ACK for the SYNC would follow on the
      // delayed-ACK timer (2 ms), and the SYNC would still count as in flight here.
      seen.push(pair.client.peers[0]!.device.channelsOf('throughput')[0]!.inflightBytes);
      await within(new Promise((r) => { s.once('close', r); s.resume(); s.end(); }), 5000, 'close');
    }
    expect(seen).toEqual(seen.map(() => 0));
  });
});
