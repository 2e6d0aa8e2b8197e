/**
 * Hand-off micro-benchmark: how fast frames cross between the main thread and a
 * worker thread with the two mechanisms of the channel workers, without sockets:
 *
 * - `transfer`: the frames of one tick are encoded into one ArrayBuffer (packFrames)
 *   and transferred with postMessage; the receiver splits it (parseBatch); progress
 *   comes back as ack messages.
 * - `shared`: frames are encoded into a SharedArrayBuffer byte ring (RingFrameWriter);
 *   the consumer is woken with Atomics.waitAsync and releases space; the main thread
 *   copies received bytes out of the ring and decodes them (FrameDecoder).
 *
 * Per mode and segment size (4 KiB, 256 KiB): tx throughput (main → worker), rx
 * throughput (worker → main), both with a 2 MiB in-flight window and per-tick batches
 * of ≤ 256 KiB; main-thread busy time per MiB (event-loop utilization); one-way
 * latency of a single frame (ping-pong round trip / 2). Every figure is the median of
 * `--runs` runs (default 5), each with a fresh worker.
 *
 * Usage: `npm run build && node dist/bench/handoff.js [--runs N] [--json FILE]`
 * @packageDocumentation
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { FrameDecoder } from '../netdriver/codec.js';
import { FrameType, HEADER_SIZE, type Frame } from '../netdriver/frame.js';
import { packFrames, parseBatch, wireBytes } from '../workers/batch.js';
import type { HandoffMode } from '../workers/protocol.js';
import { ByteRing } from '../workers/ring.js';
import { RingFrameWriter } from '../workers/ring-writer.js';

const WINDOW = 2 * 1024 * 1024;
const BATCH = 256 * 1024;
const RING = 1024 * 1024;

interface Boot {
  mode: HandoffMode;
  size: number;
  tx?: SharedArrayBuffer;
  rx?: SharedArrayBuffer;
}

type ToWorker = { k: 'tx'; b: ArrayBuffer } | { k: 'rxstart'; total: number } | { k: 'rxack'; n: number } | { k: 'ping'; b?: ArrayBuffer };
type ToMain = { k: 'ack'; n: number } | { k: 'rx'; b: ArrayBuffer } | { k: 'pong'; b?: ArrayBuffer } | { k: 'ready' };

function frame(payload: Buffer, seq: number): Frame {
  return { type: FrameType.DATA, flags: 0, src: 1, dst: 2, seq, ack: 0, payload };
}

/** Frames still to send: `left` payload bytes, cut into batches of ≤ BATCH wire bytes. */
class FrameSource {
  left = 0;
  private seq = 0;
  constructor(private readonly payload: Buffer) {}

  /** The next batch of frames and its wire size. */
  next(): { frames: Frame[]; bytes: number } {
    const frames: Frame[] = [];
    let bytes = 0;
    const size = this.payload.length;
    while (this.left > 0 && bytes < BATCH) {
      frames.push(frame(this.payload, this.seq++));
      bytes += HEADER_SIZE + size;
      this.left -= size;
    }
    return { frames, bytes };
  }
}

// ---- worker side -------------------------------------------------------------------

function workerMain(): void {
  const port = parentPort!;
  const boot = workerData as Boot;
  const payload = Buffer.alloc(boot.size, 7);
  const post = (m: ToMain, t: ArrayBuffer[] = []): void => port.postMessage(m, t);
  if (boot.mode === 'transfer') {
    let rxInflight = 0;
    const src = new FrameSource(payload);
    const produce = (): void => {
      while (src.left > 0 && rxInflight < WINDOW) {
        const { frames, bytes } = src.next();
        const b = packFrames(frames, bytes);
        rxInflight += bytes;
        post({ k: 'rx', b }, [b]);
      }
    };
    port.on('message', (m: ToWorker) => {
      if (m.k === 'tx') {
        const frames = parseBatch(m.b); // what a worker does before writing: nothing per byte
        post({ k: 'ack', n: wireBytes(frames) });
      } else if (m.k === 'rxstart') {
        src.left = m.total;
        produce();
      } else if (m.k === 'rxack') {
        rxInflight -= m.n;
        produce();
      } else if (m.k === 'ping') {
        const b = packFrames([frame(payload, 0)], HEADER_SIZE + boot.size);
        post({ k: 'pong', b }, [b]);
      }
    });
  } else {
    const txRing = new ByteRing(boot.tx!);
    const rxRing = new ByteRing(boot.rx!);
    const writer = new RingFrameWriter(rxRing);
    let pos = txRing.head;
    const src = new FrameSource(payload);
    let pingMode = false;
    let pingBytes = 0;
    // tx consumer: release whatever arrives (a real worker writes the views to its socket first).
    const consume = (): void => {
      const to = txRing.tail;
      const n = (to - pos) >>> 0;
      pos = to;
      txRing.release(to);
      if (pingMode && n > 0) {
        pingBytes += n;
        if (pingBytes >= HEADER_SIZE + boot.size) {
          pingBytes -= HEADER_SIZE + boot.size;
          writer.push([frame(payload, 0)]);
          writer.fill();
          writer.publish();
        }
      }
      txRing.when('data', () => txRing.tail !== pos, consume);
    };
    txRing.when('data', () => txRing.tail !== pos, consume);
    const produce = (): void => {
      while (src.left > 0) {
        if (writer.drained) writer.push(src.next().frames);
        const done = writer.fill();
        writer.publish();
        if (!done) {
          rxRing.when('space', () => writer.room > 0, produce);
          return;
        }
      }
      if (!writer.drained) {
        writer.fill();
        writer.publish();
        rxRing.when('space', () => writer.room > 0, produce);
      }
    };
    port.on('message', (m: ToWorker) => {
      if (m.k === 'rxstart') {
        src.left = m.total;
        produce();
      } else if (m.k === 'ping') {
        pingMode = true;
      }
    });
  }
  post({ k: 'ready' });
}

// ---- main side ---------------------------------------------------------------------

interface RunResult {
  txMBps: number;
  rxMBps: number;
  txMainUsPerMiB: number;
  rxMainUsPerMiB: number;
  latencyUs: number;
}

class Inbox {
  private waiters: Array<(m: ToMain) => void> = [];
  private queue: ToMain[] = [];
  onOther: ((m: ToMain) => void) | null = null;
  constructor(w: Worker) {
    w.on('message', (m: ToMain) => {
      if (this.onOther && (m.k === 'ack' || m.k === 'rx')) return this.onOther(m);
      const r = this.waiters.shift();
      if (r) r(m);
      else this.queue.push(m);
    });
  }
  next(): Promise<ToMain> {
    const m = this.queue.shift();
    return m ? Promise.resolve(m) : new Promise((r) => this.waiters.push(r));
  }
}

function busyUs(from: ReturnType<typeof performance.eventLoopUtilization>): number {
  return performance.eventLoopUtilization(from).active * 1000;
}

async function runOnce(mode: HandoffMode, size: number, total: number, pings: number, file: URL): Promise<RunResult> {
  const tx = mode === 'shared' ? ByteRing.allocate(RING) : undefined;
  const rx = mode === 'shared' ? ByteRing.allocate(RING) : undefined;
  const boot: Boot = { mode, size, ...(tx && { tx: tx.sab }), ...(rx && { rx: rx.sab }) };
  const worker = new Worker(file, { workerData: boot });
  const inbox = new Inbox(worker);
  await inbox.next(); // ready
  const payload = Buffer.alloc(size, 3);
  const mib = total / 2 ** 20;
  const result: RunResult = { txMBps: 0, rxMBps: 0, txMainUsPerMiB: 0, rxMainUsPerMiB: 0, latencyUs: 0 };
  try {
    // -- tx: main → worker
    {
      const elu = performance.eventLoopUtilization();
      const t0 = performance.now();
      await new Promise<void>((resolve) => {
        const src = new FrameSource(payload);
        src.left = total;
        if (mode === 'transfer') {
          let inflight = 0;
          const pump = (): void => {
            while (src.left > 0 && inflight < WINDOW) {
              const { frames, bytes } = src.next();
              const b = packFrames(frames, bytes);
              inflight += bytes;
              worker.postMessage({ k: 'tx', b } satisfies ToWorker, [b]);
            }
            if (src.left === 0 && inflight === 0) resolve();
          };
          inbox.onOther = (m) => {
            if (m.k === 'ack') inflight -= m.n;
            pump();
          };
          pump();
        } else {
          const writer = new RingFrameWriter(tx!);
          const pump = (): void => {
            while (src.left > 0 || !writer.drained) {
              if (writer.drained) writer.push(src.next().frames);
              const done = writer.fill();
              writer.publish();
              if (!done) {
                tx!.when('space', () => writer.room > 0, pump);
                return;
              }
            }
            tx!.when('space', () => writer.queuedBytes === 0, resolve);
          };
          pump();
        }
      });
      const dt = (performance.now() - t0) / 1000;
      result.txMBps = total / 1e6 / dt;
      result.txMainUsPerMiB = busyUs(elu) / mib;
      inbox.onOther = null;
    }
    // -- rx: worker → main
    {
      const elu = performance.eventLoopUtilization();
      const t0 = performance.now();
      await new Promise<void>((resolve) => {
        let got = 0;
        if (mode === 'transfer') {
          inbox.onOther = (m) => {
            if (m.k !== 'rx') return;
            const frames = parseBatch(m.b);
            for (const f of frames) got += f.payload.length;
            worker.postMessage({ k: 'rxack', n: m.b.byteLength } satisfies ToWorker);
            if (got >= total) resolve();
          };
        } else {
          const decoder = new FrameDecoder({ maxPayload: Math.max(size, 1024 * 1024), splitData: true });
          let pos = rx!.head;
          const drain = (): void => {
            for (;;) {
              const n = (rx!.tail - pos) >>> 0;
              if (n === 0) break;
              const take = Math.min(n, 256 * 1024);
              const buf = rx!.copyOut(pos, take);
              pos = (pos + take) >>> 0;
              rx!.release(pos);
              for (const f of decoder.push(buf)) got += f.payload.length;
            }
            if (got >= total) resolve();
            else rx!.when('data', () => rx!.tail !== pos, drain);
          };
          rx!.when('data', () => rx!.tail !== pos, drain);
        }
        worker.postMessage({ k: 'rxstart', total } satisfies ToWorker);
      });
      const dt = (performance.now() - t0) / 1000;
      result.rxMBps = total / 1e6 / dt;
      result.rxMainUsPerMiB = busyUs(elu) / mib;
      inbox.onOther = null;
    }
    // -- latency: one frame there and back
    {
      const samples: number[] = [];
      if (mode === 'transfer') {
        for (let i = 0; i < pings; i++) {
          const t0 = process.hrtime.bigint();
          const b = packFrames([frame(payload, i)], HEADER_SIZE + size);
          worker.postMessage({ k: 'ping', b } satisfies ToWorker, [b]);
          const m = await inbox.next();
          if (m.k === 'pong' && m.b) parseBatch(m.b);
          samples.push(Number(process.hrtime.bigint() - t0) / 2000);
        }
      } else {
        worker.postMessage({ k: 'ping' } satisfies ToWorker);
        await new Promise((r) => setTimeout(r, 20)); // let the worker switch to echo mode
        const writer = new RingFrameWriter(tx!);
        const decoder = new FrameDecoder({ maxPayload: Math.max(size, 1024 * 1024) });
        let pos = rx!.head;
        for (let i = 0; i < pings; i++) {
          const t0 = process.hrtime.bigint();
          writer.push([frame(payload, i)]);
          writer.fill();
          writer.publish();
          let frames = 0;
          while (frames === 0) {
            await new Promise<void>((r) => rx!.when('data', () => rx!.tail !== pos, r));
            const n = (rx!.tail - pos) >>> 0;
            const buf = rx!.copyOut(pos, n);
            pos = (pos + n) >>> 0;
            rx!.release(pos);
            frames += decoder.push(buf).length;
          }
          samples.push(Number(process.hrtime.bigint() - t0) / 2000);
        }
      }
      samples.sort((a, b) => a - b);
      result.latencyUs = samples[samples.length >> 1]!;
    }
  } finally {
    tx?.close();
    rx?.close();
    await worker.terminate();
  }
  return result;
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Median figures of one mode and segment size. */
export interface HandoffFigures extends RunResult {
  mode: HandoffMode;
  segment: number;
  runs: number;
}

/** Runs the benchmark; returns the medians per mode and segment size. */
export async function runHandoffBench(runs = 5, log: (s: string) => void = console.log): Promise<HandoffFigures[]> {
  const file = new URL(import.meta.url);
  const out: HandoffFigures[] = [];
  const sizes = [4096, 256 * 1024];
  const modes: HandoffMode[] = ['transfer', 'shared'];
  const all = new Map<string, RunResult[]>();
  for (let r = 0; r <= runs; r++) {
    // Rotate the order per round; round 0 is a warm-up.
    for (let k = 0; k < sizes.length * modes.length; k++) {
      const idx = (k + r) % (sizes.length * modes.length);
      const mode = modes[idx % modes.length]!;
      const size = sizes[Math.floor(idx / modes.length)]!;
      if (process.env.HANDOFF_ONLY && process.env.HANDOFF_ONLY !== `${mode}/${size}`) continue;
      const total = size === 4096 ? 64 * 2 ** 20 : 256 * 2 ** 20;
      const res = await runOnce(mode, size, total, size === 4096 ? 2000 : 500, file);
      if (r === 0) continue;
      const key = `${mode}/${size}`;
      all.set(key, [...(all.get(key) ?? []), res]);
      log(`run ${r} ${key.padEnd(16)} tx ${res.txMBps.toFixed(0)} MB/s  rx ${res.rxMBps.toFixed(0)} MB/s  main ${res.txMainUsPerMiB.toFixed(0)}/${res.rxMainUsPerMiB.toFixed(0)} µs/MiB  latency ${res.latencyUs.toFixed(1)} µs`);
    }
  }
  for (const size of sizes) {
    for (const mode of modes) {
      const rs = all.get(`${mode}/${size}`);
      if (!rs) continue;
      out.push({
        mode,
        segment: size,
        runs: rs.length,
        txMBps: median(rs.map((x) => x.txMBps)),
        rxMBps: median(rs.map((x) => x.rxMBps)),
        txMainUsPerMiB: median(rs.map((x) => x.txMainUsPerMiB)),
        rxMainUsPerMiB: median(rs.map((x) => x.rxMainUsPerMiB)),
        latencyUs: median(rs.map((x) => x.latencyUs)),
      });
    }
  }
  return out;
}

/** Renders the figures as a Markdown table. */
export function handoffTable(figs: readonly HandoffFigures[]): string {
  const rows = figs.map(
    (f) =>
      `| ${f.mode} | ${f.segment === 4096 ? '4 KiB' : '256 KiB'} | ${f.txMBps.toFixed(0)} | ${f.rxMBps.toFixed(0)} | ${f.txMainUsPerMiB.toFixed(0)} | ${f.rxMainUsPerMiB.toFixed(0)} | ${f.latencyUs.toFixed(1)} |`,
  );
  return [
    '| hand-off | segment | tx MB/s (main→worker) | rx MB/s (worker→main) | main busy µs/MiB tx | main busy µs/MiB rx | one-way latency µs |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
  ].join('\n');
}

async function cli(): Promise<void> {
  const args = process.argv.slice(2);
  const get = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const runs = Number(get('--runs') ?? 5);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got ${get('--runs')}`);
  const cpu = os.cpus();
  console.log(`hand-off bench: ${runs} runs (+1 warm-up), window ${WINDOW / 2 ** 20} MiB, batches ≤ ${BATCH / 1024} KiB, ring ${RING / 2 ** 20} MiB`);
  console.log(`node ${process.version}, ${cpu.length} x ${cpu[0]?.model.trim() ?? '?'}, load avg ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
  const figs = await runHandoffBench(runs);
  console.log(`\nmedians of ${runs} runs:\n${handoffTable(figs)}`);
  const json = get('--json');
  if (json) writeFileSync(json, JSON.stringify(figs, null, 2));
}

if (!isMainThread) workerMain();
else if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  cli().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
