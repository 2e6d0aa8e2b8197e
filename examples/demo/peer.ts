/**
 * Demo peer process: a stack on loopback with a sink (port 80, replies with the
 * SHA-256 and byte count of what it got) and an echo service (port 7, latency class),
 * plus the same two services on raw node:net for the comparison run.
 * Started by main.ts; reports its addresses over IPC.
 * @packageDocumentation
 */
import { createHash } from 'node:crypto';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { createStack } from '../../index.js';

/** Counts and hashes everything, answers with a JSON summary at the end. */
function sink(sock: Duplex): void {
  const hash = createHash('sha256');
  let bytes = 0;
  sock.on('data', (d: Buffer) => {
    hash.update(d);
    bytes += d.length;
  });
  sock.on('end', () => sock.end(JSON.stringify({ sha256: hash.digest('hex'), bytes })));
  sock.on('error', () => {});
}

const stack = await createStack({ listen: ['tcp://127.0.0.1:0'] });
(await stack.listen(80)).on('connection', sink);
(await stack.listen(7, { appClass: 'latency' })).on('connection', (s) => s.pipe(s));

const rawSink = net.createServer(sink).listen(0, '127.0.0.1');
const rawEcho = net.createServer((s) => s.on('error', () => {}).pipe(s)).listen(0, '127.0.0.1');
await Promise.all([rawSink, rawEcho].map((s) => new Promise((r) => s.once('listening', r))));
const port = (s: net.Server): number => (s.address() as net.AddressInfo).port;

process.send?.({ address: stack.addresses[0], rawSink: port(rawSink), rawEcho: port(rawEcho) });
process.on('message', (m) => {
  if (m === 'exit') {
    rawSink.close();
    rawEcho.close();
    void stack.close().then(() => process.exit(0));
  }
});
process.on('disconnect', () => process.exit(0));
