/**
 * Test fixture: two stacks connected over one transport, closed after each test.
 * @packageDocumentation
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStack, type Stack, type StackOptions, type VirtualSocket } from '../index.js';
import { MemoryNetwork, memory } from '../transports/memory/index.js';
import { tcp } from '../transports/tcp/index.js';
import { unix } from '../transports/unix/index.js';

/** Transport used by a pair. */
export type PairTransport = 'tcp' | 'unix' | 'memory';

/** Two stacks: `server` listens, `client` dials. */
export interface StackPair {
  server: Stack;
  client: Stack;
  address: string;
  close(): Promise<void>;
}

/**
 * True when the suite runs a second time with tcp/unix channels on channel workers
 * (`NETCHANNEL_TEST_WORKERS=1`, see the `test` script): the same end-to-end tests must
 * pass on the multi-core data path.
 */
export const ON_WORKERS = process.env.NETCHANNEL_TEST_WORKERS === '1';

/** Creates a listening and a dialing stack over `transport` with shared `options`. */
export async function stackPair(transport: PairTransport, options: StackOptions = {}): Promise<StackPair> {
  let dir: string | undefined;
  let listen: string;
  let transports;
  if (transport === 'tcp' && ON_WORKERS) {
    listen = 'tcp://127.0.0.1:0';
    options = { ...options, workers: { channel: { min: 1, max: 2 } } }; // tcp:// runs on channel workers
  } else if (transport === 'tcp') {
    listen = 'tcp://127.0.0.1:0';
    transports = [tcp()];
  } else if (transport === 'unix') {
    dir = mkdtempSync(join(tmpdir(), 'nc-'));
    listen = `unix://${join(dir, 's.sock')}`;
    transports = [unix()];
  } else {
    const network = new MemoryNetwork();
    listen = 'memory://pair';
    transports = [memory({ network })];
  }
  const server = await createStack({ ...options, ...(transports && { transports }), listen: [listen] });
  const client = await createStack({ ...options, ...(transports && { transports }) });
  return {
    server,
    client,
    address: server.addresses[0]!,
    async close() {
      await Promise.all([client.close(), server.close()]);
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Reads a stream to its end and returns all bytes. */
export async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** SHA-256 hex of a buffer. */
export function sha256(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}

/** Rejects with `message` after `ms` unless `p` settles first. */
export function within<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${message}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** Waits for one event, with a timeout. */
export function event<T = unknown[]>(emitter: NodeJS.EventEmitter, name: string, ms = 10_000): Promise<T> {
  return within(once(emitter, name) as Promise<T>, ms, `event '${name}'`);
}

/** Deterministic pseudo-random bytes (xorshift32), for reproducible payloads. */
export function prng(seed: number): (n: number) => Buffer {
  let x = seed >>> 0 || 1;
  return (n: number) => {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      b[i] = x & 0xff;
    }
    return b;
  };
}

/** Reads a stream to its end via events, without destroying it (unlike `for await`). */
export function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    stream.on('data', (c: Buffer) => parts.push(c));
    stream.once('end', () => resolve(Buffer.concat(parts)));
    stream.once('error', reject);
  });
}

/**
 * Writes `total` bytes of varied data (1 MiB blocks, each stamped with its index) to
 * `sock`, honouring backpressure, then ends it; returns the SHA-256 of what was sent.
 * `onBlock(i)` runs after block `i` is written (e.g. to inject faults).
 */
export async function sendBulk(sock: NodeJS.WritableStream & NodeJS.EventEmitter, total: number, onBlock?: (i: number) => void): Promise<string> {
  const block = randomBytes(1 << 20);
  const hash = createHash('sha256');
  let sent = 0;
  for (let i = 0; sent < total; i++) {
    const n = Math.min(block.length, total - sent);
    const chunk = Buffer.from(block.subarray(0, n));
    chunk.writeUInt32BE(i, 0);
    hash.update(chunk);
    sent += n;
    if (!sock.write(chunk)) await event(sock, 'drain', 60_000);
    onBlock?.(i);
  }
  sock.end();
  return hash.digest('hex');
}

/** Hashes everything `sock` delivers until its end. */
export function hashSink(sock: NodeJS.ReadableStream & NodeJS.EventEmitter): Promise<{ hash: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    let bytes = 0;
    sock.on('data', (d: Buffer) => {
      h.update(d);
      bytes += d.length;
    });
    sock.on('error', reject);
    sock.on('end', () => resolve({ hash: h.digest('hex'), bytes }));
  });
}

/** Resolves when `pred()` holds, checking every 5 ms; rejects after `ms`. */
export async function until(pred: () => boolean, ms: number, what: string): Promise<void> {
  await within(
    (async () => {
      while (!pred()) await new Promise((r) => setTimeout(r, 5));
    })(),
    ms,
    what,
  );
}

/** Accepts `n` sockets on `port` (connected with `connect`, default a plain connect) in order. */
export async function acceptN(
  p: StackPair,
  port: number,
  n: number,
  connect: () => Promise<VirtualSocket> = () => p.client.connect(p.address, port),
): Promise<Array<{ client: VirtualSocket; server: VirtualSocket }>> {
  const server = await p.server.listen(port);
  const out: Array<{ client: VirtualSocket; server: VirtualSocket }> = [];
  for (let i = 0; i < n; i++) {
    const accepted = event<[VirtualSocket]>(server, 'connection');
    const client = await connect();
    out.push({ client, server: (await accepted)[0] });
  }
  return out;
}

/** Runs `fn` and returns what it threw; fails when it does not throw. */
export function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to throw');
}
