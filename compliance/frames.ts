/**
 * Compliance tests, frames on the wire: order and content of data and control frames both ways, the largest and smallest payloads, byte and frame counters.
 * @packageDocumentation
 */
import { expect, it } from 'vitest';
import { controlFrame, EMPTY, FrameType, type Frame } from '../netdriver/frame.js';
import { controlFrames, dataFrames, interleave, prng, randomBytes, wireSize } from './generate.js';
import { DEFAULT_MAX_PAYLOAD, TEST_MS, WAIT_MS, collect, expectFrames, sendAll, type SuiteContext } from './harness.js';

/** Registers this group's tests; `s.h` is the running test's harness. */
export function frameTests(s: SuiteContext): void {
  const { base } = s;
  it('delivers 2,000 data frames and control frames in order, both directions', async () => {
    const h = s.h;
    const { a, b } = await h.pair();
    const aToB = interleave(dataFrames(1, 2000, 5000, 0), controlFrames(11, 200), 10);
    const bToA = interleave(dataFrames(2, 2000, 5000, 1_000_000), controlFrames(22, 200), 10);
    const gotB = collect(b, aToB.length, 'a→b');
    const gotA = collect(a, bToA.length, 'b→a');
    await Promise.all([sendAll(a, aToB, 'a→b'), sendAll(b, bToA, 'b→a')]);
    const [atB, atA] = await Promise.all([gotB, gotA]);
    expectFrames(atB, aToB, 'a→b');
    expectFrames(atA, bToA, 'b→a');
  }, TEST_MS);

  it('carries a maxPayload (1 MiB) frame and 0- and 1-byte frames', async () => {
    const h = s.h;
    const max = base.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    const { a, b } = await h.pair();
    const rand = prng(3);
    const frames: Frame[] = [
      { type: FrameType.DATA, flags: 0, src: 1, dst: 2, seq: 0, ack: 0, payload: EMPTY },
      { type: FrameType.DATA, flags: 0, src: 1, dst: 2, seq: 1, ack: 7, payload: randomBytes(rand, max) },
      { type: FrameType.DATA, flags: 0, src: 1, dst: 2, seq: 2, ack: 0, payload: Buffer.from([0xa5]) },
      { type: FrameType.DATA, flags: 0, src: 1, dst: 2, seq: 3, ack: 0, payload: Buffer.alloc(0) },
      { type: FrameType.DATA, flags: 0, src: 1, dst: 2, seq: 4, ack: 0, payload: randomBytes(rand, max) },
      { type: FrameType.DATA, flags: 0, src: 1, dst: 2, seq: 5, ack: 0, payload: Buffer.from([0x00]) },
    ];
    const gotB = collect(b, frames.length, 'a→b');
    const gotA = collect(a, frames.length, 'b→a');
    a.enqueue(frames);
    b.enqueue(frames);
    expectFrames(await gotB, frames, 'a→b');
    expectFrames(await gotA, frames, 'b→a');
  }, TEST_MS);

  it('counts bytes and frames on both ends', async () => {
    const h = s.h;
    const { a, b } = await h.pair();
    const frames = [...dataFrames(9, 200, 4000), ...controlFrames(99, 14), { ...controlFrame(FrameType.DATA, 0, 0), payload: EMPTY }];
    const wire = wireSize(frames);
    let payloadBytes = 0;
    for (const f of frames) payloadBytes += f.payload.length;
    const arrived = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timeout: b.framesReceived is ${b.framesReceived}, want ${frames.length}`)), WAIT_MS);
      const check = (): void => {
        if (b.framesReceived >= frames.length) {
          clearTimeout(timer);
          b.off('readable', check);
          resolve();
        }
      };
      b.on('readable', check);
    });
    expect(a.enqueue(frames), 'enqueue below the default high-water mark').toBe(true);
    expect(a.framesSent, 'a.framesSent').toBe(frames.length);
    expect(a.bytesSent, 'a.bytesSent (24-byte header + payload per frame)').toBe(wire);
    await arrived; // not dequeued yet
    expect(b.framesReceived, 'b.framesReceived').toBe(frames.length);
    expect(b.bytesReceived, 'b.bytesReceived').toBe(wire);
    expect(b.rxQueuedBytes, 'b.rxQueuedBytes before dequeue').toBeGreaterThanOrEqual(payloadBytes);
    expect(b.rxQueuedBytes, 'b.rxQueuedBytes before dequeue').toBeLessThanOrEqual(wire);
    const got = collect(b, frames.length, 'counted frames');
    expectFrames(await got, frames, 'counted frames');
    expect(b.rxQueuedBytes, 'b.rxQueuedBytes after dequeue').toBe(0);
    expect(b.framesSent, 'b.framesSent').toBe(0);
    expect(b.bytesSent, 'b.bytesSent').toBe(0);
    expect(a.framesReceived, 'a.framesReceived').toBe(0);
    expect(a.bytesReceived, 'a.bytesReceived').toBe(0);
    // and back
    const reply = dataFrames(10, 50, 1000);
    const gotA = collect(a, reply.length, 'reply');
    b.enqueue(reply);
    await gotA;
    expect(b.framesSent, 'b.framesSent').toBe(reply.length);
    expect(b.bytesSent, 'b.bytesSent').toBe(wireSize(reply));
    expect(a.framesReceived, 'a.framesReceived').toBe(reply.length);
    expect(a.bytesReceived, 'a.bytesReceived').toBe(wireSize(reply));
    expect(a.rxQueuedBytes, 'a.rxQueuedBytes after dequeue').toBe(0);
  }, TEST_MS);
}
