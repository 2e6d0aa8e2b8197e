/**
 * Helpers scenarios use to turn run records into medians, table rows and compass lines.
 * @packageDocumentation
 */
import { formatSummary, summarize, type Summary } from '../lib/stats.js';
import type { CaseDef, CompassLine, RunRecord } from './types.js';

/** A figure derived from each run. */
export interface Metric {
  key: string;
  /** Column header. */
  label: string;
  digits: number;
  value(r: RunRecord): number;
}

/** Medians per case and metric, over measured (non-warm-up, successful) runs. */
export type Medians = Record<string, Record<string, Summary>>;

/** CPU seconds of both processes. */
export const cpuSeconds = (r: RunRecord): number => (r.clientCpuUs + r.serverCpuUs) / 1e6;

/** Standard CPU columns. */
export const CPU_METRICS: Metric[] = [
  { key: 'clientCores', label: 'client cores', digits: 2, value: (r) => (r.clientCpuUs * 1e3) / r.wallNs },
  { key: 'serverCores', label: 'server cores', digits: 2, value: (r) => (r.serverCpuUs * 1e3) / r.serverWallNs },
  { key: 'otherCores', label: 'other cores', digits: 2, value: (r) => r.otherCores },
];

/** Measured, successful runs of `label`. */
export function runsOf(records: readonly RunRecord[], label: string): RunRecord[] {
  return records.filter((r) => r.case === label && !r.warmup && r.error === undefined);
}

/** Summaries of every metric for every case that has successful runs. */
export function computeMedians(records: readonly RunRecord[], cases: readonly CaseDef[], metrics: readonly Metric[]): Medians {
  const out: Medians = {};
  for (const c of cases) {
    const runs = runsOf(records, c.label);
    if (runs.length === 0) continue;
    out[c.label] = Object.fromEntries(metrics.map((m) => [m.key, summarize(runs.map((r) => m.value(r)))]));
  }
  return out;
}

/** Median of `key` for case `label`, or null when the case has no successful run. */
export function med(m: Medians, label: string, key: string): number | null {
  return m[label]?.[key]?.median ?? null;
}

/** a / b, or null when either is missing or b is 0. */
export function ratio(a: number | null, b: number | null): number | null {
  return a === null || b === null || b === 0 ? null : a / b;
}

/** Table header and rows: case, n, then `median [min–max]` per metric (or the failure). */
export function tableOf(records: readonly RunRecord[], cases: readonly CaseDef[], metrics: readonly Metric[], m: Medians): { header: string[]; rows: string[][] } {
  const header = ['case', 'n', ...metrics.map((x) => x.label)];
  const rows = cases.map((c) => {
    const s = m[c.label];
    if (!s) {
      const err = records.find((r) => r.case === c.label && r.error !== undefined)?.error ?? 'no run';
      return [c.label, '0', `failed: ${err.split('\n')[0]!.slice(0, 60)}`, ...metrics.slice(1).map(() => '')];
    }
    const n = runsOf(records, c.label).length;
    const failed = records.filter((r) => r.case === c.label && r.error !== undefined).length;
    return [c.label, failed > 0 ? `${n} (+${failed} failed)` : String(n), ...metrics.map((x) => formatSummary(s[x.key]!, x.digits))];
  });
  return { header, rows };
}

/** Formats a ratio line `what = 1.23x`, or `what = n/a`. */
export function ratioLine(what: string, v: number | null, digits = 2): string {
  return `${what} = ${v === null ? 'n/a' : `${v.toFixed(digits)}x`}`;
}

/**
 * A compass line in the fixed style `name = value (goal >= g)`, with ` MISSED` appended
 * when the goal is not met (or the value could not be computed).
 */
export function compassLine(name: string, value: number | null, direction: '>=' | '<=', goal: number, goalText: string, digits = 2): CompassLine {
  const met = value !== null && (direction === '>=' ? value >= goal : value <= goal);
  const v = value === null ? 'n/a' : value.toFixed(digits);
  return { text: `${name} = ${v} (goal ${direction} ${goalText})${met ? '' : ' MISSED'}`, value, goal, direction, met };
}

/** Medians of `metrics` per case plus the table built from them: the start of every scenario report. */
export function summaryOf(records: readonly RunRecord[], cases: readonly CaseDef[], metrics: readonly Metric[]): { m: Medians; header: string[]; rows: string[][] } {
  const m = computeMedians(records, cases, metrics);
  return { m, ...tableOf(records, cases, metrics, m) };
}

/**
 * One line per case other than `base`: `<case> / <base> <what> = r; <perCpuWhat> = r`,
 * comparing the medians of `key` and of `perCpuKey`.
 */
export function ratiosAgainst(cases: readonly CaseDef[], m: Medians, base: string, what: string, key: string, perCpuWhat: string, perCpuKey: string): string[] {
  const r = (label: string, k: string): number | null => ratio(med(m, label, k), med(m, base, k));
  return cases
    .filter((c) => c.label !== base)
    .map((c) => `${ratioLine(`${c.label} / ${base} ${what}`, r(c.label, key))}; ${ratioLine(perCpuWhat, r(c.label, perCpuKey))}`);
}
