/**
 * Loopback TCP plumbing shared by the benchmark transports: listen on 127.0.0.1 (any
 * port), track accepted connections, close a server after finishing them, connect.
 * @packageDocumentation
 */
import net from 'node:net';
import { once } from 'node:events';

/** Anything that emits 'close' once (a net.Socket, an HTTP/2 session). */
interface Closable {
  once(event: 'close', listener: () => void): unknown;
}

/** Adds `item` to `set` until it emits 'close'; returns `item`. */
export function track<T extends Closable>(set: Set<T>, item: T): T {
  set.add(item);
  item.once('close', () => set.delete(item));
  return item;
}

/** Starts `server` listening on 127.0.0.1, any port (optionally with `backlog`); resolves with the port. */
export async function listenLoopback(server: net.Server, backlog?: number): Promise<number> {
  server.listen(backlog === undefined ? { port: 0, host: '127.0.0.1' } : { port: 0, host: '127.0.0.1', backlog });
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

/** Stops `server` accepting, calls `finish` on every open connection, resolves once the server closed. */
export async function closeServer<T>(server: net.Server, conns: Iterable<T>, finish: (conn: T) => void): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  for (const c of conns) finish(c);
  await closed;
}

/** A listening loopback TCP server. */
export interface TcpServer {
  port: number;
  /** Closes the server after calling `finish` on every accepted socket still open. */
  close(finish: (s: net.Socket) => void): Promise<void>;
}

/** A `net.Server` on 127.0.0.1 (any port) that tracks its sockets and hands each to `onSocket`. */
export async function listenTcp(onSocket: (s: net.Socket) => void, opts: { noDelay?: boolean; backlog?: number } = {}): Promise<TcpServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    if (opts.noDelay) s.setNoDelay(true);
    onSocket(track(sockets, s));
  });
  const port = await listenLoopback(server, opts.backlog);
  return { port, close: (finish) => closeServer(server, sockets, finish) };
}

/** Connects to 127.0.0.1:`port` (added to `sockets` at once when given); resolves once connected. */
export async function connectTcp(port: number, opts: { noDelay?: boolean; sockets?: Set<net.Socket> } = {}): Promise<net.Socket> {
  const s = net.connect({ host: '127.0.0.1', port, noDelay: opts.noDelay ?? false });
  if (opts.sockets) track(opts.sockets, s);
  await once(s, 'connect');
  return s;
}
