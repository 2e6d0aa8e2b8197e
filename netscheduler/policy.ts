/**
 * The channel-selection contract: given one segment and the candidate channels,
 * pick the channel that carries it — or none, which makes the socket wait.
 * @packageDocumentation
 */
import { InvalidArgumentError } from '../errors/index.js';
import type { AppClass } from '../netdriver/channel.js';
import type { ChannelView } from '../netdriver/net-device.js';
import { brand, hasBrand } from './plugin.js';

export type { ChannelView } from '../netdriver/net-device.js';

/** One segment waiting for a channel. */
export interface SegmentContext<S = unknown> {
  /** Payload bytes of the segment (0 for control frames). */
  readonly bytes: number;
  /** Class of the virtual socket that sends it. */
  readonly appClass: AppClass;
  /** The socket's local virtual port. */
  readonly localPort: number;
  /** The socket's remote virtual port. */
  readonly remotePort: number;
  /** Per-socket state the policy created with {@link SchedulingPolicy.createFlowState}. */
  readonly state: S;
}

/**
 * A channel-selection policy. One instance serves one class of one stack; it must be
 * cheap (it runs once per segment) and should not allocate on the hot path.
 */
export interface SchedulingPolicy<S = unknown> {
  /** Short name for metrics and events, e.g. `round-robin`. */
  readonly name: string;
  /** Creates the per-socket state handed back in every {@link SegmentContext}. */
  createFlowState(localPort: number, remotePort: number): S;
  /**
   * Picks a channel for `segment` among `channels` (never empty), or returns
   * `undefined` when every acceptable channel is full: the socket then waits for a
   * channel to become writable and asks again. Never drop.
   */
  select(segment: SegmentContext<S>, channels: readonly ChannelView[]): ChannelView | undefined;
}

/** What a stack hands to policy factories. */
export interface PolicyComponents {
  /** Class the policy instance will serve. */
  readonly appClass: AppClass;
}

/** Brand marking a function as a policy factory. */
export const POLICY_FACTORY: unique symbol = Symbol.for('netchannel.policy-factory');

/** A policy plug-in: `createStack({ scheduler: { throughput: roundRobin() } })`. */
export interface PolicyFactory {
  (components: PolicyComponents): SchedulingPolicy;
  /** Name of the policy the factory builds. */
  readonly policyName: string;
  readonly [POLICY_FACTORY]: true;
}

/** Brands `create` as a policy factory; built-in and third-party policies both use it. */
export function definePolicy<S>(name: string, create: (components: PolicyComponents) => SchedulingPolicy<S>): PolicyFactory {
  return brand(POLICY_FACTORY, 'policy', name, create as (components: PolicyComponents) => SchedulingPolicy);
}

/** True when `value` was made by {@link definePolicy}. */
export function isPolicyFactory(value: unknown): value is PolicyFactory {
  return hasBrand(value, POLICY_FACTORY);
}

/** Validates a positive integer option, naming it in the error. */
export function positiveInt(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(Number.isInteger(value) || value === Infinity) || value <= 0) {
    throw new InvalidArgumentError(`options.${name} must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return value;
}
