/**
 * How `tcp://host:port` addresses map onto `node:net`: the {@link NetSocketDriverSpec}
 * of the tcp transport, shared by `tcp()` and the channel workers (`inWorkers('tcp')`).
 * @packageDocumentation
 */
import type net from 'node:net';
import { formatHostPort, parseHostPort } from '../../netdriver/address.js';
import type { NetSocketDriverSpec } from '../stream/net-socket-driver.js';

/** Options of the tcp address spec. */
export interface TcpSpecOptions {
  /**
   * Disable Nagle's algorithm on every socket (`tune`).
   * @default true
   */
  noDelay?: boolean;
}

/** The tcp address spec: `tcp://host:port`, port 0 allowed only to listen, Nagle off by default. */
export function tcpSpec(options: TcpSpecOptions = {}): NetSocketDriverSpec {
  const noDelay = options.noDelay ?? true;
  return {
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
  };
}
