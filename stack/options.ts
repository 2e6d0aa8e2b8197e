/**
 * Options of `createStack`, with validation and defaults.
 * @packageDocumentation
 */
import { randomBytes } from 'node:crypto';
import type { Registry } from 'prom-client';
import { checkRegistry, resolveProcessMetrics } from '../metrics/registry.js';
import { DEFAULT_TX_HIGH_WATER_MARK } from '../netdriver/base-channel.js';

/** The stack's default channel receive high-water mark (1 MiB, below the driver default): little read-ahead while the stack is behind. */
const CHANNEL_RX_HIGH_WATER_MARK = 1024 * 1024;
import { DEFAULT_MAX_PAYLOAD } from '../netdriver/codec.js';
import { DEFAULT_MAX_SEGMENT, DEFAULT_WINDOW } from '../vns/virtual-socket.js';
import { InvalidArgumentError } from '../errors/index.js';
import type { AppClass } from '../netdriver/channel.js';
import { isDriverFactory, type DriverFactory } from '../netdriver/driver.js';
import { dedicated } from '../netscheduler/dedicated.js';
import { isPolicyFactory, type PolicyFactory } from '../netscheduler/policy.js';
import { earliestCompletion } from '../netscheduler/earliest-completion.js';
import { isPathManagerFactory, spreadPaths, type PathManagerFactory } from '../netscheduler/path-manager.js';
import { MAX_ADVERTISED, MAX_ADVERTISED_LENGTH } from '../netdriver/hello.js';
import { isScalingFactory, saturation, type ScalingFactory } from '../netscheduler/scaling.js';
import { boolOption as bool, intOption as int, numberOption as num } from '../errors/validate.js';
import { checkStackOptionKeys } from './option-keys.js';
import type { StackOptions } from './stack-options.js';

export type { SchedulerOptions, StackOptions } from './stack-options.js';


/** Options after validation, every field set. */
export interface ResolvedStackOptions {
  listen: string[];
  channels: Record<AppClass, number>;
  transports: DriverFactory[];
  scheduler: {
    policies: Record<AppClass, PolicyFactory>;
    isolation: boolean;
    rxSliceBytes: number;
    rxSliceMs: number;
    throughputInflightCap: number;
    latencyActiveMs: number;
    txSliceBytes: number;
    interval: number;
    elastic: Partial<Record<AppClass, { min: number; max: number }>>;
    scaling: ScalingFactory;
    paths: PathManagerFactory;
    holExpansion: number;
  };
  hostId: string;
  window: number;
  sendBuffer: number;
  maxSegmentSize: number;
  maxFramePayload: number;
  channelTxHighWaterMark: number;
  channelRxHighWaterMark: number;
  allowHalfOpen: boolean;
  handshakeTimeout: number;
  connectTimeout: number;
  closeTimeout: number;
  maxPendingHandshakes: number;
  maxPendingHandshakesPerIp: number;
  handshakeFirstByteTimeout: number;
  helloTimeout: number;
  maxPeers: number;
  maxSessionsPerIp: number;
  maxSockets: number;
  maxSocketsPerIp: number;
  maxReorderBytes: number;
  memoryBudget: number;
  maxSocketsPerPeer: number;
  maxReorderBytesPerPeer: number;
  idleTimeout: number;
  zeroCopyWrites: boolean;
  latencyTrace: boolean;
  peerTimeout: number;
  lingerTimeout: number;
  keepaliveInterval: number;
  keepaliveTimeout: number;
  staleAfter: number;
  redialBackoff: { initial: number; max: number };
  metrics: { enabled: boolean; registry: Registry | undefined; defaultMetrics: { prefix: string } | null };
  authKey: Buffer | undefined;
  advertise: string[];
  paths: 'given' | 'advertised';
}



/** Validates `options.advertise` (count and lengths; the stack checks each with its driver). */
function checkAdvertise(v: unknown): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.length > MAX_ADVERTISED || v.some((a) => typeof a !== 'string' || a.length === 0 || Buffer.byteLength(a) > MAX_ADVERTISED_LENGTH || !a.includes('://'))) {
    throw new InvalidArgumentError(`options.advertise must be an array of at most ${MAX_ADVERTISED} address strings (scheme://…, 1-${MAX_ADVERTISED_LENGTH} bytes), got ${JSON.stringify(v)}`);
  }
  return [...v];
}

function checkPaths(v: unknown): 'given' | 'advertised' {
  if (v === undefined || v === 'given' || v === 'advertised') return v ?? 'given';
  throw new InvalidArgumentError(`options.paths must be 'given' or 'advertised', got ${JSON.stringify(v)}`);
}

function checkPathManager(v: unknown): PathManagerFactory {
  if (v === undefined) return spreadPaths();
  if (!isPathManagerFactory(v)) throw new InvalidArgumentError('options.scheduler.paths must be a path-manager factory made with definePathManager() (e.g. spreadPaths())');
  return v;
}

/** Keepalive and staleness timing, validated against each other. */
function keepaliveTiming(o: StackOptions): { keepaliveInterval: number; keepaliveTimeout: number; staleAfter: number } {
  const keepaliveInterval = int('keepaliveInterval', o.keepaliveInterval, 5_000, 1, 3_600_000);
  const keepaliveTimeout = int('keepaliveTimeout', o.keepaliveTimeout, Math.max(15_000, 3 * keepaliveInterval), 1, 3_600_000);
  if (keepaliveTimeout <= keepaliveInterval) {
    throw new InvalidArgumentError(`options.keepaliveTimeout (${keepaliveTimeout} ms) must exceed options.keepaliveInterval (${keepaliveInterval} ms): otherwise idle channels are killed before their keepalive PING is answered`);
  }
  const staleAfter = int('staleAfter', o.staleAfter, Math.min(500, Math.floor(keepaliveTimeout / 2)), 1, 3_600_000);
  if (staleAfter >= keepaliveTimeout) {
    throw new InvalidArgumentError(`options.staleAfter (${staleAfter} ms) must be below options.keepaliveTimeout (${keepaliveTimeout} ms)`);
  }
  return { keepaliveInterval, keepaliveTimeout, staleAfter };
}

function checkKey(auth: StackOptions['auth']): Buffer | undefined {
  if (auth === undefined) return undefined;
  const key = typeof auth?.key === 'string' ? Buffer.from(auth.key) : auth?.key;
  if (!Buffer.isBuffer(key) || key.length < 16) {
    throw new InvalidArgumentError(`options.auth.key must be a string or Buffer of at least 16 bytes, got ${key === undefined ? 'undefined' : `${Buffer.isBuffer(key) ? key.length : typeof key} ${Buffer.isBuffer(key) ? 'bytes' : ''}`.trim()}`);
  }
  return Buffer.from(key);
}

/** Validates options, naming the offending field, and fills defaults. */
export function resolveOptions(o: StackOptions, defaultTransports: () => DriverFactory[]): ResolvedStackOptions {
  if (o === null || typeof o !== 'object') throw new InvalidArgumentError(`options must be an object, got ${JSON.stringify(o)}`);
  checkStackOptionKeys(o);
  const listen = o.listen ?? [];
  if (!Array.isArray(listen) || listen.some((a) => typeof a !== 'string')) {
    throw new InvalidArgumentError(`options.listen must be an array of address strings, got ${JSON.stringify(o.listen)}`);
  }
  const transports = o.transports ?? defaultTransports();
  if (!Array.isArray(transports) || !transports.every(isDriverFactory)) {
    throw new InvalidArgumentError('options.transports must be an array of driver factories made with defineDriver() (e.g. tcp())');
  }
  const sched = o.scheduler ?? {};
  if (sched === null || typeof sched !== 'object') throw new InvalidArgumentError(`options.scheduler must be an object, got ${JSON.stringify(sched)}`);
  for (const cls of ['throughput', 'latency'] as const) {
    const p = sched[cls];
    if (p !== undefined && !isPolicyFactory(p)) {
      throw new InvalidArgumentError(`options.scheduler.${cls} must be a policy factory made with definePolicy() (e.g. roundRobin())`);
    }
  }
  if (sched.scaling !== undefined && !isScalingFactory(sched.scaling)) {
    throw new InvalidArgumentError('options.scheduler.scaling must be a scaling factory made with defineScaling() (e.g. saturation())');
  }
  if (sched.isolation !== undefined && typeof sched.isolation !== 'boolean') {
    throw new InvalidArgumentError(`options.scheduler.isolation must be a boolean, got ${JSON.stringify(sched.isolation)}`);
  }
  const elastic: Partial<Record<AppClass, { min: number; max: number }>> = {};
  for (const cls of ['throughput', 'latency'] as const) {
    const b = sched.elastic?.[cls];
    if (b === undefined) continue;
    const min = int(`scheduler.elastic.${cls}.min`, b?.min, 1, cls === 'latency' ? 0 : 1, 256);
    const max = int(`scheduler.elastic.${cls}.max`, b?.max, min, 1, 256);
    if (max < min) throw new InvalidArgumentError(`options.scheduler.elastic.${cls}.max (${max}) must be >= min (${min})`);
    elastic[cls] = { min, max };
  }
  const hostId = o.hostId ?? randomBytes(16).toString('hex');
  if (typeof hostId !== 'string' || !/^[0-9a-f]{32}$/.test(hostId)) {
    throw new InvalidArgumentError(`options.hostId must be 32 lower-case hex characters, got ${JSON.stringify(o.hostId)}`);
  }
  const maxFramePayload = int('maxFramePayload', o.maxFramePayload, DEFAULT_MAX_PAYLOAD, 1024, 64 * 1024 * 1024);
  const channelTxHighWaterMark = int('channelTxHighWaterMark', o.channelTxHighWaterMark, DEFAULT_TX_HIGH_WATER_MARK, 1024, 128 * 1024 * 1024);
  const maxSegmentSize = int('maxSegmentSize', o.maxSegmentSize, DEFAULT_MAX_SEGMENT, 1, maxFramePayload);
  // Window + HoL expansion must stay far below 2^31 for modulo-2^32 sequence arithmetic (MAX_GRANT).
  const window = int('window', o.window, DEFAULT_WINDOW, 1024, 256 * 1024 * 1024);
  return {
    listen,
    channels: {
      throughput: int('channels.throughput', o.channels?.throughput, 4, 0, 256),
      latency: int('channels.latency', o.channels?.latency, 1, 0, 256),
    },
    transports,
    scheduler: {
      policies: { throughput: sched.throughput ?? earliestCompletion(), latency: sched.latency ?? dedicated() },
      isolation: sched.isolation ?? true,
      rxSliceBytes: int('scheduler.rxSliceBytes', sched.rxSliceBytes, 256 * 1024, 1024, 1024 * 1024 * 1024),
      rxSliceMs: num('scheduler.rxSliceMs', sched.rxSliceMs, 0.5, 0, 1000),
      throughputInflightCap: int('scheduler.throughputInflightCap', sched.throughputInflightCap, 4 * 1024 * 1024, 0, 1024 * 1024 * 1024),
      latencyActiveMs: int('scheduler.latencyActiveMs', sched.latencyActiveMs, 100, 1, 60_000),
      txSliceBytes: int('scheduler.txSliceBytes', sched.txSliceBytes, 512 * 1024, 0, 1024 * 1024 * 1024),
      interval: int('scheduler.interval', sched.interval, 100, 1, 60_000),
      elastic,
      scaling: sched.scaling ?? saturation(),
      paths: checkPathManager(sched.paths),
      holExpansion: int('scheduler.holExpansion', sched.holExpansion, 2 * channelTxHighWaterMark, 0, 2 * channelTxHighWaterMark),
    },
    hostId,
    window,
    sendBuffer: int('sendBuffer', o.sendBuffer, 2 * window, 1024, 1024 * 1024 * 1024),
    maxSegmentSize,
    maxFramePayload,
    channelTxHighWaterMark,
    channelRxHighWaterMark: int('channelRxHighWaterMark', o.channelRxHighWaterMark, CHANNEL_RX_HIGH_WATER_MARK, 1024, 128 * 1024 * 1024),
    allowHalfOpen: o.allowHalfOpen ?? false,
    handshakeTimeout: int('handshakeTimeout', o.handshakeTimeout, 10_000, 1, 3_600_000),
    connectTimeout: int('connectTimeout', o.connectTimeout, 10_000, 1, 3_600_000),
    closeTimeout: int('closeTimeout', o.closeTimeout, 10_000, 0, 3_600_000),
    maxPendingHandshakes: int('maxPendingHandshakes', o.maxPendingHandshakes, 64, 1, 1_000_000),
    maxPendingHandshakesPerIp: int('maxPendingHandshakesPerIp', o.maxPendingHandshakesPerIp, 16, 1, 1_000_000),
    handshakeFirstByteTimeout: int('handshakeFirstByteTimeout', o.handshakeFirstByteTimeout, 2_000, 1, 3_600_000),
    helloTimeout: int('helloTimeout', o.helloTimeout, 5_000, 1, 3_600_000),
    maxPeers: int('maxPeers', o.maxPeers, 1024, 1, 1_000_000),
    maxSessionsPerIp: int('maxSessionsPerIp', o.maxSessionsPerIp, 64, 1, 1_000_000),
    maxSockets: int('maxSockets', o.maxSockets, 262_144, 1, 100_000_000),
    maxSocketsPerIp: int('maxSocketsPerIp', o.maxSocketsPerIp, 16_384, 1, 100_000_000),
    maxReorderBytes: int('maxReorderBytes', o.maxReorderBytes, 32 * 1024 * 1024, 1024, 2 ** 40),
    memoryBudget: int('memoryBudget', o.memoryBudget, 256 * 1024 * 1024, 1024 * 1024, 2 ** 40),
    maxSocketsPerPeer: int('maxSocketsPerPeer', o.maxSocketsPerPeer, 131_072, 1, 100_000_000),
    maxReorderBytesPerPeer: int('maxReorderBytesPerPeer', o.maxReorderBytesPerPeer, 256 * 1024 * 1024, 1024, 2 ** 40),
    idleTimeout: int('idleTimeout', o.idleTimeout, 0, 0, 2 ** 31 - 1),
    zeroCopyWrites: bool('zeroCopyWrites', o.zeroCopyWrites, false),
    latencyTrace: bool('latencyTrace', o.latencyTrace, false),
    peerTimeout: int('peerTimeout', o.peerTimeout, 10_000, 0, 3_600_000),
    lingerTimeout: int('lingerTimeout', o.lingerTimeout, 30_000, 0, 3_600_000),
    ...keepaliveTiming(o),
    redialBackoff: {
      initial: int('redialBackoff.initial', o.redialBackoff?.initial, 50, 1, 60_000),
      max: int('redialBackoff.max', o.redialBackoff?.max, 2_000, 1, 600_000),
    },
    authKey: checkKey(o.auth),
    advertise: checkAdvertise(o.advertise),
    paths: checkPaths(o.paths),
    metrics: {
      enabled: o.metrics?.enabled ?? true,
      registry: o.metrics?.registry === undefined ? undefined : checkRegistry<Registry>(o.metrics.registry, 'options.metrics.registry'),
      defaultMetrics: resolveProcessMetrics(o.metrics?.defaultMetrics),
    },
  };
}
