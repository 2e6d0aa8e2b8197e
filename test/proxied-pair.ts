/**
 * Test fixture: a server stack, a client stack and a {@link CutProxy} in front of the
 * server's tcp listener; everything is torn down after each test.
 * @packageDocumentation
 */
import { afterEach } from 'vitest';
import { createStack, type Stack, type StackOptions } from '../index.js';
import { parseHostPort } from '../netdriver/address.js';
import { cutProxy, type CutProxy } from './cut-proxy.js';

/** One proxied pair. */
export interface ProxiedPair {
  server: Stack;
  client: Stack;
  /** The proxy's address: dial this to go through the proxy. */
  address: string;
  proxy: CutProxy;
}

/** Registers the teardown and returns `setup(options)`, which builds a proxied pair. */
export function useProxiedPair(defaults: StackOptions = {}): (options?: StackOptions) => Promise<ProxiedPair> {
  let made: ProxiedPair[] = [];
  afterEach(async () => {
    for (const p of made) {
      await p.proxy.shutdown();
      p.server.destroy();
      p.client.destroy();
    }
    made = [];
  });
  return async (options = {}) => {
    const opts = { ...defaults, ...options };
    const server = await createStack({ ...opts, listen: ['tcp://127.0.0.1:0'] });
    const client = await createStack(opts);
    const proxy = await cutProxy(parseHostPort(server.addresses[0]!, 'tcp', false).port);
    const pair = { server, client, address: proxy.address, proxy };
    made.push(pair);
    return pair;
  };
}
