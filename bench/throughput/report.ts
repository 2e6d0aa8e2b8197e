/**
 * Per-run records of the throughput benchmark and the printed summary.
 * @packageDocumentation
 */
import { formatSummary, renderTable, summarize } from '../lib/stats.js';

/** Raw figures of one transfer. */
export interface RunRecord {
  /** Round number; 0 is the warm-up round. */
  round: number;
  warmup: boolean;
  /** Case label, e.g. `netchannel 4ch`. */
  case: string;
  bytes: number;
  /** Client wall time from first write to the server's reply, ns. */
  wallNs: number;
  /** Client CPU over the transfer, µs. */
  clientCpuUs: number;
  /** Server CPU from accept to reply, µs. */
  serverCpuUs: number;
  /** Server wall time from first to last byte, ns. */
  serverWallNs: number;
  /**
   * Busy cores of the whole host (all processes and the kernel, from os.cpus()) while
   * the client ran, 10 ms granularity: shows load from other programs.
   */
  hostBusyCores: number;
  /** Netchannel only: sender stalls on peer credit (flow-control window) during the transfer. */
  creditStalls: number | null;
}

/** Figures derived from a {@link RunRecord}. */
export interface Derived {
  gbitPerS: number;
  mbPerS: number;
  /** MB (10^6 B) per CPU-second, CPU of both processes summed. */
  mbPerCpuS: number;
  /** Client CPU / wall time (cores busy). */
  clientCores: number;
  /** Server CPU / wall time (cores busy). */
  serverCores: number;
  /** Host busy cores minus client and server cores: other programs (and unattributed kernel work). */
  otherCores: number;
}

/** Throughput and efficiency of one run (MB = 10^6 bytes). */
export function derive(r: RunRecord): Derived {
  return {
    gbitPerS: (r.bytes * 8) / r.wallNs,
    mbPerS: (r.bytes * 1e3) / r.wallNs,
    mbPerCpuS: r.bytes / (r.clientCpuUs + r.serverCpuUs),
    clientCores: (r.clientCpuUs * 1e3) / r.wallNs,
    serverCores: (r.serverCpuUs * 1e3) / r.wallNs,
    otherCores: Math.max(0, r.hostBusyCores - (r.clientCpuUs + r.serverCpuUs) * 1e3 / r.wallNs),
  };
}

/** One-line progress report of a run. */
export function progressLine(r: RunRecord): string {
  const d = derive(r);
  const tag = r.warmup ? 'warm-up' : `run ${r.round}`;
  return `${tag.padEnd(7)} ${r.case.padEnd(14)} ${(r.wallNs / 1e9).toFixed(3)} s  ${d.gbitPerS.toFixed(2)} Gbit/s  ${d.mbPerS.toFixed(0)} MB/s  ${d.mbPerCpuS.toFixed(0)} MB/CPU-s  (cpu client ${d.clientCores.toFixed(2)}, server ${d.serverCores.toFixed(2)}, other ${d.otherCores.toFixed(2)} cores)${r.creditStalls === null ? '' : `  credit stalls ${r.creditStalls}`}`;
}

/** Table of medians [min–max] per case, then ratio lines against `baseline` (if any). */
export function summaryText(records: readonly RunRecord[], cases: readonly string[], baseline: string | null): string {
  const measured = records.filter((r) => !r.warmup);
  const byCase = new Map(cases.map((c) => [c, measured.filter((r) => r.case === c).map(derive)]));
  const med = (c: string, k: keyof Derived): number => summarize(byCase.get(c)!.map((d) => d[k])).median;
  const rows = cases.map((c) => {
    const ds = byCase.get(c)!;
    const col = (k: keyof Derived, digits: number): string => formatSummary(summarize(ds.map((d) => d[k])), digits);
    return [c, String(ds.length), col('gbitPerS', 2), col('mbPerS', 0), col('mbPerCpuS', 0), col('clientCores', 2), col('serverCores', 2), col('otherCores', 2)];
  });
  const header = ['case', 'n', 'Gbit/s', 'MB/s', 'MB per CPU-s', 'client cores', 'server cores', 'other cores'];
  const lines = [renderTable(header, rows), '', 'medians [min–max]; MB = 10^6 B; CPU-s = client + server CPU seconds;', 'other cores = host busy cores (os.cpus) minus client and server, i.e. other load', ''];
  const other = summarize(measured.map((r) => derive(r).otherCores)).median;
  if (other > 0.25) lines.push(`WARNING: other programs kept ~${other.toFixed(2)} cores busy during the runs; figures are noisy`, '');
  for (const c of cases) {
    if (baseline === null || c === baseline) continue;
    const t = med(c, 'mbPerS') / med(baseline, 'mbPerS');
    const e = med(c, 'mbPerCpuS') / med(baseline, 'mbPerCpuS');
    lines.push(`${c} / ${baseline} throughput = ${t.toFixed(2)}x; per CPU-s = ${e.toFixed(2)}x`);
  }
  return lines.join('\n');
}
