import { channelDriverCompliance } from '../compliance/index.js';
import { inWorkers, type WorkerDriver } from './index.js';

// The worker entry point is loaded from dist/ (npm test builds first).
for (const handoff of ['transfer', 'shared'] as const) {
  channelDriverCompliance(`tcp in workers (${handoff})`, {
    setup: async () => ({ driver: inWorkers('tcp', { workers: 2, handoff })({ hostId: '0'.repeat(32) }), listenAddress: 'tcp://127.0.0.1:0' }),
    teardown: async (s) => (s.driver as WorkerDriver).close(),
  });
}
