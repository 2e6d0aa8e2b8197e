/**
 * The contract between the compliance suite and a driver's test file: how the suite gets
 * a fresh driver for every test and releases it.
 * @packageDocumentation
 */
import type { ChannelDriver, ChannelOptions } from '../netdriver/driver.js';

/** What {@link ComplianceHooks.setup} provides for one test. */
export interface ComplianceSetup {
  /** A fresh driver instance. */
  driver: ChannelDriver;
  /** Address to listen on; may ask for an ephemeral port (`:0`), the listener reports the real one. */
  listenAddress: string;
}

/** How the suite obtains and releases a driver under test. */
export interface ComplianceHooks {
  /** Called before every test. */
  setup(): Promise<ComplianceSetup>;
  /** Called after every test, once its channels and listener are closed. */
  teardown?(s: ComplianceSetup): Promise<void>;
  /** Optional per-driver channel options, passed to every dial and listen. */
  channelOptions?: ChannelOptions;
}
