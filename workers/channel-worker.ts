/**
 * Entry point of a channel worker (`worker_threads`), loaded by path from
 * `dist/workers/channel-worker.js`. It owns sockets and listeners: dials, accepts,
 * writes, reads, decodes; the main thread sees each channel as a WorkerChannel proxy.
 * Operations arrive and leave in one message per event-loop turn (see protocol.ts).
 * @packageDocumentation
 */
import net from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { InvalidArgumentError } from '../errors/index.js';
import { tcpSpec } from '../transports/tcp/spec.js';
import type { NetSocketDriverSpec } from '../transports/stream/net-socket-driver.js';
import { unixSpec } from '../transports/unix/spec.js';
import type { Batch, MainOp, RingPair, WireChannelOptions, WorkerBoot, WorkerOp, WorkerScheme } from './protocol.js';
import { allocateRingPair } from './ring.js';
import { TurnBatcher } from './turn-batch.js';
import { SharedSocket, TransferSocket, type WorkerOutbox, type WorkerSocket } from './worker-socket.js';

if (!parentPort) throw new InvalidArgumentError('channel-worker.js must run as a worker thread (it is started by inWorkers())');
const port = parentPort;
const boot = workerData as WorkerBoot;
/** The address specs of the tcp and unix transports, with this pool's socket settings. */
const specs: Record<WorkerScheme, NetSocketDriverSpec> = {
  tcp: tcpSpec({ noDelay: boot.noDelay }),
  unix: unixSpec({ unlinkStale: boot.unlinkStale }),
};

// After the poll phase: every socket read of this turn lands in one message.
const out: WorkerOutbox = new TurnBatcher<WorkerOp, WorkerSocket>((fn) => setImmediate(fn), (msg, transfer) => port.postMessage(msg, transfer));
const channels = new Map<number, WorkerSocket>();
const dialing = new Map<number, net.Socket>();
const servers = new Map<number, { server: net.Server; scheme: WorkerScheme; address: string }>();
let nextAccepted = -1;

function gone(s: WorkerSocket): void {
  if (channels.get(s.c) === s) channels.delete(s.c);
}

function adopt(c: number, socket: net.Socket, scheme: WorkerScheme, opts: WireChannelOptions, rings: RingPair | undefined): WorkerSocket {
  specs[scheme].tune?.(socket);
  const s = boot.handoff === 'shared' ? new SharedSocket(c, socket, opts, rings!, out, gone) : new TransferSocket(c, socket, opts, out, gone);
  channels.set(c, s);
  return s;
}

function dial(op: Extract<MainOp, { k: 'dial' }>): void {
  let socket: net.Socket;
  try {
    socket = net.connect({ ...specs[op.scheme].connectOptions(op.address), allowHalfOpen: true });
  } catch (err) {
    out.push({ k: 'dialfail', c: op.c, message: (err as Error).message });
    return;
  }
  dialing.set(op.c, socket);
  const onError = (err: Error): void => {
    dialing.delete(op.c);
    out.push({ k: 'dialfail', c: op.c, message: err.message });
  };
  socket.once('error', onError);
  socket.once('connect', () => {
    if (dialing.get(op.c) !== socket) return; // aborted meanwhile
    dialing.delete(op.c);
    socket.off('error', onError);
    const { local, remote } = specs[op.scheme].endpoints(socket, op.address);
    // Report first: frames read from now on follow the 'dialed' operation.
    out.push({ k: 'dialed', c: op.c, local, remote });
    adopt(op.c, socket, op.scheme, op.opts, op.rings);
  });
}

function listen(op: Extract<MainOp, { k: 'listen' }>): void {
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    if (servers.get(op.l)?.server !== server) {
      socket.destroy(); // closed meanwhile
      return;
    }
    const c = nextAccepted--;
    const rings = boot.handoff === 'shared' ? allocateRingPair(op.opts.ringBytes) : undefined;
    const { local, remote } = specs[op.scheme].endpoints(socket, op.address);
    out.push(rings ? { k: 'accept', l: op.l, c, local, remote, rings } : { k: 'accept', l: op.l, c, local, remote });
    adopt(c, socket, op.scheme, op.opts, rings);
  });
  // Registered now, so an 'unlisten' that overtakes the bind still closes it.
  servers.set(op.l, { server, scheme: op.scheme, address: op.address });
  const onError = (err: Error & { code?: string }): void => {
    servers.delete(op.l);
    out.push({ k: 'listenfail', l: op.l, message: err.message, code: err.code });
  };
  server.once('error', onError);
  try {
    server.listen(specs[op.scheme].listenOptions(op.address), () => {
      server.off('error', onError);
      server.on('error', () => {}); // accept errors (EMFILE, …) must not kill the worker
      if (servers.get(op.l)?.server !== server) return; // unlistened while binding
      out.push({ k: 'listening', l: op.l, address: specs[op.scheme].boundAddress(server, op.address) });
    });
  } catch (err) {
    onError(err as Error);
  }
}

function unlisten(l: number): void {
  const rec = servers.get(l);
  servers.delete(l);
  if (!rec) {
    out.push({ k: 'unlistened', l });
    return;
  }
  // Stop accepting now; accepted channels stay open (server.close's callback would wait for them).
  if (rec.server.listening) rec.server.close();
  else rec.server.once('listening', () => rec.server.close());
  setImmediate(() => {
    try {
      specs[rec.scheme].afterClose?.(rec.address);
    } catch {
      // best effort
    }
    out.push({ k: 'unlistened', l });
  });
}

function handle(op: MainOp): void {
  switch (op.k) {
    case 'dial':
      dial(op);
      return;
    case 'abort': {
      const s = dialing.get(op.c);
      dialing.delete(op.c);
      s?.destroy();
      channels.get(op.c)?.destroy();
      return;
    }
    case 'listen':
      listen(op);
      return;
    case 'unlisten':
      unlisten(op.l);
      return;
    case 'tx':
      channels.get(op.c)?.tx(op.b);
      return;
    case 'rxack':
      channels.get(op.c)?.rxAck(op.n);
      return;
    case 'end':
      channels.get(op.c)?.end();
      return;
    case 'destroy':
      channels.get(op.c)?.destroy();
      return;
    case 'pause':
      channels.get(op.c)?.pauseByMain(true);
      return;
    case 'resume':
      channels.get(op.c)?.pauseByMain(false);
      return;
  }
}

port.on('message', (msg: Batch<MainOp>) => {
  for (const op of msg.ops) handle(op);
});
