/**
 * Machine description and the load other programs put on it.
 * @packageDocumentation
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { sleep } from './deadline.js';
import { hostBusyMs } from './host.js';

/** Where the benchmark ran. */
export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  node: string;
  platform: string;
  kernel: string;
  totalMemGiB: number;
  /** 1, 5 and 15 minute load averages at the start. */
  loadAvg: number[];
  /** `ulimit -n` of the benchmark processes (bounds the idle TCP socket count), or null. */
  openFilesLimit: number | null;
  /** Cores kept busy by other programs while nothing of the benchmark ran (1 s sample). */
  otherLoadIdleCores: number;
}

/** `ulimit -n` (soft limit on open files), or null when it cannot be read. */
export function openFilesLimit(): number | null {
  try {
    const v = execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8', timeout: 5000 }).trim();
    return v === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number.parseInt(v, 10) || null;
  } catch {
    return null;
  }
}

/** Busy cores of the whole host over `ms` (nothing of ours running). */
export async function sampleHostLoad(ms = 1000): Promise<number> {
  const b0 = hostBusyMs();
  const t0 = performance.now();
  await sleep(ms);
  return (hostBusyMs() - b0) / (performance.now() - t0);
}

/** Describes the machine; samples the idle load for `sampleMs`. */
export async function machineInfo(sampleMs = 1000): Promise<MachineInfo> {
  const cpu = os.cpus();
  return {
    cpus: cpu.length,
    cpuModel: cpu[0]?.model.trim() ?? '?',
    node: process.version,
    platform: os.platform(),
    kernel: os.release(),
    totalMemGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    loadAvg: os.loadavg().map((l) => Math.round(l * 100) / 100),
    openFilesLimit: openFilesLimit(),
    otherLoadIdleCores: Math.round((await sampleHostLoad(sampleMs)) * 100) / 100,
  };
}

/** One line describing the machine, for tables and logs. */
export function machineLine(m: MachineInfo): string {
  return `${m.cpus} x ${m.cpuModel}, ${m.totalMemGiB} GiB, ${m.platform} ${m.kernel}, node ${m.node}; other load at start ${m.otherLoadIdleCores.toFixed(2)} cores (load avg ${m.loadAvg.join(' ')})`;
}
