/**
 * The registry a stack's metrics go to, checked by shape rather than `instanceof`, so
 * a registry from the application's own prom-client copy (another major version, e.g.
 * 14, or a second install in node_modules) is accepted; and the options of the
 * opt-in process metrics.
 * @packageDocumentation
 */
import { InvalidArgumentError } from '../errors/index.js';

/**
 * What netchannel uses of a prom-client `Registry` (prom-client 14 and 15 have it).
 * Any prom-client `Registry` is one.
 */
export interface MetricsRegistry {
  /** The exposition in the Prometheus text format. */
  metrics(): Promise<string>;
  /** The content type of {@link MetricsRegistry.metrics}. */
  readonly contentType: string;
  /** Adds a metric (prom-client calls it from a metric's constructor). */
  registerMetric(metric: never): void;
  /** The metric of that name, if registered. */
  getSingleMetric(name: string): unknown;
  /** Removes the metric of that name. */
  removeSingleMetric(name: string): void;
}

/** Default prefix of {@link ProcessMetricsOptions.prefix}: none, so the names are prom-client's standard ones. */
export const DEFAULT_PROCESS_METRICS_PREFIX = '';

/** Options of the opt-in process metrics (prom-client's `collectDefaultMetrics`). */
export interface ProcessMetricsOptions {
  /**
   * Put before every standard name: `''` gives `process_cpu_seconds_total`,
   * `nodejs_eventloop_lag_seconds`…; `'app_'` gives `app_process_cpu_seconds_total`.
   * @default ''
   */
  prefix?: string;
}

const PREFIX = /^$|^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** True when `value` has the shape of a prom-client `Registry` ({@link MetricsRegistry}). */
export function isMetricsRegistry(value: unknown): value is MetricsRegistry {
  if (value === null || typeof value !== 'object') return false;
  const r = value as Record<string, unknown>;
  return (
    typeof r.metrics === 'function' &&
    typeof r.registerMetric === 'function' &&
    typeof r.getSingleMetric === 'function' &&
    typeof r.removeSingleMetric === 'function' &&
    typeof r.contentType === 'string'
  );
}

/**
 * Returns `value` when it is a registry by shape.
 * @throws InvalidArgumentError naming `name` otherwise.
 */
export function checkRegistry<R extends MetricsRegistry>(value: unknown, name: string): R {
  if (isMetricsRegistry(value)) return value as R;
  throw new InvalidArgumentError(
    `${name} must be a prom-client Registry (an object with metrics(), registerMetric(), getSingleMetric(), removeSingleMetric() and contentType), got ${describe(value)}`,
  );
}

/**
 * Checks a metric-name prefix.
 * @throws InvalidArgumentError naming `name` and the value.
 */
export function checkPrefix(value: unknown, name: string): string {
  if (typeof value === 'string' && PREFIX.test(value)) return value;
  throw new InvalidArgumentError(`${name} must be '' or a valid metric-name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*), got ${JSON.stringify(value)}`);
}

/**
 * Resolves the stack option `metrics.defaultMetrics`: `false`/absent = off, `true` =
 * standard names, `{ prefix }` = standard names under `prefix`.
 * @throws InvalidArgumentError naming the option.
 */
export function resolveProcessMetrics(value: unknown, name = 'options.metrics.defaultMetrics'): { prefix: string } | null {
  if (value === undefined || value === false) return null;
  if (value === true) return { prefix: DEFAULT_PROCESS_METRICS_PREFIX };
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const prefix = (value as ProcessMetricsOptions).prefix;
    return { prefix: prefix === undefined ? DEFAULT_PROCESS_METRICS_PREFIX : checkPrefix(prefix, `${name}.prefix`) };
  }
  throw new InvalidArgumentError(`${name} must be a boolean or { prefix }, got ${JSON.stringify(value)}`);
}

function describe(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? typeof value;
  const ctor = (value as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof ctor === 'string' && ctor !== 'Object' ? `an instance of ${ctor}` : 'an object without that shape';
}
