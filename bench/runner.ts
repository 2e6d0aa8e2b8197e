/**
 * Parent side of a scenario: spawns a server and a client child, runs every case for
 * the warm-up and measured rounds (rotating the case order each round to spread machine
 * noise), enforces a time limit per run (killing and respawning the children), and
 * returns one record per run.
 * @packageDocumentation
 */
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import type { RanMsg, SetupDoneMsg, SetupMsg, StoppedMsg } from './child.js';
import { ForkedChild } from './lib/child.js';
import { deadline } from './lib/deadline.js';
import type { CaseDef, Profile, RunRecord, Scenario } from './scenarios/types.js';

const CHILD = fileURLToPath(new URL('./child.js', import.meta.url));

/** How a scenario is run. */
export interface RunnerOptions {
  profile: Profile;
  warmups: number;
  runs: number;
  /** Per-run limit, ms; default from the scenario. */
  timeoutMs?: number;
  /** Only the cases whose label contains this text. */
  caseFilter?: string;
  /** Extra node flags for the children (e.g. `--cpu-prof`, `--trace-gc`). */
  childArgv?: string[];
  /** Called before each run. */
  onRunStart?(c: CaseDef, round: number): void;
  /** Called after each run (also failed ones). */
  onRunEnd?(r: RunRecord): void;
}

/** A case that fails this often is not run again in later rounds. */
const MAX_FAILURES = 2;

class Pair {
  readonly server: ForkedChild;
  readonly client: ForkedChild;
  constructor(execArgv: string[]) {
    this.server = new ForkedChild('server', CHILD, [], execArgv);
    this.client = new ForkedChild('client', CHILD, [], execArgv);
  }
  kill(): void {
    this.server.kill();
    this.client.kill();
  }
  shutdown(): Promise<unknown> {
    return Promise.all([this.server.shutdown(), this.client.shutdown()]);
  }
}

let live: Pair | null = null;
/** Kills the children of the scenario that is running (for SIGINT). */
export function killChildren(): void {
  live?.kill();
}

async function runOnce(p: Pair, sc: Scenario, c: CaseDef, round: number, warmup: boolean): Promise<RunRecord> {
  const setup = (role: 'server' | 'client', target?: SetupDoneMsg['target']): SetupMsg => ({ type: 'setup', scenario: sc.name, role, params: c.params, ...(target === undefined ? {} : { target }) });
  const s = await p.server.request<SetupDoneMsg, SetupMsg>(setup('server'), 'setup-done');
  await p.client.request<SetupDoneMsg, SetupMsg>(setup('client', s.target), 'setup-done');
  await p.server.request({ type: 'start' }, 'started');
  const ran = await p.client.request<RanMsg>({ type: 'run' }, 'ran');
  const stopped = await p.server.request<StoppedMsg>({ type: 'stop' }, 'stopped');
  await p.client.request({ type: 'teardown' }, 'torn-down');
  await p.server.request({ type: 'teardown' }, 'torn-down');
  const hostBusyCores = (ran.hostBusyMs * 1e6) / ran.wallNs;
  const ownCores = (ran.cpuUs * 1e3) / ran.wallNs + (stopped.cpuUs * 1e3) / stopped.wallNs;
  return {
    scenario: sc.name,
    case: c.label,
    round,
    warmup,
    wallNs: ran.wallNs,
    clientCpuUs: ran.cpuUs,
    serverCpuUs: stopped.cpuUs,
    serverWallNs: stopped.wallNs,
    hostBusyCores,
    otherCores: Math.min(os.cpus().length, Math.max(0, hostBusyCores - ownCores)),
    client: ran.figures,
    server: stopped.figures,
  };
}

/** The cases of `sc` that run: all, or those whose label contains `filter`. */
export function selectedCases(sc: Scenario, profile: Profile, filter: string | undefined): CaseDef[] {
  const all = sc.cases(profile);
  return filter === undefined ? all : all.filter((c) => c.label.includes(filter));
}

/** Runs every (selected) case of `sc`; never throws for a failing case (its records carry `error`). */
export async function runScenario(sc: Scenario, opts: RunnerOptions): Promise<RunRecord[]> {
  const cases = selectedCases(sc, opts.profile, opts.caseFilter);
  const limit = opts.timeoutMs ?? sc.timeoutMs(opts.profile);
  const execArgv = [...(sc.execArgv ?? ['--expose-gc']), ...(opts.childArgv ?? [])];
  const failures = new Map<string, number>();
  const records: RunRecord[] = [];
  const rounds = opts.warmups + opts.runs;
  try {
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < cases.length; k++) {
        const c = cases[(round + k) % cases.length]!;
        if ((failures.get(c.label) ?? 0) >= MAX_FAILURES) continue;
        const warmup = round < opts.warmups;
        opts.onRunStart?.(c, round);
        live ??= new Pair(execArgv);
        const pair = live;
        let rec: RunRecord;
        try {
          rec = await deadline(runOnce(pair, sc, c, round, warmup), limit, `${sc.name} / ${c.label} round ${round}`, () => pair.kill());
        } catch (err) {
          pair.kill();
          live = null;
          failures.set(c.label, (failures.get(c.label) ?? 0) + 1);
          const error = err instanceof Error ? err.message : String(err);
          rec = { scenario: sc.name, case: c.label, round, warmup, wallNs: 0, clientCpuUs: 0, serverCpuUs: 0, serverWallNs: 0, hostBusyCores: 0, otherCores: 0, client: {}, server: {}, error };
        }
        records.push(rec);
        opts.onRunEnd?.(rec);
      }
    }
  } finally {
    await live?.shutdown();
    live = null;
  }
  return records;
}
