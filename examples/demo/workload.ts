/**
 * The demo's workload, the same for netchannel and raw node:net: one bulk stream of
 * varied 1 MiB blocks (hashed) and one 4 KB ping-pong, both until `stop()`.
 * @packageDocumentation
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { Duplex } from 'node:stream';

/** What a workload run produced. */
export interface WorkloadResult {
  bytes: number;
  seconds: number;
  rtts: number[];
  hashOk: boolean;
}

/** Runs bulk on `bulk` and ping-pong on `ping` until `signal` fires. */
export async function runWorkload(bulk: Duplex, ping: Duplex, signal: AbortSignal, rtts: number[]): Promise<WorkloadResult> {
  const started = performance.now();
  const sentHash = createHash('sha256');
  let sentBytes = 0;
  const reply = (async () => {
    const parts: Buffer[] = [];
    for await (const c of bulk) parts.push(c as Buffer);
    return JSON.parse(Buffer.concat(parts).toString()) as { sha256: string; bytes: number };
  })();
  const pumpBulk = async (): Promise<void> => {
    const block = randomBytes(1 << 20);
    for (let i = 0; !signal.aborted; i++) {
      const chunk = Buffer.from(block);
      chunk.writeUInt32BE(i, 0);
      sentHash.update(chunk);
      sentBytes += chunk.length;
      if (!bulk.write(chunk)) await once(bulk, 'drain');
    }
    bulk.end();
  };
  const pingPong = async (): Promise<void> => {
    const msg = randomBytes(4096);
    let got = 0;
    let done: (() => void) | null = null;
    ping.on('data', (d: Buffer) => {
      got += d.length;
      if (got >= msg.length) done?.();
    });
    while (!signal.aborted) {
      const t0 = process.hrtime.bigint();
      got = 0;
      await new Promise<void>((resolve) => {
        done = resolve;
        ping.write(msg);
      });
      rtts.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
    ping.end();
  };
  await Promise.all([pumpBulk(), pingPong()]);
  const result = await reply;
  return { bytes: sentBytes, seconds: (performance.now() - started) / 1000, rtts, hashOk: result.sha256 === sentHash.digest('hex') && result.bytes === sentBytes };
}

/** The p-th percentile of an ascending array. */
export function pct(sorted: readonly number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : NaN;
}
