/**
 * A custom scheduling policy in a few lines: "least recently used" sends each segment
 * on the channel that was idle longest, skipping full ones. Run: `npm run build &&
 * node dist/examples/custom-policy/main.js` — it transfers 64 MiB over 4 channels
 * with the policy and prints each channel's share.
 */
import { createStack, definePolicy, type ChannelView } from '../../index.js';

export const leastRecentlyUsed = () =>
  definePolicy('least-recently-used', () => {
    const lastUse = new Map<number, number>();
    let clock = 0;
    return {
      select(_segment, channels: readonly ChannelView[]) {
        let pick: ChannelView | undefined;
        for (const c of channels) {
          if (c.txQueuedBytes >= c.txHighWaterMark) continue; // full: skip
          if (!pick || (lastUse.get(c.id) ?? 0) < (lastUse.get(pick.id) ?? 0)) pick = c;
        }
        if (pick) lastUse.set(pick.id, ++clock);
        return pick; // undefined = every channel full: the socket waits
      },
    };
  });

const opts = { channels: { throughput: 4, latency: 0 }, scheduler: { throughput: leastRecentlyUsed() } };
const a = await createStack({ ...opts, listen: ['tcp://127.0.0.1:0'] });
const b = await createStack(opts);
(await a.listen(80)).on('connection', (s) => s.resume().on('end', () => s.end()));
const sock = await b.connect(a.addresses[0]!, 80);
const total = 64 << 20;
for (let sent = 0; sent < total; sent += 1 << 20) if (!sock.write(Buffer.alloc(1 << 20))) await new Promise((r) => sock.once('drain', r));
sock.end();
await new Promise((r) => sock.resume().once('close', r));
const channels = [...b.peers.values()][0]!.device.channels;
console.log(channels.map((c) => `channel ${c.index}: ${((100 * c.bytesSent) / total).toFixed(1)}%`).join('\n'));
await b.close();
await a.close();
