import type { Channel } from '../netdriver/channel.js';
import type { ChannelDriver } from '../netdriver/driver.js';
import type { Frame } from '../netdriver/frame.js';
import { memory, MemoryNetwork } from '../transports/memory/index.js';
import { channelDriverCompliance } from './index.js';

const M = process.env.MUTANT ?? '';
function wrap(ch: Channel): Channel {
  return new Proxy(ch, {
    get(t, p, r) {
      const v = Reflect.get(t, p, t);
      if (p === 'dequeue') return (max?: number) => {
        let out: Frame[] = (v as Channel['dequeue']).call(t, max);
        if (M === 'drop') out = out.filter((f) => f.seq !== 1500);
        if (M === 'swap' && out.length > 3) { const x = out[1]!; out[1] = out[2]!; out[2] = x; }
        if (M === 'corrupt') out = out.map((f) => (f.payload.length > 4900 ? { ...f, payload: Buffer.concat([f.payload.subarray(1), Buffer.from([1])]) } : f));
        if (M === 'u16') out = out.map((f) => ({ ...f, src: f.src & 0xffff }));
        return out;
      };
      if (p === 'enqueue' && M === 'nobp') return (f: Frame | Frame[]) => { (v as Channel['enqueue']).call(t, f); return true; };
      if (p === 'framesSent' && M === 'count') return (v as number) + 1;
      if (p === 'on' && M === 'close2') return (e: string, l: (...a: unknown[]) => void) => { t.on(e as 'close', e === 'close' ? (...a: unknown[]) => { l(...a); l(...a); } : (l as () => void)); return r; };
      if (typeof v === 'function') return v.bind(t);
      return v;
    },
  });
}
channelDriverCompliance('mutant-' + M, {
  setup: async () => {
    const d = memory({ network: new MemoryNetwork() })({ hostId: '0'.repeat(32) });
    const driver: ChannelDriver = {
      scheme: d.scheme,
      validate: M === 'validate' ? () => undefined : d.validate,
      dial: async (a, o) => wrap(await d.dial(a, o)),
      listen: (a, cb, o) => d.listen(a, (c) => cb(wrap(c)), o),
    };
    return { driver, listenAddress: 'memory://compliance' };
  },
});
