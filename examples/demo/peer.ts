/**
 * Demo peer process: a stack on loopback with a sink (port 80, replies with the
 * SHA-256 and byte count of what it got) and an echo service (port 7).
 * Started by main.ts; reports its address over IPC.
 * @packageDocumentation
 */
import { createHash } from 'node:crypto';
import { createStack } from '../../index.js';

const stack = await createStack({ listen: ['tcp://127.0.0.1:0'] });
const sink = await stack.listen(80);
sink.on('connection', (sock) => {
  const hash = createHash('sha256');
  let bytes = 0;
  sock.on('data', (d: Buffer) => {
    hash.update(d);
    bytes += d.length;
  });
  sock.on('end', () => sock.end(JSON.stringify({ sha256: hash.digest('hex'), bytes })));
});
const echo = await stack.listen(7, { appClass: 'latency' });
echo.on('connection', (sock) => sock.pipe(sock));
process.send?.({ address: stack.addresses[0] });
process.on('message', (m) => {
  if (m === 'exit') void stack.close().then(() => process.exit(0));
});
process.on('disconnect', () => process.exit(0));
