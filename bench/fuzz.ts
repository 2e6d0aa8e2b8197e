/**
 * Standalone fuzzer for the security boundary (not run in CI):
 *   node --expose-gc dist/bench/fuzz.js [--inputs 1000000] [--seed 1] [--max-sockets 1024]
 * Each input is random or mutated-valid bytes. It goes through the frame decoder (whole
 * and split-DATA modes) and the HELLO decoder, and its decoded frames are delivered to a
 * live stack through a raw channel (NetDevice → session → virtual sockets). A crash is
 * any exception that is not a NetChannelError, any uncaught error, or a healthy socket
 * that stops echoing. Prints counts and heap usage over time.
 * @packageDocumentation
 */
import { parseArgs } from 'node:util';
import { createStack, NetChannelError, type VirtualSocket } from '../index.js';
import type { Channel } from '../netdriver/channel.js';
import { encodeFrame, FrameDecoder } from '../netdriver/codec.js';
import { controlFrame, FrameType, type Frame } from '../netdriver/frame.js';
import { decodeHello, helloAsDialer } from '../netdriver/hello.js';
import { memory, MemoryNetwork } from '../transports/memory/index.js';

const { values } = parseArgs({
  options: { inputs: { type: 'string', default: '1000000' }, seed: { type: 'string', default: '1' }, 'max-sockets': { type: 'string', default: '1024' } },
});
const INPUTS = Number(values.inputs);
let x = Number(values.seed) >>> 0 || 1;
const rnd = (): number => {
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  return (x >>> 0) / 2 ** 32;
};
const bytes = (n: number): Buffer => {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (rnd() * 256) | 0;
  return b;
};

/** A valid frame stream to mutate: SYNC, DATA, CREDIT, FIN, PING for plausible ports. */
function validStream(): Buffer {
  const src = 50000 + ((rnd() * 8) | 0);
  const frames: Frame[] = [
    controlFrame(FrameType.SYNC, src, 80, 0, 1 << 16),
    { ...controlFrame(FrameType.DATA, src, 80, (rnd() * 4096) | 0), payload: bytes((rnd() * 200) | 0) },
    controlFrame(FrameType.CREDIT, src, 80, (rnd() * 2 ** 32) >>> 0, (rnd() * 2 ** 32) >>> 0, (rnd() * 32) | 0),
    controlFrame(rnd() < 0.5 ? FrameType.FIN : FrameType.RST, src, 80, (rnd() * 4096) | 0, (rnd() * 6) | 0),
    { ...controlFrame(FrameType.PING, 0, 0), payload: bytes(8) },
  ];
  return Buffer.concat(frames.map(encodeFrame));
}

function input(): Buffer {
  const r = rnd();
  if (r < 0.3) return bytes((rnd() * 512) | 0);
  const b = validStream();
  const flips = 1 + ((rnd() * 4) | 0);
  for (let i = 0; i < flips; i++) b[(rnd() * b.length) | 0] = (rnd() * 256) | 0;
  return r < 0.6 ? b : b.subarray(0, (rnd() * b.length) | 0);
}

let crashes = 0;
const crash = (where: string, err: unknown): void => {
  crashes++;
  if (crashes <= 10) console.error(`CRASH in ${where}:`, err);
};
process.on('uncaughtException', (err) => crash('uncaughtException', err));
process.on('unhandledRejection', (err) => crash('unhandledRejection', err));

const network = new MemoryNetwork();
const transports = [memory({ network })];
// Fuzzed SYNCs open real sockets; the per-peer limit is what keeps memory bounded.
const server = await createStack({ transports, listen: ['memory://fuzz'], window: 1 << 16, maxSocketsPerPeer: Number(values['max-sockets']) });
(await server.listen(80)).on('connection', (s: VirtualSocket) => s.on('error', () => {}).pipe(s));
const client = await createStack({ transports, channels: { throughput: 1, latency: 0 } });
const healthy = await client.connect(server.addresses[0]!, 80);
const driver = memory({ network })({ hostId: 'fa'.repeat(16) });

/** A raw channel that completed its HELLO and discards whatever the stack answers. */
async function openAttacker(): Promise<Channel> {
  const ch = await driver.dial(server.addresses[0]!);
  await helloAsDialer(ch, { hostId: 'fb'.repeat(16), appClass: 'throughput', index: 0 }, 2000);
  ch.on('readable', () => ch.dequeue());
  return ch;
}
let attacker = await openAttacker();
let channelsKilled = 0;

const heap = (): number => {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
};
const heapStart = heap();
const t0 = performance.now();
const samples: string[] = [];
let frames = 0;
let rejected = 0;
for (let i = 0; i < INPUTS; i++) {
  const data = input();
  for (const split of [false, true]) {
    const dec = new FrameDecoder({ splitData: split, maxPayload: 4096 });
    try {
      // Feed in random chunks: exercises every reassembly path.
      let off = 0;
      const out: Frame[] = [];
      while (off < data.length) {
        const n = 1 + ((rnd() * 64) | 0);
        dec.push(data.subarray(off, off + n), out);
        off += n;
      }
      frames += out.length;
      if (!split) {
        for (const f of out) {
          if (f.type === FrameType.HELLO) {
            try {
              decodeHello(f, rnd() < 0.5);
            } catch (err) {
              if (!(err instanceof NetChannelError)) crash('decodeHello', err);
            }
          }
        }
        if (!attacker.destroyed) attacker.enqueue(out.filter((f) => f.type !== FrameType.HELLO || rnd() < 0.01));
      }
    } catch (err) {
      if (err instanceof NetChannelError) rejected++;
      else crash('FrameDecoder', err);
    }
  }
  if (attacker.destroyed) {
    channelsKilled++;
    attacker = await openAttacker();
  }
  if (i % 200 === 199) await new Promise((r) => setImmediate(r)); // let the stack process
  if (i % 100_000 === 99_999 || i === INPUTS - 1) {
    const echoed = new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), 5000);
      healthy.once('data', () => {
        clearTimeout(t);
        resolve(true);
      });
    });
    healthy.write('ok');
    if (!(await echoed)) crash('healthy socket', new Error('stopped echoing'));
    const open = [...server.peers.values()].reduce((a, p) => a + p.sockets.size, 0);
    samples.push(`${i + 1}: heap ${(heap() / 2 ** 20).toFixed(1)} MiB, ${open} sockets open`);
  }
}
const seconds = (performance.now() - t0) / 1000;
const heapEnd = heap();
console.log(`fuzz: ${INPUTS} inputs in ${seconds.toFixed(1)} s; ${frames} frames decoded, ${rejected} inputs rejected with a NetChannelError, ${channelsKilled} attacker channels closed by the stack`);
console.log(`heap: start ${(heapStart / 2 ** 20).toFixed(1)} MiB, end ${(heapEnd / 2 ** 20).toFixed(1)} MiB; ${samples.join('; ')}`);
console.log(`crashes: ${crashes}`);
healthy.destroy();
await client.close();
await server.close();
process.exit(crashes === 0 ? 0 : 1);
