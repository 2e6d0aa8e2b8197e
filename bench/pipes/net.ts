/**
 * Raw node:net: one TCP connection per pipe.
 * @packageDocumentation
 */
import type net from 'node:net';
import { connectTcp, listenTcp } from '../lib/loopback.js';
import { duplexPipe, type Dialer, type Listener, type Pipe } from './pipe.js';

/** Listens on 127.0.0.1 (any port); each accepted connection is a pipe. */
export async function listenNet(onPipe: (p: Pipe) => void): Promise<Listener> {
  const server = await listenTcp((s) => onPipe(duplexPipe(s)), { noDelay: true, backlog: 4096 });
  return {
    target: { kind: 'net', port: server.port },
    close: () => server.close((s) => s.destroy()),
  };
}

/** Opens a new TCP connection per pipe. */
export function dialNet(port: number): Dialer {
  const sockets = new Set<net.Socket>();
  return {
    open: async () => duplexPipe(await connectTcp(port, { noDelay: true, sockets })),
    close: async () => {
      for (const s of sockets) s.destroy();
    },
  };
}
