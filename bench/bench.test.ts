import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = path.join(ROOT, 'dist/bench/cli.js');

/** Metrics that must be positive for every case (or for the cases `only` selects). */
const POSITIVE: Record<string, { key: string; only?: (label: string) => boolean }[]> = {
  bulk: [{ key: 'gbit' }, { key: 'mbcpu' }],
  overhead: [{ key: 'mbs' }, { key: 'mbcpu' }],
  rpc: [{ key: 'kops' }, { key: 'opscpu' }, { key: 'p50' }],
  isolation: [{ key: 'p50' }, { key: 'p99' }, { key: 'samples' }, { key: 'bulk', only: (l) => !l.includes('unloaded') }],
  'open-close': [{ key: 'rate' }, { key: 'percpu' }],
  'idle-memory': [{ key: 'count' }, { key: 'server' }, { key: 'client' }],
  udp: [
    { key: 'gbit', only: (l) => l.includes('bulk') },
    { key: 'cpugb', only: (l) => l.includes('bulk') },
    { key: 'kops', only: (l) => !l.includes('bulk') },
    { key: 'p99', only: (l) => !l.includes('bulk') },
  ],
};

interface ResultsJson {
  profile: string;
  machine: { cpus: number; node: string; kernel: string };
  otherLoad: { idleAtStartCores: number };
  compass: { text: string; value: number | null }[];
  scenarios: Record<string, { cases: { label: string }[]; runs: { error?: string }[]; report: { medians: Record<string, Record<string, { median: number; min: number; max: number }>> } }>;
}

/** Minimal well-formedness check: every tag closes in order. */
function wellFormed(xml: string): boolean {
  const stack: string[] = [];
  for (const m of xml.replace(/<\?xml[^>]*\?>/, '').matchAll(/<(\/?)([A-Za-z][\w:-]*)[^>]*?(\/?)>/g)) {
    const [, close, name, selfClose] = m;
    if (selfClose) continue;
    if (close) {
      if (stack.pop() !== name) return false;
    } else stack.push(name!);
  }
  return stack.length === 0;
}

describe('bench CLI (tiny configuration, real child processes)', () => {
  let out: string;
  beforeAll(async () => {
    out = await mkdtemp(path.join(tmpdir(), 'netchannel-bench-'));
  });
  afterAll(async () => {
    await rm(out, { recursive: true, force: true });
  });

  for (const scenario of Object.keys(POSITIVE)) {
    it(`${scenario}: writes results.json, results.md and ${scenario}.svg with sane figures`, async () => {
      const dir = path.join(out, scenario);
      const { stdout } = await run(process.execPath, [CLI, scenario, '--tiny', '--out', dir], { cwd: ROOT, timeout: 45_000, maxBuffer: 16 * 1024 * 1024 });
      const res = JSON.parse(await readFile(path.join(dir, 'results.json'), 'utf8')) as ResultsJson;
      expect(res.profile).toBe('tiny');
      expect(res.machine.cpus).toBeGreaterThan(0);
      expect(res.machine.node).toBe(process.version);
      expect(typeof res.otherLoad.idleAtStartCores).toBe('number');
      const sc = res.scenarios[scenario]!;
      expect(sc.runs.filter((r) => r.error !== undefined)).toEqual([]);
      for (const c of sc.cases) {
        const m = sc.report.medians[c.label];
        expect(m, c.label).toBeDefined();
        for (const { key, only } of POSITIVE[scenario]!) {
          if (only && !only(c.label)) continue;
          expect(m![key]!.median, `${c.label} ${key}`).toBeGreaterThan(0);
        }
      }
      for (const line of res.compass) {
        expect(line.text).toMatch(/^[a-z-]+: .+ = [\d.]+ \(goal [<>]= [\d.]+\)( MISSED)?$/);
        expect(line.value).not.toBeNull();
        expect(stdout).toContain(line.text);
      }
      const md = await readFile(path.join(dir, 'results.md'), 'utf8');
      expect(md).toContain(`## ${scenario}:`);
      expect(md).toMatch(/^\| case \| n \|/m);
      expect(md).toContain(`![${scenario}](${scenario}.svg)`);
      for (const line of res.compass) expect(md).toContain(line.text);
      const svg = await readFile(path.join(dir, `${scenario}.svg`), 'utf8');
      expect(svg).toMatch(/^<\?xml[^>]*\?>\s*<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
      expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
      expect(wellFormed(svg)).toBe(true);
      expect((svg.match(/<rect /g) ?? []).length).toBeGreaterThan(sc.cases.length);
    }, 50_000);
  }
});
