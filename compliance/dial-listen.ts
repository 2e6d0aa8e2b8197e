/**
 * Compliance tests, dial and listen: accept and listener lifecycle: a dialed channel meets its accepted end, a vanished peer and a closed listener are noticed, malformed addresses are refused.
 * @packageDocumentation
 */
import { expect, it } from 'vitest';
import { ErrorCode } from '../errors/index.js';
import { TEST_MS, WAIT_MS, expectCode, settle, withTimeout, type SuiteContext } from './harness.js';

/** Registers this group's tests; `s.h` is the running test's harness. */
export function dialListenTests(s: SuiteContext): void {
  const { base } = s;
  it('dials and accepts a channel', async () => {
    const h = s.h;
    const listener = await h.listen();
    expect(listener.address, 'listener.address').toMatch(new RegExp(`^${h.driver.scheme}://`));
    expect(() => h.driver.validate(listener.address), 'validate(listener.address)').not.toThrow();
    const { a, b } = await h.pair();
    for (const [label, ch] of [
      ['dialer', a],
      ['acceptor', b],
    ] as const) {
      expect(ch.scheme, `${label} scheme`).toBe(h.driver.scheme);
      expect(ch.destroyed, `${label} destroyed`).toBe(false);
      expect(typeof ch.localAddress === 'string' && ch.localAddress.length > 0, `${label} localAddress ${JSON.stringify(ch.localAddress)}`).toBe(true);
      expect(typeof ch.remoteAddress === 'string' && ch.remoteAddress.length > 0, `${label} remoteAddress ${JSON.stringify(ch.remoteAddress)}`).toBe(true);
      expect(Number.isInteger(ch.id), `${label} id`).toBe(true);
      expect(ch.txHighWaterMark, `${label} txHighWaterMark`).toBeGreaterThan(0);
      for (const k of ['txQueuedBytes', 'rxQueuedBytes', 'bytesSent', 'bytesReceived', 'framesSent', 'framesReceived'] as const) {
        expect(ch[k], `${label} ${k} of a fresh channel`).toBe(0);
      }
    }
    expect(a.id, 'dialer and acceptor ids').not.toBe(b.id);
    await settle();
    expect(h.record(a).count + h.record(b).count, 'no close while idle').toBe(0);
  }, TEST_MS);

  it('notices a peer that disappears; dialing a closed listener fails', async () => {
    const h = s.h;
    const { a, b } = await h.pair();
    const listener = h.listener!;
    b.destroy();
    await withTimeout(listener.close(), WAIT_MS, 'listener.close()');
    await h.closed(a, 'dialer after the acceptor was destroyed');
    expect(a.destroyed, 'dialer destroyed after close').toBe(true);
    await expectCode(() => withTimeout(h.driver.dial(listener.address, base), WAIT_MS, 'dial closed listener'), ErrorCode.DIAL_FAILED, 'dial after listener.close()');
    await withTimeout(listener.close(), WAIT_MS, 'second listener.close()');
  }, TEST_MS);

  it('rejects malformed addresses with NETCHANNEL_ERR_INVALID_ADDRESS', async () => {
    const h = s.h;
    const d = h.driver;
    const other = d.scheme === 'nc-compliance-other' ? 'nc-compliance-x' : 'nc-compliance-other';
    for (const bad of ['nonsense', '', `${other}://127.0.0.1:1`]) {
      await expectCode(() => d.validate(bad), ErrorCode.INVALID_ADDRESS, `validate(${JSON.stringify(bad)})`);
      await expectCode(() => d.dial(bad, base), ErrorCode.INVALID_ADDRESS, `dial(${JSON.stringify(bad)})`);
      await expectCode(
        async () => {
          const l = await d.listen(bad, (c) => c.destroy(), base);
          await l.close(); // should not get here; do not leak it
        },
        ErrorCode.INVALID_ADDRESS,
        `listen(${JSON.stringify(bad)})`,
      );
    }
  }, TEST_MS);
}
