/**
 * A key-value service over rpc: sets, gets (one after another and 1,000 concurrently
 * on one virtual socket), a delete, and a miss that arrives as a typed remote error.
 * Run: `npm run build && node dist/examples/kv/main.js`.
 */
import { createStack } from '../../index.js';
import { RpcRemoteError } from '../../rpc/index.js';
import { KvClient, serveKv } from './kv.js';

const serverStack = await createStack({ listen: ['tcp://127.0.0.1:0'] });
const clientStack = await createStack();
const service = await serveKv(serverStack, 6379);
const kv = await KvClient.connect(clientStack, serverStack.addresses[0]!, 6379);

await kv.set('greeting', 'hello over netchannel');
console.log(`get greeting -> ${await kv.get('greeting')}`);

// Many requests in flight on one socket, matched by id.
await Promise.all(Array.from({ length: 1000 }, (_, i) => kv.set(`k${i}`, `v${i}`)));
const values = await Promise.all(Array.from({ length: 1000 }, (_, i) => kv.get(`k${i}`)));
console.log(`1000 concurrent sets and gets: ${values.every((v, i) => v === `v${i}`) ? 'all match' : 'MISMATCH'}; ${(await kv.keys()).length} keys`);

console.log(`del greeting -> ${await kv.del('greeting')}`);
try {
  await kv.get('greeting');
} catch (err) {
  if (!(err instanceof RpcRemoteError)) throw err;
  console.log(`get greeting -> remote error ${err.remoteCode}: ${err.message}`);
}
await kv.close();
await service.close();
await clientStack.close();
await serverStack.close();
