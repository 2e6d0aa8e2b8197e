/**
 * netchannel: the NetChannel disaggregated network stack for Node.js.
 * @packageDocumentation
 */
export { createStack } from './stack/create-stack.js';
export { Stack, type ConnectOptions, type ListenOptions } from './stack/stack.js';
export type { StackOptions, SchedulerOptions } from './stack/options.js';
export * from './errors/index.js';
export { VirtualSocket, VirtualServer } from './vns/index.js';
export type { AppClass, Channel, ChannelEvents, ChannelStats } from './netdriver/channel.js';
export { defineDriver, type ChannelDriver, type ChannelListener, type ChannelOptions, type DriverFactory, type DriverComponents } from './netdriver/driver.js';
export {
  definePolicy,
  earliestCompletion,
  roundRobin,
  sourcePortHash,
  shortestQueue,
  dedicated,
  defineScaling,
  saturation,
  definePlacement,
  thresholdPlacement,
  type PolicyFactory,
  type SchedulingPolicy,
  type SegmentContext,
  type ChannelView,
  type RoundRobinOptions,
  type EarliestCompletionOptions,
  definePathManager,
  spreadPaths,
  type PathManager,
  type PathManagerFactory,
  type PathView,
  type PathPlan,
  type ScalingFactory,
  type ScalingPolicy,
  type ScalingSample,
} from './netscheduler/index.js';
export type { StackEvent, EventSink, LimitHitEvent, LimitName, ChannelStaleEvent, PathRejectedEvent, WorkerScalingEvent } from './events/index.js';
export { LIMIT_NAMES } from './events/index.js';
export { tcp, type TcpOptions } from './transports/tcp/index.js';
export { inWorkers, CopyPool, type WorkersOptions, type InWorkersOptions, type WorkerDialOptions, type HandoffMode } from './workers/index.js';
export { unix, type UnixOptions } from './transports/unix/index.js';
export { memory, MemoryNetwork, type MemoryOptions } from './transports/memory/index.js';
export { serveMetrics, withDefaultMetrics, type ServeMetricsOptions, type MetricsServer } from './metrics/index.js';
export { DIAGNOSTICS_CHANNELS, type DiagnosticsMessage } from './stack/diagnostics.js';
export { joinLatencyTrace, type LatencyTraceSnapshot, type SentSegment, type ReceivedSegment, type TracedSegment } from './netdriver/segment-trace.js';
export { ws, type WsOptions } from './transports/ws/index.js';
export { tls, type TlsOptions } from './transports/tls/index.js';
export { udp, type UdpOptions } from './transports/udp/index.js';
