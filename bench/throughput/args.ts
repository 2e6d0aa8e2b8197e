/**
 * Command-line options of `bench/throughput`.
 * @packageDocumentation
 */

/** Parsed options. */
export interface ThroughputArgs {
  /** Bytes per transfer. @default 1073741824 (1 GiB) */
  bytes: number;
  /** Measured rounds (after one warm-up round). @default 5 */
  runs: number;
  /** Netchannel throughput-channel counts to compare with raw net. @default [1, 4] */
  channels: number[];
  /** Size of the reusable random write block. @default 1048576 */
  block: number;
  /** Per-run timeout, ms. @default 120000 */
  timeoutMs: number;
  /** Write raw per-run figures here. @default null */
  json: string | null;
  /** Leave out the raw node:net baseline (e.g. to profile netchannel alone). @default false */
  noRaw: boolean;
  /** Run the children with `--cpu-prof` into this directory. @default null */
  cpuProf: string | null;
  /** Child role when forked (`server` | `client`), else null. */
  role: 'server' | 'client' | null;
  /** Print usage and exit. */
  help: boolean;
}

/** Usage text. */
export const USAGE = `usage: node dist/bench/throughput.js [options]
  --bytes N        bytes per transfer; suffix k/m/g = KiB/MiB/GiB (default 1g)
  --runs N         measured rounds after one warm-up round (default 5)
  --channels L     netchannel throughput-channel counts, comma list, or none (default 1,4)
  --block N        reusable write block size; suffixes as --bytes (default 1m)
  --timeout S      per-run timeout in seconds; kills children on expiry (default 120)
  --json FILE      write the raw per-run figures as JSON
  --no-raw         leave out the raw node:net baseline (no ratio lines)
  --cpu-prof DIR   run server and client children with node --cpu-prof into DIR`;

function size(name: string, v: string | undefined): number {
  const m = /^(\d+)([kmg]?)$/i.exec(v ?? '');
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m?.[2] ?? '').toLowerCase()];
  const n = m && mult ? Number(m[1]) * mult : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} must be a positive integer (suffix k/m/g allowed), got ${JSON.stringify(v)}`);
  return n;
}

/** Parses `argv` (without node and script). @throws Error naming the bad option. */
export function parseArgs(argv: readonly string[]): ThroughputArgs {
  const a: ThroughputArgs = { bytes: 1024 ** 3, runs: 5, channels: [1, 4], block: 1024 ** 2, timeoutMs: 120_000, json: null, noRaw: false, cpuProf: null, role: null, help: false };
  for (let i = 0; i < argv.length; i++) {
    const opt = argv[i]!;
    const val = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${opt} needs a value`);
      return v;
    };
    switch (opt) {
      case '--bytes': a.bytes = size(opt, val()); break;
      case '--block': a.block = size(opt, val()); break;
      case '--runs': a.runs = size(opt, val()); break;
      case '--timeout': a.timeoutMs = size(opt, val()) * 1000; break;
      case '--json': a.json = val(); break;
      case '--cpu-prof': a.cpuProf = val(); break;
      case '--no-raw': a.noRaw = true; break;
      case '--channels': {
        const v = val();
        a.channels = v === 'none' ? [] : v.split(',').map((s) => size(opt, s.trim()));
        if (a.channels.some((n) => n > 256)) throw new Error(`--channels entries must be 1-256, got ${JSON.stringify(v)}`);
        break;
      }
      case '--role': {
        const v = val();
        if (v !== 'server' && v !== 'client') throw new Error(`--role must be server or client, got ${JSON.stringify(v)}`);
        a.role = v;
        break;
      }
      case '-h':
      case '--help': a.help = true; break;
      default: throw new Error(`unknown option ${JSON.stringify(opt)}`);
    }
  }
  if (a.noRaw && a.channels.length === 0) throw new Error('--no-raw with --channels none leaves no case to run');
  return a;
}
