/**
 * Observability: Prometheus metrics of a stack (prom-client) and a scrape endpoint.
 * See docs/metrics.md.
 * @packageDocumentation
 */
export {
  StackMetrics,
  HANDSHAKE_BUCKETS,
  MAX_ERROR_CODES,
  METRIC_NAMES,
  type StackMetricsOptions,
  type MetricsSource,
  type PeerLike,
  type DeviceChannelLike,
  type ChannelLike,
  type SocketLike,
} from './stack-metrics.js';
export {
  isMetricsRegistry,
  DEFAULT_PROCESS_METRICS_PREFIX,
  type MetricsRegistry,
  type ProcessMetricsOptions,
} from './registry.js';
export { serveMetrics, withDefaultMetrics, DEFAULT_METRICS_PORT, type ServeMetricsOptions, type MetricsServer } from './serve.js';
