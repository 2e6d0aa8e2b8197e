/**
 * The names and fixed parameters of every metric a `StackMetrics` registers (the
 * contract docs/metrics.md documents and a test checks).
 * @packageDocumentation
 */

/** Buckets of `netchannel_socket_handshake_seconds`: 50 µs to 1 s. */
export const HANDSHAKE_BUCKETS: readonly number[] = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
];

/** Distinct `code` label values of `netchannel_errors_total`; later new codes count as `OTHER`. */
export const MAX_ERROR_CODES = 32;

/** Every metric name `StackMetrics` registers. */
export const METRIC_NAMES: readonly string[] = [
  'netchannel_channel_queued_bytes',
  'netchannel_channel_sent_bytes_total',
  'netchannel_channel_received_bytes_total',
  'netchannel_channel_sent_frames_total',
  'netchannel_channel_received_frames_total',
  'netchannel_channel_busy_ratio',
  'netchannel_channel_up',
  'netchannel_channel_throughput_bytes_per_second',
  'netchannel_channel_srtt_seconds',
  'netchannel_channel_delivery_rate_bytes_per_second',
  'netchannel_channel_inflight_bytes',
  'netchannel_channel_stale',
  'netchannel_channel_stale_events_total',
  'netchannel_scheduler_decisions_total',
  'netchannel_channel_transport_events_total',
  'netchannel_channel_transport_value',
  'netchannel_channel_opens_total',
  'netchannel_channel_closes_total',
  'netchannel_sockets_open',
  'netchannel_socket_opens_total',
  'netchannel_socket_closes_total',
  'netchannel_socket_refusals_total',
  'netchannel_socket_handshake_seconds',
  'netchannel_socket_bytes_total',
  'netchannel_flow_control_stalls_total',
  'netchannel_hol_events_total',
  'netchannel_hol_active',
  'netchannel_socket_remaps_total',
  'netchannel_scaling_actions_total',
  'netchannel_worker_scaling_total',
  'netchannel_errors_total',
  'netchannel_limit_hits_total',
];

