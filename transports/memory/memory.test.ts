import { channelDriverCompliance } from '../../compliance/index.js';
import { memory, MemoryNetwork } from './index.js';

channelDriverCompliance('memory', {
  setup: async () => ({ driver: memory({ network: new MemoryNetwork() })({ hostId: '0'.repeat(32) }), listenAddress: 'memory://compliance' }),
});
