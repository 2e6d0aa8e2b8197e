/**
 * The paths of a peer session (multipath): which addresses its channels run over.
 * @packageDocumentation
 */
import type { AppClass } from '../netdriver/channel.js';
import type { NetDevice } from '../netdriver/net-device.js';

/** One path with its live channel count. */
export interface PathCount {
  /** The peer address dialed (or, for an accepted peer, the local address the channels arrived at). */
  readonly address: string;
  /** Live channels on it. */
  readonly channels: number;
}

/** Channel counts per path: every known (dialed) path, plus the addresses of the device's channels. */
export function pathCounts(device: NetDevice, knownPaths: readonly string[]): PathCount[] {
  const counts = new Map<string, number>(knownPaths.map((a) => [a, 0]));
  for (const dc of device.channels) {
    const address = dc.path ?? dc.channel.localAddress;
    counts.set(address, (counts.get(address) ?? 0) + 1);
  }
  return [...counts].map(([address, channels]) => ({ address, channels }));
}

/** The known path with the fewest channels of `appClass`, or undefined when none is known. */
export function leastUsedPath(device: NetDevice, knownPaths: readonly string[], appClass: AppClass): string | undefined {
  let best: string | undefined;
  let fewest = Infinity;
  for (const address of knownPaths) {
    let n = 0;
    for (const dc of device.channels) if (dc.appClass === appClass && dc.path === address) n++;
    if (n < fewest) {
      fewest = n;
      best = address;
    }
  }
  return best;
}
