/**
 * The copy-placement contract: for one copy request (part of a large write or read),
 * choose a copy worker or run it inline. Used by the multi-core data path.
 * @packageDocumentation
 */
import type { AppClass } from '../netdriver/channel.js';
import { definePlugin, hasBrand, type PluginComponents, type PluginFactory } from './plugin.js';
import { positiveInt } from '../errors/validate.js';

/** A copy worker as a placement policy sees it. */
export interface CopyWorkerView {
  /** Worker id. */
  readonly id: number;
  /** Bytes of copy work queued on the worker. */
  readonly queuedBytes: number;
}

/** One copy request. */
export interface CopyRequest {
  /** Bytes to copy. */
  readonly bytes: number;
  /** Bytes of the same write already seen before this part. */
  readonly offsetInWrite: number;
  /** Class of the socket. */
  readonly appClass: AppClass;
  /** Copy bytes currently in flight on all workers. */
  readonly inflightBytes: number;
}

/** A copy-placement policy. */
export interface CopyPlacementPolicy {
  /** Short name. */
  readonly name: string;
  /** A worker to copy on, or `'inline'` to copy on the calling thread. */
  place(request: CopyRequest, workers: readonly CopyWorkerView[]): CopyWorkerView | 'inline';
}

/** Brand marking a function as a copy-placement factory. */
export const PLACEMENT_FACTORY: unique symbol = Symbol.for('netchannel.placement-factory');

/** A copy-placement plug-in (instances serve the throughput class). */
export type PlacementFactory = PluginFactory<CopyPlacementPolicy, typeof PLACEMENT_FACTORY>;

/** Brands `create` as a copy-placement factory named `name`. */
export function definePlacement(name: string, create: (components: PluginComponents) => Omit<CopyPlacementPolicy, 'name'>): PlacementFactory {
  return definePlugin(PLACEMENT_FACTORY, 'placement policy', name, create as (components: PluginComponents) => CopyPlacementPolicy);
}

/** True when `value` was made by {@link definePlacement}. */
export function isPlacementFactory(value: unknown): value is PlacementFactory {
  return hasBrand(value, PLACEMENT_FACTORY);
}

/** Options of {@link thresholdPlacement} (reference-module defaults). */
export interface ThresholdPlacementOptions {
  /** Copy inline until a write has reached this many bytes. @default 63488 */
  offloadAfter?: number;
  /** Skip workers with this many queued bytes or more. @default 655360 */
  workerQueueThreshold?: number;
  /** Copy inline while this many bytes are in flight on workers. @default 751616 */
  maxInflight?: number;
}

/**
 * Default placement: latency data and the first `offloadAfter` bytes of a write are
 * copied inline; later parts go to the least-loaded worker under its threshold.
 */
export function thresholdPlacement(options: ThresholdPlacementOptions = {}): PlacementFactory {
  const offloadAfter = positiveInt('offloadAfter', options.offloadAfter, 62 * 1024);
  const workerQueueThreshold = positiveInt('workerQueueThreshold', options.workerQueueThreshold, 640 * 1024);
  const maxInflight = positiveInt('maxInflight', options.maxInflight, 734 * 1024);
  return definePlacement('threshold-placement', () => ({
    place(req, workers) {
      if (req.appClass === 'latency' || req.offsetInWrite < offloadAfter || req.inflightBytes >= maxInflight) return 'inline';
      let best: CopyWorkerView | undefined;
      for (const w of workers) if (w.queuedBytes < workerQueueThreshold && (!best || w.queuedBytes < best.queuedBytes)) best = w;
      return best ?? 'inline';
    },
  }));
}
