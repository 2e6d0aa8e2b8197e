/**
 * iperf-like bulk transfer: N MiB through ONE virtual socket striped over 4 TCP
 * channels; prints Gbit/s, each channel's share and whether the SHA-256 at both ends
 * matches. Both stacks run in this process (the demo runs them in two).
 * Run: `npm run build && node dist/examples/bulk/main.js [MiB=256]`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createStack } from '../../index.js';

const mib = Number(process.argv[2] ?? 256);
const receiver = await createStack({ listen: ['tcp://127.0.0.1:0'] });
const sender = await createStack({ channels: { throughput: 4, latency: 0 } });

// Receiver: hash everything, answer the digest once the sender ends.
(await receiver.listen(5201)).on('connection', (sock) => {
  const hash = createHash('sha256');
  sock.on('data', (d: Buffer) => hash.update(d));
  sock.on('end', () => sock.end(hash.digest('hex')));
});

// Sender: 1 MiB blocks (each numbered so reordering would change the hash), with backpressure.
const sock = await sender.connect(receiver.addresses[0]!, 5201, { appClass: 'throughput' });
const block = randomBytes(1 << 20);
const sent = createHash('sha256');
const t0 = process.hrtime.bigint();
for (let i = 0; i < mib; i++) {
  const chunk = Buffer.from(block);
  chunk.writeUInt32BE(i, 0);
  sent.update(chunk);
  if (!sock.write(chunk)) await once(sock, 'drain');
}
sock.end();
let reply = '';
for await (const d of sock) reply += String(d); // the receiver's digest, after all bytes arrived
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;

const channels = [...sender.peers.values()][0]!.device.channels;
const total = channels.reduce((s, c) => s + c.bytesSent, 0);
console.log(`bulk: ${mib} MiB in ${seconds.toFixed(2)} s = ${((mib * 8 * 1.048576) / 1000 / seconds).toFixed(2)} Gbit/s over ${channels.length} channels`);
console.log(`share per channel: ${channels.map((c) => `${c.appClass[0]}${c.index}=${((100 * c.bytesSent) / total).toFixed(1)}%`).join(' ')}`);
console.log(`SHA-256 ${reply === sent.digest('hex') ? 'equal' : 'DIFFERENT'} at both ends`);
await sender.close();
await receiver.close();
