/**
 * `tcp://host:port` transport: one TCP connection per channel, Nagle off.
 * @packageDocumentation
 */
import type net from 'node:net';
import { formatHostPort, parseHostPort } from '../../netdriver/address.js';
import { defineDriver, type DriverFactory } from '../../netdriver/driver.js';
import { createNetSocketDriver } from '../../netdriver/net-socket-driver.js';

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
  const noDelay = options.noDelay ?? true;
  return defineDriver('tcp', () =>
    createNetSocketDriver({
      scheme: 'tcp',
      validate: (address) => void parseHostPort(address, 'tcp', true),
      connectOptions: (address) => {
        const { host, port } = parseHostPort(address, 'tcp', false);
        return { host, port };
      },
      listenOptions: (address) => {
        const { host, port } = parseHostPort(address, 'tcp', true);
        return { host, port };
      },
      boundAddress: (server) => {
        const a = server.address() as net.AddressInfo;
        return formatHostPort('tcp', a.address, a.port);
      },
      endpoints: (socket) => ({
        local: formatHostPort('tcp', socket.localAddress ?? '?', socket.localPort ?? 0),
        remote: formatHostPort('tcp', socket.remoteAddress ?? '?', socket.remotePort ?? 0),
      }),
      tune: (socket) => {
        socket.setNoDelay(noDelay);
      },
    }),
  );
}
