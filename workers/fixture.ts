/**
 * Test fixture: two stacks whose tcp channels run on channel workers. The worker
 * entry point is the compiled dist/workers/channel-worker.js (`npm test` builds first).
 * @packageDocumentation
 */
import { createHash, randomBytes } from 'node:crypto';
import { createStack, type Stack, type StackOptions, type VirtualSocket } from '../index.js';
import { event } from '../test/pair.js';
import { inWorkers, type InWorkersOptions, type WorkerDriver } from './index.js';

/** Two stacks over `inWorkers('tcp')`, each with its own pool. */
export interface WorkerPair {
  server: Stack;
  client: Stack;
  address: string;
  serverDriver: WorkerDriver;
  clientDriver: WorkerDriver;
  /** Closes both stacks, then both worker pools. */
  close(): Promise<void>;
}

/** Creates a listening and a dialing stack whose tcp channels run on workers. */
export async function workerPair(options: StackOptions = {}, workers: InWorkersOptions = { workers: 2 }): Promise<WorkerPair> {
  const factory = inWorkers('tcp', workers);
  const server = await createStack({ ...options, transports: [factory], listen: ['tcp://127.0.0.1:0'] });
  const [serverDriver] = [...factory.drivers];
  const client = await createStack({ ...options, transports: [factory] });
  const clientDriver = [...factory.drivers].find((d) => d !== serverDriver)!;
  return {
    server,
    client,
    address: server.addresses[0]!,
    serverDriver: serverDriver!,
    clientDriver,
    async close() {
      await Promise.all([client.close(), server.close()]);
      await Promise.all([clientDriver.close(), serverDriver!.close()]);
    },
  };
}

/** Resolves with the byte count and SHA-256 of everything `s` delivers before its end. */
export function hashIncoming(s: VirtualSocket): Promise<{ hash: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    let bytes = 0;
    s.on('data', (d: Buffer) => {
      h.update(d);
      bytes += d.length;
    });
    s.on('error', reject);
    s.on('end', () => resolve({ hash: h.digest('hex'), bytes }));
  });
}

/**
 * Writes `total` bytes (a random MiB, each MiB numbered) honouring backpressure, then
 * ends; `onMiB(i)` runs after MiB `i` was written. Returns the SHA-256 of what was written.
 */
export async function sendBulk(sock: VirtualSocket, total: number, onMiB?: (i: number) => void): Promise<string> {
  const block = randomBytes(1 << 20);
  const hash = createHash('sha256');
  let sent = 0;
  for (let i = 0; sent < total; i++) {
    const n = Math.min(block.length, total - sent);
    const chunk = Buffer.from(block.subarray(0, n));
    chunk.writeUInt32BE(i, 0);
    hash.update(chunk);
    sent += n;
    if (!sock.write(chunk)) await event(sock, 'drain', 60_000);
    onMiB?.(i);
  }
  sock.end();
  return hash.digest('hex');
}
