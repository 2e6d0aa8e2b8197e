import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { within } from '../../test/pair.js';
import { frames, proxiedPair as pairWith, take, type Cleanup } from '../../test/udp-pair.js';
import { encodeAck, encodeDataHeader, encodePing, type UdpOptions } from './index.js';
import type { ImpairOptions } from '../../bench/lib/udp-impair-proxy.js';

let cleanup: Cleanup[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});
const proxiedPair = (o: UdpOptions, i: ImpairOptions = {}): ReturnType<typeof pairWith> => pairWith(o, i, (c) => cleanup.push(c));

describe('udp:// robustness', () => {
  it('a channel whose peer vanishes fails with NETCHANNEL_ERR_TIMEOUT within its keepalive timeout', async () => {
    const { a, proxy } = await proxiedPair({ keepaliveInterval: 50, keepaliveTimeout: 400 });
    const sent = frames(5, () => 100);
    proxy.blackhole = true;
    const t0 = performance.now();
    const closed = new Promise<Error | undefined>((r) => a.once('close', r));
    a.enqueue(sent); // unacknowledged data: retransmissions must not keep it alive
    const err = await within(closed, 5000, 'close after the peer vanished');
    const elapsed = performance.now() - t0;
    expect(err).toMatchObject({ code: 'NETCHANNEL_ERR_TIMEOUT' });
    expect(elapsed).toBeGreaterThanOrEqual(350);
    expect(elapsed).toBeLessThan(400 + 300);
  });

  it('drops and counts malformed and spoofed datagrams; the legitimate channel is unaffected', async () => {
    const { a, b, proxy, listener } = await proxiedPair({ datagramSize: 1400 });
    const before = frames(20, (i) => 50 * i);
    a.enqueue(before);
    await take(b, 20);
    const target = listener.address.replace('udp://127.0.0.1:', '');
    const attacker = createSocket('udp4');
    cleanup.push(() => void attacker.close());
    await new Promise<void>((r) => attacker.connect(Number(target), '127.0.0.1', r));
    const send = (m: Buffer): void => void attacker.send(m);
    const stats = listener.endpoint.stats;
    // Random bytes, from a stranger and from the legitimate peer's address.
    for (let i = 0; i < 50; i++) send(randomBytes(1 + (i * 37) % 1300));
    for (let i = 0; i < 20; i++) proxy.inject(randomBytes(17 + i));
    // Oversized (above the 1,400-byte datagram size).
    send(Buffer.concat([encodeDataHeader(b.localCid, b.peerCid, 0, false), Buffer.alloc(3000)]));
    // Wrong connection id, well-formed, from the peer's address and from a stranger.
    proxy.inject(Buffer.concat([encodeDataHeader(b.localCid ^ 0x5a5a5a5a, b.peerCid, 0, false), Buffer.from('x')]));
    proxy.inject(encodePing(b.localCid, b.peerCid ^ 1));
    send(encodePing(b.localCid ^ 1, b.peerCid));
    // Right ids from the wrong address.
    send(Buffer.concat([encodeDataHeader(b.localCid, b.peerCid, 20, false), Buffer.from('spoofed')]));
    // Right ids and address, sequence numbers outside the window, an ACK for data never sent.
    proxy.inject(Buffer.concat([encodeDataHeader(b.localCid, b.peerCid, 1_000_000, false), Buffer.from('far ahead')]));
    proxy.inject(Buffer.concat([encodeDataHeader(b.localCid, b.peerCid, 0, false), Buffer.from('replayed')]));
    proxy.inject(encodeAck(b.localCid, b.peerCid, 1_000_000, 2_000_000, []));

    const after = frames(200, (i) => (i * 97) % 5000);
    a.enqueue(after);
    const got = await take(b, 200);
    expect(got.map((f) => f.seq)).toEqual(after.map((f) => f.seq));
    got.forEach((f, i) => expect(f.payload.equals(after[i]!.payload)).toBe(true));
    expect(b.destroyed).toBe(false);
    expect(a.destroyed).toBe(false);
    expect(stats.malformed).toBeGreaterThanOrEqual(60); // a few random datagrams may be well-formed by chance
    expect(stats.oversized).toBe(1);
    expect(stats.unknown_connection).toBeGreaterThanOrEqual(2);
    expect(stats.connection_id).toBe(1);
    expect(stats.address).toBe(1);
    expect(b.drops.window).toBe(1);
    expect(b.drops.duplicate).toBeGreaterThanOrEqual(1);
    expect(b.drops.invalid_ack).toBe(1);
    expect(b.drops.connection_id).toBeGreaterThanOrEqual(2);
    expect(b.drops.malformed).toBeGreaterThanOrEqual(15);
    const ts = b.transportStats();
    expect(ts['dropped_window_total']).toBe(1);
    expect(ts['dropped_address_total']).toBe(1);
  });

  it('recovers from loss in both directions and reports RTT, RTO and retransmits', async () => {
    const { a, b } = await proxiedPair({ datagramSize: 1400, rto: { min: 10 } }, { loss: 0.05, reorder: 0.02, duplicate: 0.02, seed: 7, spare: 2 });
    const out = frames(300, (i) => (i * 131) % 4000);
    const back = frames(300, (i) => (i * 71) % 3000);
    const gotB = take(b, 300);
    const gotA = take(a, 300);
    a.enqueue(out);
    b.enqueue(back);
    expect((await gotB).map((f) => f.payload.length)).toEqual(out.map((f) => f.payload.length));
    expect((await gotA).map((f) => f.payload.length)).toEqual(back.map((f) => f.payload.length));
    const s = a.transportStats();
    expect(s['retransmits_total']).toBeGreaterThan(0);
    expect(s['srtt_ms']).toBeGreaterThan(0);
    expect(s['rto_ms']).toBeGreaterThanOrEqual(10);
  });
});
