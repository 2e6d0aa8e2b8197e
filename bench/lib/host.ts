/**
 * Host-wide CPU accounting, to spot load from other programs during a measurement.
 * @packageDocumentation
 */
import os from 'node:os';

/** Busy CPU time of the whole host since boot, ms summed over cores (10 ms granularity). */
export function hostBusyMs(): number {
  return os.cpus().reduce((sum, c) => sum + c.times.user + c.times.nice + c.times.sys + c.times.irq, 0);
}
