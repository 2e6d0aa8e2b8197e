import { channelDriverCompliance } from '../../compliance/index.js';
import { udp } from './index.js';

channelDriverCompliance('udp', {
  setup: async () => ({ driver: udp({ datagramSize: 65_000, rto: { min: 20 } })({ hostId: '0'.repeat(32) }), listenAddress: 'udp://127.0.0.1:0' }),
});

channelDriverCompliance('udp (1,400-byte datagrams)', {
  setup: async () => ({ driver: udp()({ hostId: '0'.repeat(32) }), listenAddress: 'udp://127.0.0.1:0' }),
});
