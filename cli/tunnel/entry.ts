/**
 * Entry side of the tunnel: listens on local TCP ports and carries each accepted
 * connection as a virtual socket to the peer stack, whose exit side connects to the
 * route's target.
 * @packageDocumentation
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AppClass, Stack, VirtualSocket } from '../../index.js';
import { decodeReply, encodeRequest, readPrefix, ReplyStatus } from './header.js';
import { reset, splice } from './splice.js';
import { formatHostPort, type HostPort } from './target.js';

/** One `--route localPort=host:port[:class]`. */
export interface Route {
  /** Local TCP port to listen on; 0 picks a free one. */
  localPort: number;
  /** Where the exit side connects. */
  target: HostPort;
  /** Class of the virtual sockets carrying this route. @default 'throughput' */
  appClass: AppClass;
}

/** A route with its bound local port. */
export interface BoundRoute extends Route {
  /** The real local port (differs from `localPort` when that was 0). */
  port: number;
}

/** Options of {@link startEntry}. */
export interface EntryOptions {
  stack: Stack;
  /** Address of the peer stack, e.g. `tcp://10.0.0.2:7000`. */
  peer: string;
  /** Virtual port the peer's exit listens on. */
  vport: number;
  /** Local interface the route ports bind to. */
  bind: string;
  routes: readonly Route[];
  /** How long to wait for the exit's reply, ms. */
  replyTimeout: number;
  /** Receives one line per refused or failed connection. */
  log: (line: string) => void;
}

/** A running entry side. */
export interface Entry {
  readonly routes: readonly BoundRoute[];
  /** Stops accepting on every route; open connections keep running. */
  close(): Promise<void>;
}

/** Listens on every route and forwards accepted connections. */
export async function startEntry(opts: EntryOptions): Promise<Entry> {
  const servers: Server[] = [];
  const routes: BoundRoute[] = [];
  try {
    for (const route of opts.routes) {
      const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (tcp) => void forward(opts, route, tcp));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(route.localPort, opts.bind, () => {
          server.off('error', reject);
          resolve();
        });
      });
      servers.push(server);
      const address = server.address();
      routes.push({ ...route, port: typeof address === 'object' && address ? address.port : route.localPort });
    }
  } catch (err) {
    for (const s of servers) s.close();
    throw err;
  }
  return {
    routes,
    close: () => Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())))).then(() => undefined),
  };
}

/** Carries one accepted TCP connection through the tunnel. */
async function forward(opts: EntryOptions, route: Route, tcp: Socket): Promise<void> {
  const target = formatHostPort(route.target);
  tcp.on('error', () => {}); // a reset client is handled through 'close' in splice
  tcp.setNoDelay(true);
  let vsock: VirtualSocket;
  try {
    vsock = await opts.stack.connect(opts.peer, opts.vport, { appClass: route.appClass });
  } catch (err) {
    opts.log(`route ${target}: cannot reach peer ${opts.peer}: ${(err as Error).message}`);
    reset(tcp);
    return;
  }
  vsock.on('error', () => {});
  if (tcp.destroyed) {
    vsock.destroy();
    return;
  }
  // Optimistic: the client's bytes follow the header at once; the exit holds them
  // (under credit flow control) until its target connection is up.
  vsock.write(encodeRequest(target));
  tcp.pipe(vsock);
  tcp.resume();
  const earlyClose = (): void => reset(vsock);
  tcp.once('close', earlyClose);
  try {
    const reply = await readPrefix(vsock, decodeReply, opts.replyTimeout);
    if (reply.status !== ReplyStatus.OK) throw new Error(reply.message || `status ${reply.status}`);
  } catch (err) {
    if (!tcp.destroyed) opts.log(`route ${target}: refused by exit: ${(err as Error).message}`);
    reset(tcp);
    reset(vsock);
    return;
  }
  tcp.off('close', earlyClose);
  await splice(tcp, vsock, { aPipedToB: true });
}
