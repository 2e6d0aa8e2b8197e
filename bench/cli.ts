/**
 * The benchmark suite: `node dist/bench/cli.js <scenario|all> [--quick] [--json F] [--out DIR] [--runs N]`.
 *
 * Every case runs with its server and client in two separate child processes (CPU time
 * of both measured); one warm-up and 5 measured runs (quick: 3, smaller sizes); medians
 * and min/max. Writes results.json, results.md and one SVG chart per scenario, and ends
 * with the compass lines (headline ratios against their goals).
 * @packageDocumentation
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import cliProgress from 'cli-progress';
import { killOnInterrupt } from './lib/child.js';
import { machineInfo, machineLine } from './lib/machine.js';
import { renderTable } from './lib/stats.js';
import { renderMarkdown } from './report/markdown.js';
import { otherLoad, otherLoadWarning, type Results, type ScenarioResult } from './report/results.js';
import { renderSvg } from './report/svg.js';
import { killChildren, runScenario, selectedCases } from './runner.js';
import { SCENARIOS, scenarioByName } from './scenarios/index.js';
import type { Profile, RunRecord, Scenario } from './scenarios/types.js';

interface CliOptions {
  quick?: boolean;
  tiny?: boolean;
  json?: string;
  out: string;
  runs?: number;
  timeout?: number;
  case?: string;
  cpuProf?: string;
  nodeArgs?: string;
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

/** A progress reporter: a bar on a TTY, else one line per run on stderr. */
interface Progress {
  start(sc: Scenario, caseLabel: string, round: number): void;
  end(r: RunRecord): void;
  stop(): void;
}

function progress(total: number): Progress {
  let done = 0;
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      { stream: process.stderr, format: '{bar} {value}/{total} runs | {eta_formatted} left | {what}', hideCursor: true, clearOnComplete: true, etaBuffer: 20 },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { what: '' });
    return {
      start: (sc, c, round) => bar.update(done, { what: `${sc.name}: ${c} (round ${round})` }),
      end: () => bar.update(++done),
      stop: () => bar.stop(),
    };
  }
  return {
    start: () => {},
    end: (r) => {
      done++;
      const tag = r.warmup ? 'warm-up' : `run ${r.round}`;
      const what = r.error ? `FAILED: ${r.error.split('\n')[0]}` : `${(r.wallNs / 1e9).toFixed(2)} s`;
      process.stderr.write(`[${done}/${total}] ${r.scenario} / ${r.case} ${tag}: ${what}\n`);
    },
    stop: () => {},
  };
}

async function main(argv: string[]): Promise<number> {
  const program = new Command('bench')
    .description('netchannel benchmark suite: client and server in separate processes on loopback')
    .argument('<scenario>', `one of ${SCENARIOS.map((s) => s.name).join(', ')}, or all; or tunnel (wrk through netchannel tunnel against node:net and socat proxy pairs, bench/tunnel.ts); or scaling (a wire-protocol generator against a receiver inline and on channel workers, bench/scaling.ts)`)
    .option('--quick', '1 warm-up + 3 runs with smaller sizes')
    .addOption(new Option('--tiny', 'smoke test: 1 run, no warm-up, a few MiB, 1,000 sockets').hideHelp())
    .option('--json <file>', 'also write results.json to this file')
    .option('--out <dir>', 'output directory for results.json, results.md and the SVG charts', 'bench/results')
    .option('--runs <n>', 'measured runs per case (default 5; quick 3)', positiveInt)
    .option('--timeout <s>', 'per-run time limit in seconds (children are killed on expiry)', positiveInt)
    .option('--case <text>', 'run only the cases whose label contains this text (e.g. "netchannel 4ch")')
    .option('--cpu-prof <dir>', 'run the client and server children under node --cpu-prof, writing .cpuprofile files into this directory')
    .option('--node-args <flags>', 'extra node flags for the client and server children, space-separated (e.g. "--trace-gc")')
    .showHelpAfterError();
  program.parse(argv);
  const name = program.args[0]!;
  const o = program.opts<CliOptions>();
  if (name === 'tunnel') {
    // Its own topology (wrk and four processes), not the two-process scenario runner.
    const { tunnelBench } = await import('./tunnel.js');
    await tunnelBench({ runs: o.runs ?? (o.quick ? 3 : 5), seconds: o.quick ? 2 : 5 });
    return 0;
  }
  if (name === 'scaling') {
    // Its own topology too: the generator in this process, the receiver in a child.
    const { scalingBench } = await import('./scaling.js');
    await scalingBench({ rounds: o.runs ?? (o.quick ? 1 : 3), seconds: o.quick ? 2 : 4, json: o.json });
    return 0;
  }
  const scenarios = name === 'all' ? [...SCENARIOS] : [scenarioByName(name)];
  const profile: Profile = o.tiny ? 'tiny' : o.quick ? 'quick' : 'full';
  const warmups = profile === 'tiny' ? 0 : 1;
  const runs = o.runs ?? (profile === 'full' ? 5 : profile === 'quick' ? 3 : 1);
  const t0 = performance.now();

  killOnInterrupt(killChildren);
  const machine = await machineInfo(profile === 'tiny' ? 200 : 1000);
  console.log(`netchannel bench: ${scenarios.map((s) => s.name).join(', ')}; profile ${profile}, ${warmups} warm-up + ${runs} runs per case`);
  console.log(machineLine(machine));
  if (machine.otherLoadIdleCores > 0.25) console.log(`WARNING: other programs keep ~${machine.otherLoadIdleCores.toFixed(2)} cores busy before the benchmark starts; figures will be noisy`);

  const total = scenarios.reduce((n, s) => n + selectedCases(s, profile, o.case).length * (warmups + runs), 0);
  const bar = progress(total);
  const results: Results = {
    generatedAt: new Date().toISOString(),
    command: `node dist/bench/cli.js ${argv.slice(2).join(' ')}`.trim(),
    profile,
    warmups,
    runs,
    wallSeconds: 0,
    machine,
    otherLoad: otherLoad(machine.otherLoadIdleCores, []),
    compass: [],
    scenarios: {},
  };
  const outDir = path.resolve(o.out);
  await mkdir(outDir, { recursive: true });
  const all: RunRecord[] = [];
  let failed = 0;
  const text: string[] = [];
  try {
    for (const sc of scenarios) {
      const records = await runScenario(sc, {
        profile,
        warmups,
        runs,
        ...(o.timeout ? { timeoutMs: o.timeout * 1000 } : {}),
        ...(o.case !== undefined ? { caseFilter: o.case } : {}),
        childArgv: [...(o.cpuProf !== undefined ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(o.cpuProf)] : []), ...(o.nodeArgs?.split(' ').filter(Boolean) ?? [])],
        onRunStart: (c, round) => bar.start(sc, c.label, round),
        onRunEnd: (r) => bar.end(r),
      });
      all.push(...records);
      failed += records.filter((r) => r.error !== undefined).length;
      const cases = selectedCases(sc, profile, o.case);
      const { chart, ...report } = sc.report(records, cases);
      const result: ScenarioResult = { name: sc.name, title: sc.title, description: sc.description, cases, report, runs: records };
      results.scenarios[sc.name] = result;
      results.compass = Object.values(results.scenarios).flatMap((s) => s.report.compass);
      results.otherLoad = otherLoad(machine.otherLoadIdleCores, all);
      results.wallSeconds = (performance.now() - t0) / 1000;
      await writeFile(path.join(outDir, `${sc.name}.svg`), renderSvg(chart));
      await writeOutputs(results, outDir, o.json);
      text.push(`\n== ${sc.name}: ${sc.title}\n${renderTable(report.header, report.rows)}`, ...report.ratios);
    }
  } finally {
    bar.stop();
  }
  console.log(text.join('\n'));
  const warn = otherLoadWarning(results.otherLoad);
  if (warn) console.log(`\n${warn}`);
  console.log(`\nresults: ${path.relative(process.cwd(), outDir) || '.'}/results.{json,md} and ${scenarios.map((s) => `${s.name}.svg`).join(', ')}${o.json ? `; JSON also in ${o.json}` : ''}`);
  console.log(`wall time ${results.wallSeconds.toFixed(0)} s${failed > 0 ? `; ${failed} run(s) FAILED (see results.md)` : ''}\n`);
  for (const c of results.compass) console.log(c.text);
  return failed > 0 ? 1 : 0;
}

async function writeOutputs(res: Results, outDir: string, json: string | undefined): Promise<void> {
  const doc = JSON.stringify(res, null, 2) + '\n';
  await writeFile(path.join(outDir, 'results.json'), doc);
  await writeFile(path.join(outDir, 'results.md'), renderMarkdown(res));
  if (json) {
    await mkdir(path.dirname(path.resolve(json)), { recursive: true });
    await writeFile(json, doc);
  }
}

main(process.argv).then(
  (code) => process.exit(code),
  (err: unknown) => {
    killChildren();
    console.error(`bench failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  },
);
