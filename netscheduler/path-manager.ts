/**
 * The path-manager contract (multipath): given the addresses ("paths") a peer is
 * reached at, decide how many channels of each class go to each path. A plug-in like
 * the policies: `createStack({ scheduler: { paths: spreadPaths() } })`.
 * @packageDocumentation
 */
import { definePlugin, hasBrand, type PluginComponents, type PluginFactory } from './plugin.js';

/** One path to a peer as the path manager sees it. */
export interface PathView {
  /** The address dialed, e.g. `tcp://10.0.0.2:7000` or `unix:///run/app.sock`. */
  readonly address: string;
  /** Round-trip time measured on the path (its first channel's HELLO exchange), seconds. */
  readonly rtt: number;
  /**
   * True for a same-host path (a `unix://` address the dialer reached): the same-host
   * shortcut, preferred by the default manager.
   */
  readonly local: boolean;
}

/** Channels per path, per class (arrays index the paths given to {@link PathManager.plan}). */
export interface PathPlan {
  readonly throughput: readonly number[];
  readonly latency: readonly number[];
}

/** A path manager (one instance per stack). */
export interface PathManager {
  /** Short name (set from the factory's name). */
  readonly name: string;
  /**
   * Channel counts per path for `channels` throughput and latency channels in total.
   * Counts are clamped to ≥ 0; a path given no channel is not used.
   */
  plan(paths: readonly PathView[], channels: { readonly throughput: number; readonly latency: number }): PathPlan;
}

/** Brand marking a function as a path-manager factory. */
export const PATH_MANAGER_FACTORY: unique symbol = Symbol.for('netchannel.path-manager-factory');

/** A path-manager plug-in. */
export type PathManagerFactory = PluginFactory<PathManager, typeof PATH_MANAGER_FACTORY>;

/** Brands `create` as a path-manager factory named `name`. */
export function definePathManager(name: string, create: (components: PluginComponents) => Omit<PathManager, 'name'>): PathManagerFactory {
  return definePlugin(PATH_MANAGER_FACTORY, 'path manager', name, create as (components: PluginComponents) => PathManager);
}

/** True when `value` was made by {@link definePathManager}. */
export function isPathManagerFactory(value: unknown): value is PathManagerFactory {
  return hasBrand(value, PATH_MANAGER_FACTORY);
}

/** Spreads `n` channels over `k` slots, at least one each: `[ceil…, floor…]`. */
function spread(n: number, k: number): number[] {
  const total = Math.max(n, k);
  return Array.from({ length: k }, (_, i) => Math.floor(total / k) + (i < total % k ? 1 : 0));
}

/**
 * The default path manager: the throughput channels are spread over the paths (at
 * least one each), and the latency channels go to the lowest-RTT path. Same-host
 * shortcut: when some paths are local (`unix://` reached from this host), only those
 * are used.
 */
export function spreadPaths(): PathManagerFactory {
  return definePathManager('spread', () => ({
    plan(paths, channels) {
      const local = paths.filter((p) => p.local);
      const used = local.length > 0 ? local : paths;
      const counts = spread(channels.throughput, used.length);
      const throughput = paths.map((p) => (used.includes(p) ? counts[used.indexOf(p)]! : 0));
      let best = used[0]!;
      for (const p of used) if (p.rtt < best.rtt) best = p;
      const latency = paths.map((p) => (p === best ? channels.latency : 0));
      return { throughput, latency };
    },
  }));
}
