/**
 * The two ends of each case: raw node:net sockets, or netchannel stacks on loopback.
 * @packageDocumentation
 */
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import { createStack } from '../../index.js';
import { connectTcp, listenTcp } from '../lib/loopback.js';
import type { CaseSpec, Target } from './protocol.js';

/** Virtual port the netchannel server listens on. */
const VPORT = 80;

/** A listening server end. */
export interface ServerEnd {
  /** Address to give the client. */
  target: Target;
  /** Stops listening, waits for accepted connections to end, frees everything. */
  close(): Promise<void>;
}

/** A connected client end. */
export interface ClientEnd {
  /** The byte stream to the server. */
  socket: Duplex;
  /** Ends the socket and frees everything. */
  close(): Promise<void>;
  /** Times the netchannel sender ran out of peer credit so far; null for raw net. */
  creditStalls(): number | null;
}

/** Listens on 127.0.0.1 (port 0) for `spec`, handing each accepted stream to `onSocket`. */
export async function listenFor(spec: CaseSpec, onSocket: (s: Duplex) => void): Promise<ServerEnd> {
  if (spec.kind === 'net') {
    const server = await listenTcp(onSocket, { noDelay: true });
    return { target: { kind: 'net', port: server.port }, close: () => server.close((s) => s.end()) };
  }
  const stack = await createStack({ listen: ['tcp://127.0.0.1:0'], channels: { throughput: spec.channels, latency: 0 } });
  const server = await stack.listen(VPORT);
  server.on('connection', (s) => onSocket(s));
  return { target: { kind: 'netchannel', address: stack.addresses[0]!, vport: VPORT }, close: () => stack.close() };
}

/** Connects to `target` for `spec`; resolves once the stream is ready for data. */
export async function connectTo(spec: CaseSpec, target: Target): Promise<ClientEnd> {
  if (target.kind === 'net') {
    const socket = await connectTcp(target.port, { noDelay: true });
    return {
      socket,
      close: async () => {
        const closed = once(socket, 'close');
        socket.end();
        await closed;
      },
      creditStalls: () => null,
    };
  }
  if (spec.kind !== 'netchannel') throw new Error(`case ${spec.kind} cannot connect to a netchannel target`);
  const stack = await createStack({ channels: { throughput: spec.channels, latency: 0 } });
  const socket = await stack.connect(target.address, target.vport, { appClass: 'throughput' });
  return { socket, close: () => stack.close(), creditStalls: () => socket.creditStalls };
}
