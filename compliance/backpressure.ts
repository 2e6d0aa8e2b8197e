/**
 * Compliance tests, backpressure: `enqueue` returns false at the high-water mark, `'writable'` follows, the receive queue stays bounded, nothing is lost.
 * @packageDocumentation
 */
import { expect, it } from 'vitest';
import type { ChannelOptions } from '../netdriver/driver.js';
import { FrameType, type Frame } from '../netdriver/frame.js';
import { TEST_MS, collect, nextEvent, settle, summary, type SuiteContext } from './harness.js';

/** Registers this group's tests; `s.h` is the running test's harness. */
export function backpressureTests(s: SuiteContext): void {
  const { base } = s;
  it('honours backpressure: enqueue returns false, writable follows, nothing is lost', async () => {
    const h = s.h;
    const tx = 64 * 1024;
    const rx = 256 * 1024;
    const opts: ChannelOptions = { ...base, txHighWaterMark: tx, rxHighWaterMark: rx };
    const { a, b } = await h.pair(opts);
    expect(a.txHighWaterMark, 'txHighWaterMark from ChannelOptions').toBe(tx);
    const size = 16 * 1024;
    const limit = 64 * 1024 * 1024;
    const frame = (seq: number): Frame => {
      const payload = Buffer.alloc(size, seq & 0xff);
      payload.writeUInt32BE(seq, 0);
      return { type: FrameType.DATA, flags: 0, src: 5, dst: 6, seq, ack: 0, payload };
    };
    // The receiver does not dequeue. Yield to the event loop between small batches so
    // the transport really moves data and the receive side fills up.
    let sent = 0;
    let returnedFalse = false;
    let queuedAtFalse = 0;
    while (sent * size < limit && !returnedFalse) {
      for (let k = 0; k < 4 && !returnedFalse; k++) {
        if (!a.enqueue(frame(sent++))) {
          returnedFalse = true;
          queuedAtFalse = a.txQueuedBytes;
        }
      }
      if (!returnedFalse) await new Promise<void>((r) => setImmediate(r));
    }
    expect(returnedFalse, `enqueue never returned false within ${limit} bytes`).toBe(true);
    expect(queuedAtFalse, 'txQueuedBytes when enqueue returned false').toBeGreaterThanOrEqual(tx);
    const writable = nextEvent(a, 'writable', "sender after the receiver drained");
    await settle();
    expect(b.rxQueuedBytes, 'receive queue bounded by rxHighWaterMark (+1 MiB slack)').toBeLessThanOrEqual(rx + 1024 * 1024);

    const extra = 8;
    const got = collect(b, sent + extra, 'backpressured stream');
    await writable;
    for (let k = 0; k < extra; k++) a.enqueue(frame(sent + k));
    const frames = await got;
    expect(frames.length).toBe(sent + extra);
    frames.forEach((f, i) => {
      if (f.seq !== i || f.payload.length !== size || f.payload.readUInt32BE(0) !== i || f.payload[size - 1] !== (i & 0xff)) {
        expect(summary(f), `frame #${i} after backpressure`).toEqual(summary(frame(i)));
      }
    });
    expect(b.rxQueuedBytes, 'rxQueuedBytes after dequeue').toBe(0);
  }, TEST_MS);
}
