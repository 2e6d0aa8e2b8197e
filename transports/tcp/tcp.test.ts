import { channelDriverCompliance } from '../../compliance/index.js';
import { tcp } from './index.js';

channelDriverCompliance('tcp', {
  setup: async () => ({ driver: tcp()({ hostId: '0'.repeat(32) }), listenAddress: 'tcp://127.0.0.1:0' }),
});
