/**
 * `unix:///absolute/path` transport: one Unix-domain stream connection per channel.
 * @packageDocumentation
 */
import { defineDriver, type DriverFactory } from '../../netdriver/driver.js';
import { createNetSocketDriver } from '../stream/net-socket-driver.js';
import { unixSpec } from './spec.js';

export { unixPath, unixSpec, type UnixSpecOptions } from './spec.js';

/** Options of the unix transport. */
export interface UnixOptions {
  /**
   * Remove a stale socket file before listening on it.
   * @default true
   */
  unlinkStale?: boolean;
}

/** The unix transport plug-in for `createStack({ transports: [unix()] })`. */
export function unix(options: UnixOptions = {}): DriverFactory {
  const spec = unixSpec({ unlinkStale: options.unlinkStale ?? true });
  return defineDriver('unix', () => createNetSocketDriver(spec));
}
