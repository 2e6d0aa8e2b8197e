/**
 * The known keys of `createStack` options, one list per options object, checked before
 * validation so that a typo (`chanels`) is an error naming it instead of a silently
 * ignored option.
 * @packageDocumentation
 */
import { checkKnownKeys, type KnownKeys } from '../errors/validate.js';
import type { SchedulerOptions, StackOptions } from './stack-options.js';

/** Top-level keys of {@link StackOptions}. */
export const STACK_OPTION_KEYS = {
  listen: true,
  channels: true,
  transports: true,
  scheduler: true,
  hostId: true,
  window: true,
  sendBuffer: true,
  maxSegmentSize: true,
  maxFramePayload: true,
  channelTxHighWaterMark: true,
  channelRxHighWaterMark: true,
  allowHalfOpen: true,
  handshakeTimeout: true,
  connectTimeout: true,
  closeTimeout: true,
  maxPendingHandshakes: true,
  maxPendingHandshakesPerIp: true,
  handshakeFirstByteTimeout: true,
  helloTimeout: true,
  maxPeers: true,
  maxSessionsPerIp: true,
  maxSockets: true,
  maxSocketsPerIp: true,
  maxReorderBytes: true,
  memoryBudget: true,
  maxSocketsPerPeer: true,
  maxReorderBytesPerPeer: true,
  idleTimeout: true,
  zeroCopyWrites: true,
  latencyTrace: true,
  peerTimeout: true,
  lingerTimeout: true,
  keepaliveInterval: true,
  keepaliveTimeout: true,
  staleAfter: true,
  redialBackoff: true,
  auth: true,
  advertise: true,
  paths: true,
  workers: true,
  metrics: true,
} as const satisfies KnownKeys<StackOptions>;

/** Keys of {@link SchedulerOptions}. */
export const SCHEDULER_OPTION_KEYS = {
  throughput: true,
  latency: true,
  isolation: true,
  rxSliceBytes: true,
  rxSliceMs: true,
  throughputInflightCap: true,
  latencyActiveMs: true,
  txSliceBytes: true,
  interval: true,
  elastic: true,
  scaling: true,
  paths: true,
  holExpansion: true,
} as const satisfies KnownKeys<SchedulerOptions>;

/** Keys of the small nested option objects. */
const NESTED = {
  channels: { throughput: true, latency: true } satisfies KnownKeys<NonNullable<StackOptions['channels']>>,
  redialBackoff: { initial: true, max: true } satisfies KnownKeys<NonNullable<StackOptions['redialBackoff']>>,
  auth: { key: true } satisfies KnownKeys<NonNullable<StackOptions['auth']>>,
  metrics: { enabled: true, registry: true, defaultMetrics: true } satisfies KnownKeys<NonNullable<StackOptions['metrics']>>,
} as const;

/** Throws InvalidArgumentError for an unknown key anywhere in `o` (except `workers`, checked by its own resolver). */
export function checkStackOptionKeys(o: StackOptions): void {
  checkKnownKeys('options', o, STACK_OPTION_KEYS);
  checkKnownKeys('options.scheduler', o.scheduler, SCHEDULER_OPTION_KEYS);
  for (const [name, keys] of Object.entries(NESTED)) checkKnownKeys(`options.${name}`, o[name as keyof typeof NESTED], keys);
}
