/**
 * node:http, unchanged, over virtual sockets: the server receives them through its
 * 'connection' event, the client through `createConnection`. One GET and one POST.
 * Run: `npm run build && node dist/examples/http/main.js`.
 */
import http from 'node:http';
import { createStack } from '../../index.js';

const serverStack = await createStack({ listen: ['tcp://127.0.0.1:0'] });
const clientStack = await createStack();

// An ordinary node:http app: GET says hello, POST echoes the body's length.
const app = http.createServer((req, res) => {
  let size = 0;
  req.on('data', (c: Buffer) => (size += c.length));
  req.on('end', () => res.end(req.method === 'POST' ? `received ${size} bytes` : `hello from ${req.url}`));
});
(await serverStack.listen(80)).on('connection', (vsock) => app.emit('connection', vsock));

// Each request on its own virtual socket (like an agent-free net connection).
async function fetchVia(method: string, path: string, body?: Buffer): Promise<string> {
  const vsock = await clientStack.connect(serverStack.addresses[0]!, 80);
  return new Promise((resolve, reject) => {
    const req = http.request({ method, path, createConnection: () => vsock as never, headers: { connection: 'close' } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve(`${res.statusCode} ${text}`));
    });
    req.on('error', reject);
    req.end(body);
  });
}

console.log(`GET /index -> ${await fetchVia('GET', '/index')}`);
console.log(`POST /upload (1 MiB) -> ${await fetchVia('POST', '/upload', Buffer.alloc(1 << 20, 1))}`);
app.close();
await clientStack.close();
await serverStack.close();
