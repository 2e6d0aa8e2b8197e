/**
 * Raw node:net: one TCP connection per pipe.
 * @packageDocumentation
 */
import net from 'node:net';
import { once } from 'node:events';
import { duplexPipe, type Dialer, type Listener, type Pipe } from './pipe.js';

/** Listens on 127.0.0.1 (any port); each accepted connection is a pipe. */
export async function listenNet(onPipe: (p: Pipe) => void): Promise<Listener> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    s.setNoDelay(true);
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    onPipe(duplexPipe(s));
  });
  server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 });
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  return {
    target: { kind: 'net', port },
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

/** Opens a new TCP connection per pipe. */
export function dialNet(port: number): Dialer {
  const sockets = new Set<net.Socket>();
  return {
    open: async () => {
      const s = net.connect({ host: '127.0.0.1', port, noDelay: true });
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
      await once(s, 'connect');
      return duplexPipe(s);
    },
    close: async () => {
      for (const s of sockets) s.destroy();
    },
  };
}
