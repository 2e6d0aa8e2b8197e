/**
 * node:http2 over a virtual socket: the h2 server gets the socket through its
 * 'connection' event, the client through `createConnection`. Several streams are
 * multiplexed on the one virtual socket. Run: `npm run build && node dist/examples/http2/main.js`.
 */
import http2 from 'node:http2';
import { createStack } from '../../index.js';

// Two stacks on loopback; the server stack accepts virtual sockets on port 443.
const serverStack = await createStack({ listen: ['tcp://127.0.0.1:0'] });
const clientStack = await createStack({ channels: { throughput: 2, latency: 1 } });
const h2server = http2.createServer();
h2server.on('stream', (stream, headers) => {
  // Echo POST bodies; answer GETs with the path.
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.on('end', () => {
    stream.respond({ ':status': 200, 'content-type': 'text/plain' });
    stream.end(headers[':method'] === 'POST' ? Buffer.concat(chunks) : `hello ${headers[':path']}`);
  });
});
(await serverStack.listen(443)).on('connection', (vsock) => h2server.emit('connection', vsock));

// One h2 session over one virtual socket (latency class: small request/response).
const vsock = await clientStack.connect(serverStack.addresses[0]!, 443, { appClass: 'latency' });
const session = http2.connect('http://netchannel', { createConnection: () => vsock });

function request(method: string, path: string, body?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':method': method, ':path': path });
    let status = 0;
    const parts: Buffer[] = [];
    req.on('response', (h) => (status = Number(h[':status'])));
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(`${status} ${Buffer.concat(parts).toString()}`));
    req.on('error', reject);
    req.end(body);
  });
}

// Ten concurrent streams on one session, then a POST.
const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => request('GET', `/stream/${i}`)));
console.log(`http2: ${answers.length} concurrent GET streams on one virtual socket: ${answers[0]} … ${answers[9]}`);
console.log(`http2 POST: ${await request('POST', '/echo', 'payload over h2')}`);
const big = 'n'.repeat(4 << 20); // 4 MiB through h2 flow control and the socket's credit
const echoed = await request('POST', '/big', big);
console.log(`http2 POST 4 MiB: echoed ${echoed.length - 4} bytes, equal=${echoed.slice(4) === big}`);

session.close();
h2server.close();
await clientStack.close();
await serverStack.close();
