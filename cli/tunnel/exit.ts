/**
 * Exit side of the tunnel: accepts tunnel virtual sockets, checks each requested
 * target against the allowlist, connects to it over TCP and splices the two.
 * @packageDocumentation
 */
import { connect, type Socket } from 'node:net';
import type { Stack, VirtualServer, VirtualSocket } from '../../index.js';
import { decodeRequest, encodeReply, readPrefix, ReplyStatus, type ReplyStatusValue } from './header.js';
import { reset, splice } from './splice.js';
import { formatHostPort, parseHostPort, type Allowlist, type HostPort } from './target.js';

/** Options of {@link startExit}. */
export interface ExitOptions {
  stack: Stack;
  /** Virtual port to accept tunnels on. */
  vport: number;
  allow: Allowlist;
  /** Time allowed for the request header to arrive, ms. */
  headerTimeout: number;
  /** Time allowed for the TCP connect to the target, ms. */
  connectTimeout: number;
  /** Receives one line per refused or failed tunnel. */
  log: (line: string) => void;
}

/** A running exit side. */
export interface Exit {
  readonly vport: number;
  /** Stops accepting new tunnels. */
  close(): Promise<void>;
}

/** Listens for tunnels on `opts.vport`. */
export async function startExit(opts: ExitOptions): Promise<Exit> {
  const server: VirtualServer = await opts.stack.listen(opts.vport);
  server.on('connection', (vsock) => void accept(opts, vsock));
  return { vport: server.port, close: () => server.closeAsync() };
}

async function accept(opts: ExitOptions, vsock: VirtualSocket): Promise<void> {
  vsock.on('error', () => {}); // resets are turned into TCP resets by splice
  let target: HostPort;
  try {
    const request = await readPrefix(vsock, decodeRequest, opts.headerTimeout);
    target = parseHostPort(request.target);
  } catch (err) {
    if (!vsock.destroyed) refuse(opts, vsock, ReplyStatus.BAD_REQUEST, `bad tunnel request: ${(err as Error).message}`);
    return;
  }
  const name = formatHostPort(target);
  if (!opts.allow.allows(target)) {
    refuse(opts, vsock, ReplyStatus.FORBIDDEN, `target ${name} is not allowed by this exit (allowed: ${opts.allow.describe()})`);
    return;
  }
  let tcp: Socket;
  try {
    tcp = await dial(target, opts.connectTimeout);
  } catch (err) {
    refuse(opts, vsock, ReplyStatus.CONNECT_FAILED, `cannot connect to ${name}: ${(err as Error).message}`);
    return;
  }
  if (vsock.destroyed) {
    reset(tcp);
    return;
  }
  tcp.setNoDelay(true);
  vsock.write(encodeReply(ReplyStatus.OK));
  await splice(vsock, tcp);
}

/** Answers a refusal, ends the virtual socket and discards what the entry already sent. */
function refuse(opts: ExitOptions, vsock: VirtualSocket, status: ReplyStatusValue, message: string): void {
  opts.log(`refused tunnel from host ${vsock.remoteHostId} (${vsock.remoteStackAddress}): ${message}`);
  vsock.end(encodeReply(status, message));
  vsock.resume();
  // The entry resets the socket once it read the reply; do not wait for it forever.
  const timer = setTimeout(() => vsock.destroy(), 10_000).unref();
  vsock.once('close', () => clearTimeout(timer));
}

/** Opens a half-open-capable TCP connection, failing after `timeoutMs`. */
function dial(target: HostPort, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const tcp = connect({ host: target.host, port: target.port, allowHalfOpen: true });
    const timer = setTimeout(() => {
      tcp.destroy();
      reject(new Error(`connect timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    tcp.once('connect', () => {
      clearTimeout(timer);
      tcp.off('error', onError);
      tcp.on('error', () => {}); // handled through 'close' in splice
      resolve(tcp);
    });
    const onError = (err: Error): void => {
      clearTimeout(timer);
      reject(err);
    };
    tcp.once('error', onError);
  });
}
