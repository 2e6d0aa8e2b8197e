/**
 * Compliance tests, many channels: 50 concurrent dials, each channel carrying only its own frames.
 * @packageDocumentation
 */
import { expect, it } from 'vitest';
import type { Channel } from '../netdriver/channel.js';
import { type Frame } from '../netdriver/frame.js';
import { dataFrames } from './generate.js';
import { TEST_MS, WAIT_MS, collect, expectFrames, withTimeout, type SuiteContext } from './harness.js';

/** Registers this group's tests; `s.h` is the running test's harness. */
export function manyChannelsTests(s: SuiteContext): void {
  const { base } = s;
  it('runs 50 channels at once, each carrying its own frames', async () => {
    const h = s.h;
    const listener = await h.listen();
    const n = 50;
    const perChannel = 20;
    const dialers = await withTimeout(
      Promise.all(Array.from({ length: n }, () => h.driver.dial(listener.address, base).then((c) => h.track(c)))),
      WAIT_MS,
      `${n} concurrent dials`,
    );
    const acceptors: Channel[] = [];
    for (let i = 0; i < n; i++) acceptors.push(await h.accepted.next(`accept #${i} of ${n}`));
    const tagged = (tag: number, seed: number): Frame[] =>
      dataFrames(seed, perChannel, 2000).map((f, k) => ({ ...f, src: tag, seq: tag * 1000 + k }));
    // dialer i → its acceptor, then the acceptor echoes the tag it saw back.
    const inbound = acceptors.map((c, i) => collect(c, perChannel, `acceptor #${i}`));
    dialers.forEach((c, i) => c.enqueue(tagged(i, 100 + i)));
    const seen = new Set<number>();
    const received = await Promise.all(inbound);
    received.forEach((frames, i) => {
      const tag = frames[0]!.src;
      expect(tag >= 0 && tag < n, `acceptor #${i} tag ${tag}`).toBe(true);
      expect(seen.has(tag), `tag ${tag} received by two channels`).toBe(false);
      seen.add(tag);
      expectFrames(frames, tagged(tag, 100 + tag), `acceptor #${i} (tag ${tag})`);
    });
    const echoes = dialers.map((c, i) => collect(c, perChannel, `dialer #${i} echo`));
    received.forEach((frames, i) => acceptors[i]!.enqueue(tagged(frames[0]!.src, 900)));
    const back = await Promise.all(echoes);
    back.forEach((frames, i) => expectFrames(frames, tagged(i, 900), `dialer #${i} echo`));
  }, TEST_MS);
}
