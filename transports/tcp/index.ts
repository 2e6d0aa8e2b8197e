/**
 * `tcp://host:port` transport: one TCP connection per channel, Nagle off.
 * @packageDocumentation
 */
import { defineDriver, type DriverFactory } from '../../netdriver/driver.js';
import { createNetSocketDriver } from '../stream/net-socket-driver.js';
import { tcpSpec } from './spec.js';

export { tcpSpec, type TcpSpecOptions } from './spec.js';

/** Options of the tcp transport. */
export interface TcpOptions {
  /**
   * Disable Nagle's algorithm on every channel.
   * @default true
   */
  noDelay?: boolean;
}

/** The tcp transport plug-in for `createStack({ transports: [tcp()] })`. */
export function tcp(options: TcpOptions = {}): DriverFactory {
  const spec = tcpSpec({ noDelay: options.noDelay ?? true });
  return defineDriver('tcp', () => createNetSocketDriver(spec));
}
