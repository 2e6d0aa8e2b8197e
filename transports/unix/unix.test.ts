import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { channelDriverCompliance } from '../../compliance/index.js';
import { unix, unixPath } from './index.js';

channelDriverCompliance('unix', {
  setup: async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nc-'));
    return { driver: unix()({ hostId: '0'.repeat(32) }), listenAddress: `unix://${join(dir, 'c.sock')}` };
  },
  teardown: async (s) => rmSync(dirname(unixPath(s.listenAddress)), { recursive: true, force: true }),
});
