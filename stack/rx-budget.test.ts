import { afterEach, describe, expect, it } from 'vitest';
import type { VirtualSocket } from '../index.js';
import { stackPair, within, type StackPair } from '../test/pair.js';

const SEGMENT = 64 * 1024;
const RX_HWM = 256 * 1024;
const BULK = 8 * 1024 * 1024;
/** Wall time the slow consumer spends per `'data'` chunk, ms. */
const WORK_MS = 0.3;

let pair: StackPair | undefined;
afterEach(async () => {
  await pair?.close();
  pair = undefined;
});

function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

/**
 * A bulk socket whose `'data'` handler works {@link WORK_MS} per chunk, beside a
 * latency socket doing ping-pong; both stacks in this process. The byte budget per
 * receive slice is set far above the transfer, so only the time budget can bound
 * what one event-loop turn delivers. One throughput channel: with several, a segment
 * that fills a gap releases the segments held after it at once (one frame's work can
 * then be up to the socket's window, see docs/scheduler.md).
 */
async function run(rxSliceMs: number): Promise<{ maxTurnBytes: number; maxRxQueued: number; heldTurns: number; pongsWhileHeld: number; received: number }> {
  pair = await stackPair('tcp', {
    channels: { throughput: 1, latency: 1 },
    channelRxHighWaterMark: RX_HWM,
    maxSegmentSize: SEGMENT,
    scheduler: { rxSliceBytes: 64 * 1024 * 1024, rxSliceMs },
  });
  let turnBytes = 0;
  let received = 0;
  let allReceived: () => void = () => {};
  const transferred = new Promise<void>((resolve) => (allReceived = resolve));
  const srv = await pair.server.listen(80);
  srv.on('connection', (s: VirtualSocket) => {
    if (s.appClass === 'latency') s.pipe(s);
    else
      s.on('data', (d: Buffer) => {
        spin(WORK_MS);
        turnBytes += d.length;
        received += d.length;
        if (received >= BULK) allReceived();
      });
  });
  const bulk = await pair.client.connect(pair.address, 80);
  const lat = await pair.client.connect(pair.address, 80, { appClass: 'latency' });
  const serverChannels = (): number => {
    let queued = 0;
    for (const dc of pair!.server.peers[0]!.device.channelsOf('throughput')) queued += dc.channel.rxQueuedBytes;
    return queued;
  };
  let held = false;
  let pongsWhileHeld = 0;
  lat.on('data', () => {
    if (held) pongsWhileHeld++;
  });
  const pinger = setInterval(() => lat.write('p'), 1);
  // One sample per event-loop turn: bytes delivered since the last, and what the
  // throughput channels hold decoded but not pulled by the device.
  let maxTurnBytes = 0;
  let maxRxQueued = 0;
  let heldTurns = 0;
  let done = false;
  const sample = (): void => {
    maxTurnBytes = Math.max(maxTurnBytes, turnBytes);
    turnBytes = 0;
    const q = serverChannels();
    held = q > 0;
    if (held) heldTurns++;
    maxRxQueued = Math.max(maxRxQueued, q);
    if (!done) setImmediate(sample);
  };
  setImmediate(sample);
  bulk.end(Buffer.alloc(BULK, 7));
  await within(transferred, 60_000, 'slow bulk transfer');
  done = true;
  clearInterval(pinger);
  return { maxTurnBytes, maxRxQueued, heldTurns, pongsWhileHeld, received };
}

describe('receive time budget with a slow bulk consumer', () => {
  it('bounds the bytes one turn delivers, stops reading the throughput channels (their transports pause) and keeps the latency socket served', async () => {
    const r = await run(0.5);
    expect(r.received).toBe(BULK);
    // A slice stops once 0.5 ms are spent, i.e. after two 0.3 ms chunks; plus at most
    // one small batch delivered at once outside a slice.
    expect(r.maxTurnBytes).toBeLessThanOrEqual(3 * SEGMENT);
    // The device stopped pulling: frames waited in the channels, which paused their
    // transports at the high-water mark (plus what one read had decoded).
    expect(r.heldTurns).toBeGreaterThan(0);
    expect(r.maxRxQueued).toBeLessThanOrEqual(RX_HWM + SEGMENT + 4096);
    // The latency channel is never paused by throughput work.
    expect(r.pongsWhileHeld).toBeGreaterThan(0);
  }, 90_000);

  it('without the time budget (bytes only) one turn delivers far more', async () => {
    const r = await run(0);
    expect(r.received).toBe(BULK);
    expect(r.maxTurnBytes).toBeGreaterThan(8 * SEGMENT);
  }, 90_000);
});
