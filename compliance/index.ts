/**
 * The driver compliance suite: one function that registers vitest tests checking that a
 * {@link ChannelDriver} honours the {@link Channel} contract (dial/accept, ordered frames
 * both ways, frame sizes, backpressure, half-close, abort, idempotent close, many
 * channels, peer loss, counters, address validation). Every built-in transport runs it;
 * a third-party driver runs it the same way:
 *
 * ```ts
 * // my-transport.test.ts
 * import { channelDriverCompliance } from 'netchannel/compliance';
 * import { myTransport } from './index.js';
 *
 * channelDriverCompliance('my-transport', {
 *   setup: async () => ({
 *     driver: myTransport()({ hostId: '0'.repeat(32) }),
 *     listenAddress: 'mine://127.0.0.1:0',
 *   }),
 *   teardown: async () => {},
 * });
 * ```
 *
 * `vitest` is an optional peer dependency: import this module only from test files.
 * @packageDocumentation
 */
import { afterEach, beforeEach, describe } from 'vitest';
import type { ChannelOptions } from '../netdriver/driver.js';
import { backpressureTests } from './backpressure.js';
import { closeAbortTests } from './close-abort.js';
import { dialListenTests } from './dial-listen.js';
import { frameTests } from './frames.js';
import { Harness, type SuiteContext } from './harness.js';
import type { ComplianceHooks } from './hooks.js';
import { manyChannelsTests } from './many-channels.js';

export type { ComplianceHooks, ComplianceSetup } from './hooks.js';

/**
 * Registers the compliance tests for one driver in a
 * `describe('channel driver compliance: <name>')` block.
 */
export function channelDriverCompliance(name: string, hooks: ComplianceHooks): void {
  describe(`channel driver compliance: ${name}`, () => {
    const base: ChannelOptions = { ...hooks.channelOptions };
    let h!: Harness;
    let current: Harness | undefined;

    beforeEach(async () => {
      current = undefined;
      h = current = new Harness(await hooks.setup(), base);
    });

    afterEach(async () => {
      const done = current;
      current = undefined;
      await done?.cleanup(hooks.teardown?.bind(hooks));
    });

    const suite: SuiteContext = {
      get h() {
        return h;
      },
      base,
    };
    dialListenTests(suite);
    frameTests(suite);
    backpressureTests(suite);
    closeAbortTests(suite);
    manyChannelsTests(suite);
  });
}
