/**
 * Top self-time functions of V8 CPU profiles (`node --cpu-prof`, or
 * `bench/cli.js … --cpu-prof <dir>`):
 *
 *   node dist/bench/prof-top.js [--top 25] <file.cpuprofile | dir> …
 *
 * Prints, per profile, the functions that spent the most time themselves (not in
 * callees), as a share of the sampled time, with their script and line.
 * @packageDocumentation
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Command } from 'commander';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** Self time per function (name, script, line), µs, and the profile's total, µs. */
export function selfTimes(p: CpuProfile): { total: number; rows: Array<{ name: string; where: string; us: number }> } {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const us = new Map<string, { name: string; where: string; us: number }>();
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  let total = 0;
  for (let i = 0; i < samples.length; i++) {
    const node = byId.get(samples[i]!);
    // The delta before sample i+1 is the time sample i stood for.
    const dt = Math.max(0, deltas[i + 1] ?? 0);
    if (node === undefined) continue;
    total += dt;
    const cf = node.callFrame;
    const name = cf.functionName || '(anonymous)';
    const where = cf.url ? `${path.basename(cf.url)}:${cf.lineNumber + 1}` : '';
    const key = `${name} ${where}`;
    const row = us.get(key) ?? { name, where, us: 0 };
    row.us += dt;
    us.set(key, row);
  }
  return { total, rows: [...us.values()].sort((a, b) => b.us - a.us) };
}

async function files(args: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const a of args) {
    if ((await stat(a)).isDirectory()) out.push(...(await readdir(a)).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(a, f)));
    else out.push(a);
  }
  return out;
}

async function main(): Promise<void> {
  const program = new Command('prof-top')
    .argument('<profiles...>', '.cpuprofile files or directories of them')
    .option('--top <n>', 'rows per profile', (v) => Number.parseInt(v, 10), 25)
    .parse();
  const { top } = program.opts<{ top: number }>();
  for (const f of await files(program.args)) {
    const { total, rows } = selfTimes(JSON.parse(await readFile(f, 'utf8')) as CpuProfile);
    console.log(`\n${f}: ${(total / 1e6).toFixed(2)} s sampled`);
    for (const r of rows.slice(0, top)) console.log(`${((100 * r.us) / total).toFixed(1).padStart(5)}%  ${r.name}  ${r.where}`);
  }
}

await main();
