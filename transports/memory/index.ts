/**
 * `memory://name` transport: channels inside one process, for tests and embedding.
 * @packageDocumentation
 */
import { AddressError, ChannelError, ErrorCode } from '../../errors/index.js';
import { splitAddress } from '../../netdriver/address.js';
import type { Channel } from '../../netdriver/channel.js';
import { channelSettings, defineDriver, type ChannelListener, type ChannelOptions, type DriverFactory } from '../../netdriver/driver.js';
import { MemoryChannel } from './memory-channel.js';

export { MemoryChannel } from './memory-channel.js';

/** A namespace of memory listeners; stacks that share one can reach each other. */
export class MemoryNetwork {
  /** Listening names and their accept callbacks. */
  readonly listeners = new Map<string, { onChannel: (c: Channel) => void; options: ChannelOptions }>();
  private anon = 0;

  /** A fresh unused name, used when a listen address is `memory://` or ends in `*`. */
  uniqueName(prefix = 'anon'): string {
    return `${prefix}-${process.pid}-${++this.anon}`;
  }
}

/** The process-wide default network used when none is passed to {@link memory}. */
export const defaultMemoryNetwork = new MemoryNetwork();

/** Options of the memory transport. */
export interface MemoryOptions {
  /**
   * The network the driver listens and dials in.
   * @default defaultMemoryNetwork
   */
  network?: MemoryNetwork;
}

function memoryName(address: string): string {
  const { scheme, rest } = splitAddress(address);
  if (scheme !== 'memory') throw new AddressError(ErrorCode.INVALID_ADDRESS, address, `address ${JSON.stringify(address)} is not a memory:// address`);
  if (!/^[\w.*-]*$/.test(rest) || rest.length > 200) {
    throw new AddressError(ErrorCode.INVALID_ADDRESS, address, `memory address ${JSON.stringify(address)} must be memory://name with letters, digits, '_', '.', '-'`);
  }
  return rest;
}


/** The memory transport plug-in for `createStack({ transports: [memory()] })`. */
export function memory(options: MemoryOptions = {}): DriverFactory {
  const network = options.network ?? defaultMemoryNetwork;
  return defineDriver('memory', () => ({
    scheme: 'memory',
    validate: (address) => void memoryName(address),

    async dial(address: string, dialOptions: ChannelOptions = {}): Promise<Channel> {
      const name = memoryName(address);
      await new Promise<void>((r) => setImmediate(r));
      if (dialOptions.signal?.aborted) throw new ChannelError(ErrorCode.DIAL_FAILED, `dial ${address} aborted`);
      const listener = network.listeners.get(name);
      if (!listener) throw new ChannelError(ErrorCode.DIAL_FAILED, `cannot dial ${address}: nobody listens on memory name ${JSON.stringify(name)}`);
      const [local, remote] = MemoryChannel.pair(
        { scheme: 'memory', localAddress: 'memory://(dialer)', remoteAddress: address, ...channelSettings(dialOptions) },
        { scheme: 'memory', localAddress: address, remoteAddress: 'memory://(dialer)', ...channelSettings(listener.options) },
      );
      listener.onChannel(remote);
      return local;
    },

    async listen(address: string, onChannel: (c: Channel) => void, listenOptions: ChannelOptions = {}): Promise<ChannelListener> {
      let name = memoryName(address);
      if (name === '' || name.endsWith('*')) name = network.uniqueName(name.replace(/\*$/, '') || 'anon');
      if (network.listeners.has(name)) throw new ChannelError(ErrorCode.DIAL_FAILED, `cannot listen on memory://${name}: name in use`);
      const entry = { onChannel, options: listenOptions };
      network.listeners.set(name, entry);
      return {
        address: `memory://${name}`,
        close: async () => {
          if (network.listeners.get(name) === entry) network.listeners.delete(name);
        },
      };
    },
  }));
}
