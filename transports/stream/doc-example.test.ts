import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { channelDriverCompliance } from '../../compliance/index.js';
import { myTcp } from '../../examples/stream-driver/my-tcp.js';

const read = (path: string): string => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
// The doc imports by package name; the file, inside this repository, by relative path.
const inRepo = (code: string): string => code.replaceAll("'netchannel/netdriver'", "'../../netdriver/index.js'").replaceAll("'netchannel/transports/stream'", "'../../transports/stream/index.js'");

it('docs/writing-a-driver.md shows exactly examples/stream-driver/my-tcp.ts', () => {
  const shown = /<!-- examples\/stream-driver\/my-tcp\.ts -->\n```ts\n([\s\S]*?)```\n/.exec(read('docs/writing-a-driver.md'))?.[1];
  expect(inRepo(shown ?? 'no such code block in the doc')).toBe(read('examples/stream-driver/my-tcp.ts'));
});

channelDriverCompliance('mytcp (docs/writing-a-driver.md)', {
  setup: async () => ({ driver: myTcp()({ hostId: '0'.repeat(32) }), listenAddress: 'mytcp://127.0.0.1:0' }),
});
