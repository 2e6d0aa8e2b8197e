/**
 * results.md: machine line, compass lines, then one section per scenario with its
 * table, ratio lines, notes and chart.
 * @packageDocumentation
 */
import { machineLine } from '../lib/machine.js';
import { OTHER_LOAD_WARNING, otherLoadWarning, type Results } from './results.js';

function mdTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const cell = (s: string): string => s.replace(/\|/g, '\\|');
  const lines = [`| ${header.map(cell).join(' | ')} |`, `| ${header.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`];
  for (const r of rows) lines.push(`| ${r.map(cell).join(' | ')} |`);
  return lines.join('\n');
}

/** Renders results.md. */
export function renderMarkdown(res: Results): string {
  const out: string[] = [];
  out.push('# netchannel benchmarks', '');
  out.push(`Machine: ${machineLine(res.machine)}.`, '');
  const rounds = `${res.warmups} warm-up + ${res.runs} measured run${res.runs === 1 ? '' : 's'} per case`;
  out.push(`Profile \`${res.profile}\` (${rounds}); \`${res.command}\`; ${res.generatedAt}; wall time ${res.wallSeconds.toFixed(0)} s.`, '');
  out.push(`Other load: ${res.otherLoad.idleAtStartCores.toFixed(2)} cores before the first run, median ${res.otherLoad.medianDuringRunsCores.toFixed(2)} (max ${res.otherLoad.maxDuringRunsCores.toFixed(2)}) during the runs, above ${OTHER_LOAD_WARNING} cores in ${res.otherLoad.busyRuns} of ${res.otherLoad.measuredRuns} measured runs (host busy cores from os.cpus minus the two benchmark processes).`, '');
  const warn = otherLoadWarning(res.otherLoad);
  if (warn) out.push(`> **${warn}**`, '');
  out.push('Cells are `median [min–max]` over the measured runs; MB = 10^6 bytes; CPU-s = CPU seconds of client + server process. Server and client always run in separate processes on loopback.', '');
  out.push('## Compass', '', '```', ...res.compass.map((c) => c.text), '```', '');
  for (const s of Object.values(res.scenarios)) {
    out.push(`## ${s.name}: ${s.title}`, '', s.description, '');
    out.push(mdTable(s.report.header, s.report.rows), '');
    for (const r of s.report.ratios) out.push(`- ${r}`);
    if (s.report.ratios.length > 0) out.push('');
    for (const n of s.report.notes) out.push(`${n}`, '');
    out.push(`![${s.name}](${s.name}.svg)`, '');
  }
  return out.join('\n');
}
