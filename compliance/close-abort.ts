/**
 * Compliance tests, close and abort: half-close keeps the other direction open, abort closes both ends, close and destroy are idempotent.
 * @packageDocumentation
 */
import { expect, it } from 'vitest';
import { ErrorCode } from '../errors/index.js';
import { controlFrame, FrameType } from '../netdriver/frame.js';
import { dataFrames } from './generate.js';
import { TEST_MS, WAIT_MS, collect, expectCode, expectFrames, nextEvent, sendAll, settle, withTimeout, type SuiteContext } from './harness.js';

/** Registers this group's tests; `s.h` is the running test's harness. */
export function closeAbortTests(s: SuiteContext): void {
  it('half-closes: end() delivers queued frames then end, the other way stays open', async () => {
    const h = s.h;
    const { a, b } = await h.pair();
    const fromA = dataFrames(5, 100, 3000);
    const bEnded = nextEvent(b, 'end', 'b after a.end()');
    const gotB = collect(b, fromA.length, 'a→b before end');
    a.enqueue(fromA);
    a.end();
    a.end();
    await expectCode(() => a.enqueue(controlFrame(FrameType.FIN, 0, 0)), ErrorCode.CLOSED, 'enqueue after end()');
    expectFrames(await gotB, fromA, 'a→b before end');
    await bEnded;
    expect(b.dequeue(), 'dequeue after end').toEqual([]);

    const fromB = dataFrames(6, 100, 3000);
    const gotA = collect(a, fromB.length, 'b→a after a.end()');
    await sendAll(b, fromB, 'b→a after a.end()');
    expectFrames(await gotA, fromB, 'b→a after a.end()');
    expect(h.record(a).count, 'a closed before b ended').toBe(0);
    expect(h.record(b).count, 'b closed before it ended').toBe(0);

    const aEnded = nextEvent(a, 'end', 'a after b.end()');
    b.end();
    await aEnded;
    const [errA, errB] = await Promise.all([h.closed(a, 'a after both ends'), h.closed(b, 'b after both ends')]);
    expect(errA, 'close error of a').toBeUndefined();
    expect(errB, 'close error of b').toBeUndefined();
    expect(a.destroyed, 'a.destroyed after close').toBe(true);
    expect(b.destroyed, 'b.destroyed after close').toBe(true);
  }, TEST_MS);

  it('aborts: destroy() closes both ends', async () => {
    const h = s.h;
    const { a, b } = await h.pair();
    const warm = dataFrames(7, 10, 100);
    const got = collect(b, warm.length, 'warm-up');
    a.enqueue(warm);
    expectFrames(await got, warm, 'warm-up');
    a.destroy();
    expect(a.destroyed, 'a.destroyed right after destroy()').toBe(true);
    await expectCode(() => a.enqueue(controlFrame(FrameType.PING, 0, 0)), ErrorCode.CLOSED, 'enqueue after destroy()');
    a.destroy();
    await h.closed(a, 'a after a.destroy()');
    await h.closed(b, 'b after peer destroy()');
    expect(b.destroyed, 'b.destroyed after close').toBe(true);
    await expectCode(() => b.enqueue(controlFrame(FrameType.PING, 0, 0)), ErrorCode.CLOSED, 'enqueue on the closed peer');
    await settle();
    expect(h.record(a).count, "'close' count of a").toBe(1);
    expect(h.record(b).count, "'close' count of b").toBe(1);
  }, TEST_MS);

  it('closes idempotently: close() twice, destroy() after close()', async () => {
    const h = s.h;
    const { a, b } = await h.pair();
    const p1 = a.close();
    const p2 = a.close();
    const p3 = b.close();
    await withTimeout(Promise.all([p1, p2, p3]), WAIT_MS, 'close() of both ends');
    await withTimeout(a.close(), WAIT_MS, 'close() after closed');
    await withTimeout(b.close(), WAIT_MS, 'close() after closed');
    expect(() => a.destroy()).not.toThrow();
    expect(() => b.destroy(new Error('late'))).not.toThrow();
    a.end();
    await settle();
    expect(h.record(a).count, "'close' count of a").toBe(1);
    expect(h.record(b).count, "'close' count of b").toBe(1);
    expect(h.record(a).errors[0], 'graceful close error of a').toBeUndefined();
    expect(h.record(b).errors[0], 'graceful close error of b').toBeUndefined();
    await expectCode(() => a.enqueue(controlFrame(FrameType.PING, 0, 0)), ErrorCode.CLOSED, 'enqueue after close()');
  }, TEST_MS);
}
