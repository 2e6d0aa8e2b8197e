/**
 * The results document (results.json) and the derived other-load figures.
 * @packageDocumentation
 */
import { summarize } from '../lib/stats.js';
import type { MachineInfo } from '../lib/machine.js';
import type { CaseDef, CompassLine, Profile, RunRecord, ScenarioReport } from '../scenarios/types.js';

/** Other programs' load above which the results are flagged as noisy, cores. */
export const OTHER_LOAD_WARNING = 0.25;

/** One scenario in results.json. */
export interface ScenarioResult {
  name: string;
  title: string;
  description: string;
  cases: CaseDef[];
  report: Omit<ScenarioReport, 'chart'>;
  /** Every run, warm-up included. */
  runs: RunRecord[];
}

/** Load of other programs on the machine. */
export interface OtherLoad {
  /** Sampled for 1 s before the first run, cores. */
  idleAtStartCores: number;
  /** Median and maximum over the measured runs of (host busy − client − server), cores. */
  medianDuringRunsCores: number;
  maxDuringRunsCores: number;
  /** Measured runs during which other programs kept more than {@link OTHER_LOAD_WARNING} cores busy, and all measured runs. */
  busyRuns: number;
  measuredRuns: number;
  /** True when the idle sample or the median exceeds {@link OTHER_LOAD_WARNING}, or a quarter of the runs did. */
  high: boolean;
}

/** results.json. */
export interface Results {
  generatedAt: string;
  command: string;
  profile: Profile;
  warmups: number;
  runs: number;
  wallSeconds: number;
  machine: MachineInfo;
  otherLoad: OtherLoad;
  compass: CompassLine[];
  scenarios: Record<string, ScenarioResult>;
}

/** Other-load figures from the idle sample and all measured runs. */
export function otherLoad(idle: number, records: readonly RunRecord[]): OtherLoad {
  const during = records.filter((r) => !r.warmup && r.error === undefined).map((r) => r.otherCores);
  const s = during.length > 0 ? summarize(during) : { median: 0, max: 0 };
  const round = (v: number): number => Math.round(v * 100) / 100;
  const busyRuns = during.filter((c) => c > OTHER_LOAD_WARNING).length;
  return { idleAtStartCores: round(idle), medianDuringRunsCores: round(s.median), maxDuringRunsCores: round(s.max), busyRuns, measuredRuns: during.length, high: Math.max(idle, s.median) > OTHER_LOAD_WARNING || (during.length > 0 && busyRuns >= during.length / 4) };
}

/** The warning line for a high other load, or null. */
export function otherLoadWarning(o: OtherLoad): string | null {
  if (!o.high) return null;
  return `WARNING: other programs were busy on this machine: ${o.idleAtStartCores.toFixed(2)} cores before the first run, median ${o.medianDuringRunsCores.toFixed(2)} (max ${o.maxDuringRunsCores.toFixed(2)}) during the runs, more than ${OTHER_LOAD_WARNING} cores in ${o.busyRuns} of ${o.measuredRuns} runs; figures are noisy`;
}
