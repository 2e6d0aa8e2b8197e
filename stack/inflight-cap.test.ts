import { afterEach, describe, expect, it } from 'vitest';
import type { VirtualSocket } from '../index.js';
import { stackPair, within, type StackPair } from '../test/pair.js';

const CAP = 256 * 1024;
let pair: StackPair | undefined;
afterEach(async () => {
  await pair?.close();
  pair = undefined;
});

/**
 * Sends 32 MiB on a throughput socket, with or without a latency socket doing
 * ping-pong beside it; returns the most the client's throughput channels held queued
 * plus unacknowledged (sampled every turn) and the cap waits.
 */
async function run(withLatency: boolean): Promise<{ maxHeld: number; capWaits: number }> {
  pair = await stackPair('tcp', { channels: { throughput: 2, latency: 1 }, scheduler: { throughputInflightCap: CAP } });
  const srv = await pair.server.listen(80);
  srv.on('connection', (s: VirtualSocket) => (s.appClass === 'latency' ? s.pipe(s) : s.resume()));
  const bulk = await pair.client.connect(pair.address, 80);
  const lat = withLatency ? await pair.client.connect(pair.address, 80, { appClass: 'latency' }) : undefined;
  lat?.on('data', () => {});
  const peer = pair.client.peers[0]!;
  let maxHeld = 0;
  let done = false;
  const sample = (): void => {
    let held = 0;
    for (const dc of peer.device.channelsOf('throughput')) held += dc.txQueuedBytes + dc.inflightBytes;
    maxHeld = Math.max(maxHeld, held);
    if (!done) setImmediate(sample);
  };
  sample();
  const pinger = lat ? setInterval(() => lat.write('p'), 5) : undefined;
  const block = Buffer.alloc(1 << 20);
  await within(
    (async () => {
      for (let i = 0; i < 32; i++) if (!bulk.write(block)) await new Promise((r) => bulk.once('drain', r));
      await new Promise<void>((r) => bulk.end(r));
    })(),
    60_000,
    'bulk transfer',
  );
  done = true;
  clearInterval(pinger);
  return { maxHeld, capWaits: peer.capWaits };
}

describe('throughput in-flight cap while latency traffic is active', () => {
  it('keeps what the throughput channels hold queued plus unacknowledged within the cap (plus one segment)', async () => {
    const { maxHeld, capWaits } = await run(true);
    expect(capWaits).toBeGreaterThan(0);
    expect(maxHeld).toBeLessThanOrEqual(CAP + 64 * 1024 + 24 + 4096); // one segment past the check, and a few control frames
  }, 90_000);

  it('does not apply without latency traffic: without a latency socket the same transfer holds more', async () => {
    const { maxHeld, capWaits } = await run(false);
    expect(capWaits).toBe(0);
    expect(maxHeld).toBeGreaterThan(CAP);
  }, 90_000);
});
