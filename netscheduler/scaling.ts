/**
 * The channel-scaling contract: every control tick the controller hands the policy a
 * sample of one class's channels to one peer; the policy answers with the number of
 * channels that class should have. The controller applies bounds and adds or drains
 * channels.
 * @packageDocumentation
 */
import { InvalidArgumentError } from '../errors/index.js';
import type { AppClass } from '../netdriver/channel.js';
import { definePlugin, hasBrand, type PluginComponents, type PluginFactory } from './plugin.js';
import { positiveInt } from '../errors/validate.js';

/** One channel in a scaling sample. */
export interface ChannelSample {
  /** Channel id. */
  readonly id: number;
  /** Index within its class. */
  readonly index: number;
  /** Bytes queued for transmission now. */
  readonly txQueuedBytes: number;
  /** The channel's transmit high-water mark. */
  readonly txHighWaterMark: number;
  /** Bytes per second sent over the last tick. */
  readonly throughput: number;
}

/** What a scaling policy sees for one class of one peer. */
export interface ScalingSample {
  /** Class being scaled. */
  readonly appClass: AppClass;
  /** The class's usable channels. */
  readonly channels: readonly ChannelSample[];
  /** Times a segment found every channel full during the last tick. */
  readonly blockedWaits: number;
  /** Length of the tick in milliseconds. */
  readonly intervalMs: number;
  /** Configured bounds for the count. */
  readonly min: number;
  readonly max: number;
}

/** A channel-scaling policy (one instance per class per peer; may keep state). */
export interface ScalingPolicy {
  /** Short name for events and metrics (set from the factory's name). */
  readonly name: string;
  /** Desired channel count for the class; the controller clamps it to [min, max]. */
  decide(sample: ScalingSample): number;
}

/** Brand marking a function as a scaling-policy factory. */
export const SCALING_FACTORY: unique symbol = Symbol.for('netchannel.scaling-factory');

/** A scaling plug-in: `createStack({ scheduler: { scaling: saturation() } })`. */
export type ScalingFactory = PluginFactory<ScalingPolicy, typeof SCALING_FACTORY>;

/** Brands `create` as a scaling-policy factory named `name` (one instance per class per peer). */
export function defineScaling(name: string, create: (components: PluginComponents) => Omit<ScalingPolicy, 'name'>): ScalingFactory {
  return definePlugin(SCALING_FACTORY, 'scaling policy', name, create as (components: PluginComponents) => ScalingPolicy);
}

/** True when `value` was made by {@link defineScaling}. */
export function isScalingFactory(value: unknown): value is ScalingFactory {
  return hasBrand(value, SCALING_FACTORY);
}

/** Options of {@link saturation}. */
export interface SaturationOptions {
  /**
   * Consecutive saturated ticks before one channel is added.
   * @default 3
   */
  upAfter?: number;
  /**
   * Consecutive idle ticks before one channel is removed.
   * @default 20
   */
  downAfter?: number;
  /**
   * A tick is saturated when segments had to wait for room, or the mean queue
   * occupancy (queued / high-water mark) is at least this fraction.
   * @default 0.5
   */
  busyFraction?: number;
  /**
   * A tick is idle when the class sent less than this many bytes per second per channel.
   * @default 65536
   */
  idleBytesPerSecond?: number;
}

/**
 * Default scaling policy: add a channel after `upAfter` saturated ticks in a row,
 * remove one after `downAfter` idle ticks in a row; counters restart after each
 * change (hysteresis).
 */
export function saturation(options: SaturationOptions = {}): ScalingFactory {
  const upAfter = positiveInt('upAfter', options.upAfter, 3);
  const downAfter = positiveInt('downAfter', options.downAfter, 20);
  const busyFraction = options.busyFraction ?? 0.5;
  if (typeof busyFraction !== 'number' || !(busyFraction > 0 && busyFraction <= 1)) {
    throw new InvalidArgumentError(`options.busyFraction must be a number in (0, 1], got ${JSON.stringify(options.busyFraction)}`);
  }
  const idleBps = positiveInt('idleBytesPerSecond', options.idleBytesPerSecond, 64 * 1024);
  return defineScaling('saturation', () => {
    let busyTicks = 0;
    let idleTicks = 0;
    return {
      decide(s) {
        const n = s.channels.length;
        if (n === 0) return s.min;
        let occupancy = 0;
        let rate = 0;
        for (const c of s.channels) {
          occupancy += c.txQueuedBytes / c.txHighWaterMark;
          rate += c.throughput;
        }
        const busy = s.blockedWaits > 0 || occupancy / n >= busyFraction;
        const idle = !busy && rate < idleBps * n;
        busyTicks = busy ? busyTicks + 1 : 0;
        idleTicks = idle ? idleTicks + 1 : 0;
        if (busyTicks >= upAfter) {
          busyTicks = 0;
          return n + 1;
        }
        if (idleTicks >= downAfter) {
          idleTicks = 0;
          return n - 1;
        }
        return n;
      },
    };
  });
}
