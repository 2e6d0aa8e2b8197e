/**
 * Test fixture: two stacks whose tcp channels run on channel workers. The worker
 * entry point is the compiled dist/workers/channel-worker.js (`npm test` builds first).
 * @packageDocumentation
 */
import { createStack, type Stack, type StackOptions, type VirtualSocket } from '../index.js';
import { inWorkers, type InWorkersOptions, type WorkerDriver } from '../workers/index.js';
import { hashSink } from './pair.js';

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
export const hashIncoming: (s: VirtualSocket) => Promise<{ hash: string; bytes: number }> = hashSink;

export { sendBulk } from './pair.js';
