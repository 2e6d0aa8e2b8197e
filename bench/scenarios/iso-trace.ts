/**
 * The isolation scenario's latency trace: each child saves its stack's trace
 * (`latencyTrace: true`, netchannel cases) to a file and reports the file's number as
 * a figure; the parent joins client and server traces and puts per-stage percentiles
 * of both directions into the run's figures (the raw records would bloat
 * results.json). Stages as in `joinLatencyTrace`: queued (write → segment built),
 * send (built → transport accepted), wire (accepted → read at the peer), deliver (read
 * → pushed to the socket).
 * @packageDocumentation
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { joinLatencyTrace, type LatencyTraceSnapshot, type TracedSegment } from '../../index.js';
import { LatencyRecorder } from '../lib/histogram.js';
import { summarize } from '../lib/stats.js';
import { runsOf } from './summary.js';
import type { Figures, RunRecord } from './types.js';

const DIR = path.join(os.tmpdir(), `netchannel-bench-trace-${process.ppid}`);
const STAGES = ['queued', 'send', 'wire', 'deliver', 'total'] as const;
/** Figure naming the trace file of a run. */
export const TRACE_FIGURE = 'traceFile';

/** Writes `snap` to a file; its number goes into the run's figures as {@link TRACE_FIGURE}. */
export function saveTrace(snap: LatencyTraceSnapshot): number {
  mkdirSync(DIR, { recursive: true });
  const id = Math.floor(Math.random() * 2 ** 40);
  writeFileSync(path.join(DIR, `${id}.json`), JSON.stringify(snap));
  return id;
}

function loadTrace(dir: string, id: number | undefined): LatencyTraceSnapshot | undefined {
  if (id === undefined) return undefined;
  const file = path.join(dir, `${id}.json`);
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as LatencyTraceSnapshot;
  } catch {
    return undefined;
  } finally {
    rmSync(file, { force: true });
  }
}

/** p99 and max of `valuesMs`, µs. */
function tail(valuesMs: readonly number[]): { p99: number; max: number } {
  const rec = new LatencyRecorder();
  for (const v of valuesMs) rec.recordUs(v * 1000);
  const f = rec.figures();
  return { p99: f.p99Us, max: f.maxUs };
}

/** p50/p99/p99.9 of each stage, µs, as `<dir>.<stage>.<p>`; plus, for the slowest 0.1 % by total, the mean of each stage (`<dir>.tail.<stage>`). */
function stageFigures(dir: string, segs: readonly TracedSegment[]): Figures {
  const out: Figures = { [`${dir}.segments`]: segs.length };
  for (const st of STAGES) {
    const rec = new LatencyRecorder();
    for (const s of segs) if (s[st] !== undefined) rec.recordUs(s[st] * 1000);
    const f = rec.figures();
    out[`${dir}.${st}.p50`] = f.p50Us;
    out[`${dir}.${st}.p99`] = f.p99Us;
    out[`${dir}.${st}.p999`] = f.p999Us;
  }
  const slowest = [...segs].sort((a, b) => b.total - a.total).slice(0, Math.max(1, Math.ceil(segs.length / 1000)));
  for (const st of STAGES) out[`${dir}.tail.${st}`] = (slowest.reduce((a, s) => a + (s[st] ?? 0), 0) / slowest.length) * 1000;
  return out;
}

/**
 * Replaces the trace-file figures of each record by the joined per-stage figures
 * (`ping.*`: client to server, `pong.*`: back), in the client's figures. Runs in the
 * parent; `childPpid` is the parent's pid (the children's `process.ppid`).
 */
export function joinRunTraces(records: readonly RunRecord[], childPpid = process.pid): void {
  const dir = path.join(os.tmpdir(), `netchannel-bench-trace-${childPpid}`);
  for (const r of records) {
    const c = loadTrace(dir, r.client?.[TRACE_FIGURE]);
    const s = loadTrace(dir, r.server?.[TRACE_FIGURE]);
    if (r.client) delete r.client[TRACE_FIGURE];
    if (r.server) delete r.server[TRACE_FIGURE];
    if (c === undefined || s === undefined || !r.client) continue;
    Object.assign(r.client, stageFigures('ping', joinLatencyTrace(c, s)), stageFigures('pong', joinLatencyTrace(s, c)));
    const slices = tail([...s.rxSlicesMs, ...c.rxSlicesMs]);
    r.client['rxSlice.p99'] = slices.p99;
    r.client['rxSlice.max'] = slices.max;
  }
}

/** One line per direction: the median over the case's runs of each stage's p99.9, and where the slowest 0.1 % spent their time. */
export function traceLines(label: string, records: readonly RunRecord[]): string[] {
  const runs = runsOf(records, label).filter((r) => r.client['ping.segments'] !== undefined);
  if (runs.length === 0) return [];
  const med = (k: string): number => summarize(runs.map((r) => r.client[k] ?? NaN)).median;
  const lines = (['ping', 'pong'] as const).map((d) => {
    const p = STAGES.map((st) => `${st} ${med(`${d}.${st}.p999`).toFixed(0)}`).join(', ');
    const t = STAGES.map((st) => `${st} ${med(`${d}.tail.${st}`).toFixed(0)}`).join(', ');
    return `${label} trace, ${d === 'ping' ? 'client → server' : 'server → client'}: p99.9 µs per stage: ${p}; slowest 0.1 %, mean µs: ${t}`;
  });
  lines.push(`${label} trace: receive slice p99 ${med('rxSlice.p99').toFixed(0)} µs, max ${med('rxSlice.max').toFixed(0)} µs (median over runs)`);
  return lines;
}
