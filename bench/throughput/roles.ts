/**
 * Child-process roles of the throughput benchmark: the server counts bytes and replies,
 * the client connects, writes, and times the transfer.
 * @packageDocumentation
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import { serveParent, type ErrorMessage, type SendFn } from '../lib/child.js';
import { hostBusyMs } from '../lib/host.js';
import { connectTo, listenFor, type ServerEnd } from './endpoints.js';
import type { ClientDoneMsg, ReadyMsg, RunMsg, ServeMsg, ServerDoneMsg } from './protocol.js';

/** The one-byte "done" reply of the server. */
const REPLY = Buffer.from('D');

function cpuUs(u: NodeJS.CpuUsage): number {
  return u.user + u.system;
}

/** Server role: per `serve`, listen; count bytes on the accepted socket; reply when all arrived. */
export function serverRole(): void {
  let end: ServerEnd | null = null;
  serveParent(async (msg, send) => {
    if (msg.type === 'serve') {
      const { spec, bytes } = msg as ServeMsg;
      end = await listenFor(spec, (sock) => countAndReply(sock, bytes, send));
      send<ReadyMsg>({ type: 'ready', target: end.target });
    } else if (msg.type === 'teardown') {
      await end?.close();
      end = null;
      send({ type: 'closed' });
    } else {
      throw new Error(`server: unknown command ${JSON.stringify(msg.type)}`);
    }
  });
}

function countAndReply(sock: Duplex, bytes: number, send: SendFn): void {
  const cpu0 = process.cpuUsage();
  let first = 0n;
  let received = 0;
  let done = false;
  sock.on('data', (chunk: Buffer) => {
    if (received === 0) first = process.hrtime.bigint();
    received += chunk.length;
    if (done || received < bytes) return;
    done = true;
    const wallNs = Number(process.hrtime.bigint() - first);
    sock.write(REPLY);
    const reply: ServerDoneMsg = { type: 'server-done', bytes: received, cpuUs: cpuUs(process.cpuUsage(cpu0)), wallNs };
    send(reply);
  });
  sock.on('error', (err) => {
    if (!done) send({ type: 'error', message: `server socket failed after ${received} bytes: ${err.message}` } satisfies ErrorMessage);
  });
}

/** Client role: per `run`, connect (untimed), write the bytes, wait for the reply, close. */
export function clientRole(): void {
  let block: Buffer | null = null;
  serveParent(async (msg, send) => {
    if (msg.type !== 'run') throw new Error(`client: unknown command ${JSON.stringify(msg.type)}`);
    const run = msg as RunMsg;
    if (block?.length !== run.blockSize) block = randomBytes(run.blockSize);
    const end = await connectTo(run.spec, run.target);
    const replied = new Promise<void>((resolve, reject) => {
      end.socket.on('data', () => resolve());
      end.socket.once('error', reject);
      end.socket.once('close', () => reject(new Error('socket closed before the server replied')));
    });
    const stalls0 = end.creditStalls();
    const busy0 = hostBusyMs();
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await Promise.all([writeAll(end.socket, block, run.bytes), replied]);
    const wallNs = Number(process.hrtime.bigint() - t0);
    const cpu = cpuUs(process.cpuUsage(cpu0));
    const busy = hostBusyMs() - busy0;
    const stalls = end.creditStalls();
    await end.close();
    const done: ClientDoneMsg = { type: 'client-done', wallNs, cpuUs: cpu, hostBusyMs: busy, creditStalls: stalls === null || stalls0 === null ? null : stalls - stalls0 };
    send(done);
  });
}

/** Writes `bytes` bytes from the reusable `block`, waiting for 'drain' when write() says so. */
async function writeAll(sock: Duplex, block: Buffer, bytes: number): Promise<void> {
  let left = bytes;
  while (left > 0) {
    const n = Math.min(left, block.length);
    left -= n;
    if (!sock.write(n === block.length ? block : block.subarray(0, n))) await once(sock, 'drain');
  }
}
