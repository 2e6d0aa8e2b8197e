/**
 * Test fixture: one udp:// channel pair dialed through a {@link UdpImpairProxy}, and
 * frame helpers.
 * @packageDocumentation
 */
import type { Channel } from '../netdriver/channel.js';
import type { ChannelDriver, ChannelOptions } from '../netdriver/driver.js';
import { FrameType, type Frame } from '../netdriver/frame.js';
import { udp, type UdpChannel, type UdpListener, type UdpOptions } from '../transports/udp/index.js';
import { within } from './pair.js';
import { UdpImpairProxy, type ImpairOptions } from '../bench/lib/udp-impair-proxy.js';

/** A cleanup step run after a test. */
export type Cleanup = () => Promise<void> | void;

/** A listener, a proxy in front of it and one channel dialed through the proxy (with `dialOptions`, e.g. `appClass`). */
export async function proxiedPair(options: UdpOptions, impair: ImpairOptions, onCleanup: (c: Cleanup) => void, dialOptions: ChannelOptions = {}): Promise<{ a: UdpChannel; b: UdpChannel; proxy: UdpImpairProxy; listener: UdpListener; driver: ChannelDriver }> {
  const driver = udp(options)({ hostId: '0'.repeat(32) });
  const accepted: Channel[] = [];
  const listener = (await driver.listen('udp://127.0.0.1:0', (c) => accepted.push(c))) as UdpListener;
  const proxy = await UdpImpairProxy.start(listener.address, impair);
  const a = (await driver.dial(proxy.address, dialOptions)) as UdpChannel;
  onCleanup(async () => {
    a.destroy();
    for (const c of accepted) c.destroy();
    await listener.close();
    proxy.close();
    await driver.close?.();
  });
  await within(
    (async () => {
      while (accepted.length === 0) await new Promise((r) => setTimeout(r, 1));
    })(),
    5000,
    'accept',
  );
  return { a, b: accepted[0] as UdpChannel, proxy, listener, driver };
}

/** Collects exactly `n` frames from `ch`. */
export function take(ch: Channel, n: number): Promise<Frame[]> {
  const out: Frame[] = [];
  return within(
    new Promise<Frame[]>((resolve, reject) => {
      const drain = (): void => {
        for (const f of ch.dequeue()) out.push(f);
        if (out.length >= n) {
          ch.off('readable', drain);
          resolve(out);
        }
      };
      ch.on('readable', drain);
      ch.once('close', (err) => reject(new Error(`closed after ${out.length} of ${n} frames: ${err?.message}`)));
      drain();
    }),
    15_000,
    `${n} frames`,
  );
}

/** `n` DATA frames numbered by seq, payload sizes from `sizes`. */
export function frames(n: number, size: (i: number) => number): Frame[] {
  return Array.from({ length: n }, (_, i) => ({ type: FrameType.DATA, flags: 0, src: 1, dst: 2, seq: i, ack: 0, payload: Buffer.alloc(size(i), i & 0xff) }));
}

