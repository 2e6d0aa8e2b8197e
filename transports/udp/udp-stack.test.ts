import { afterEach, describe, expect, it } from 'vitest';
import { createStack, type Stack } from '../../index.js';
import { hashSink, sendBulk, within } from '../../test/pair.js';
import { UdpImpairProxy } from '../../bench/lib/udp-impair-proxy.js';
import { udp } from './index.js';

let after: (() => void) | undefined;
let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanup.map((c) => c()));
  after?.();
  after = undefined;
  cleanup = [];
});

describe('udp:// under a stack', () => {
  it('carries 256 MiB through one virtual socket over 4 udp channels with 2% loss, 1% duplication and reordering: SHA-256 equal', async () => {
    const transport = udp({ datagramSize: 65_000, rto: { min: 20 } });
    const server: Stack = await createStack({ transports: [transport], listen: ['udp://127.0.0.1:0'], channels: { throughput: 4, latency: 0 } });
    cleanup.push(() => server.close());
    const proxy = await UdpImpairProxy.start(server.addresses[0]!, { loss: 0.02, duplicate: 0.01, reorder: 0.01, seed: 42 });
    after = () => proxy.close(); // the network goes last: both stacks close through it
    const client: Stack = await createStack({ transports: [transport], channels: { throughput: 4, latency: 0 } });
    cleanup.push(() => client.close());

    const listener = await server.listen(80);
    const received = new Promise<{ hash: string; bytes: number }>((resolve, reject) => {
      listener.once('connection', (s) => hashSink(s).then(resolve, reject));
    });
    const sock = await client.connect(proxy.address, 80, { appClass: 'throughput' });
    const total = 256 * 1024 * 1024;
    const t0 = performance.now();
    const sentHash = await sendBulk(sock, total);
    const got = await within(received, 60_000, '256 MiB transfer');
    const secs = (performance.now() - t0) / 1000;
    expect(got.bytes).toBe(total);
    expect(got.hash).toBe(sentHash);
    const session = [...client.peers.values()][0]!;
    const chans = session.device.channels.filter((c) => c.appClass === 'throughput');
    expect(chans).toHaveLength(4);
    let retransmits = 0;
    for (const c of chans) {
      expect(c.channel.scheme).toBe('udp');
      expect(c.channel.bytesSent).toBeGreaterThan(total / 16);
      retransmits += c.channel.transportStats!()['retransmits_total']!;
    }
    expect(proxy.counts.dropped).toBeGreaterThan(0);
    expect(proxy.counts.duplicated).toBeGreaterThan(0);
    expect(proxy.counts.reordered).toBeGreaterThan(0);
    expect(retransmits).toBeGreaterThan(0);
    const exposition = await client.registry.metrics();
    expect(exposition).toMatch(/netchannel_channel_transport_events_total\{[^}]*transport="udp",stat="retransmits"\} [1-9]/);
    expect(exposition).toMatch(/netchannel_channel_transport_events_total\{[^}]*transport="udp",stat="dropped_duplicate"\} \d/);
    expect(exposition).toMatch(/netchannel_channel_transport_value\{[^}]*transport="udp",stat="srtt_ms"\} \d/);
    expect(exposition).toMatch(/netchannel_channel_transport_value\{[^}]*transport="udp",stat="rto_ms"\} [1-9]/);
    console.log(`256 MiB over 4 udp channels through the proxy: ${secs.toFixed(2)} s, ${((total * 8) / secs / 1e9).toFixed(2)} Gbit/s, proxy ${JSON.stringify(proxy.counts)}, retransmits ${retransmits}`);
  }, 60_000);
});
