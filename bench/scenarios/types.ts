/**
 * The contract of a benchmark scenario: its cases, the two child-process roles of a run,
 * and how its runs are summarized.
 * @packageDocumentation
 */
import type { Summary } from '../lib/stats.js';
import type { Chart } from '../report/svg.js';

/** Size profile: `full` (default), `quick` (--quick) or `tiny` (--tiny, for tests). */
export type Profile = 'full' | 'quick' | 'tiny';

/** JSON value (case parameters and targets cross process boundaries as JSON). */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Named numeric results a child reports for one run. */
export type Figures = Record<string, number>;

/** One case of a scenario. */
export interface CaseDef {
  /** Unique label within the scenario, e.g. `netchannel 4ch`. */
  label: string;
  /** Parameters given to both roles. */
  params: { [k: string]: Json };
}

/** The server child's part of one run. */
export interface ServerSide {
  /** Where the client connects. */
  target: Json;
  /** Called just before the client's measured phase. */
  start?(): Promise<void> | void;
  /** Called after the client's measured phase; returns server-side figures. */
  stop(): Promise<Figures> | Figures;
  /** Frees everything of this run. */
  teardown(): Promise<void>;
}

/** The client child's part of one run. */
export interface ClientSide {
  /** The measured phase. */
  run(): Promise<Figures>;
  /** Frees everything of this run. */
  teardown(): Promise<void>;
}

/** Raw figures of one run of one case. */
export interface RunRecord {
  scenario: string;
  case: string;
  /** 0 is the warm-up round when the profile has one. */
  round: number;
  warmup: boolean;
  /** Client wall time of the measured phase, ns. */
  wallNs: number;
  /** Client CPU (user + system) over the measured phase, µs. */
  clientCpuUs: number;
  /** Server CPU from start to stop, µs. */
  serverCpuUs: number;
  /** Server wall time from start to stop, ns. */
  serverWallNs: number;
  /** Busy cores of the whole host during the measured phase (os.cpus, 10 ms granularity). */
  hostBusyCores: number;
  /** hostBusyCores minus client and server cores: other programs (and unattributed kernel work). */
  otherCores: number;
  client: Figures;
  server: Figures;
  /** Set when the run failed (timeout, crash); the figures are then zero. */
  error?: string;
}

/** A compass line: one headline ratio against its goal. */
export interface CompassLine {
  /** Full line, e.g. `bulk: netchannel / raw net = 1.02 (goal >= 1.0)`, plus ` MISSED`. */
  text: string;
  value: number | null;
  goal: number;
  direction: '>=' | '<=';
  met: boolean;
}

/** Everything a scenario contributes to the report. */
export interface ScenarioReport {
  /** Markdown table. */
  header: string[];
  rows: string[][];
  /** Ratio lines under the table. */
  ratios: string[];
  /** Explanations under the table. */
  notes: string[];
  chart: Chart;
  compass: CompassLine[];
  /** Per case, per metric: median, min, max over the measured runs. */
  medians: Record<string, Record<string, Summary>>;
}

/** A scenario module. */
export interface Scenario {
  name: string;
  title: string;
  /** What it measures (one paragraph, markdown). */
  description: string;
  cases(profile: Profile): CaseDef[];
  /** Per-run time limit, ms. */
  timeoutMs(profile: Profile): number;
  /** Node options of the children. @default ['--expose-gc'] */
  execArgv?: string[];
  server(params: CaseDef['params']): Promise<ServerSide>;
  client(params: CaseDef['params'], target: Json): Promise<ClientSide>;
  report(records: readonly RunRecord[], cases: readonly CaseDef[]): ScenarioReport;
}
