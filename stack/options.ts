/**
 * Options of `createStack`, with validation and defaults.
 * @packageDocumentation
 */
import { randomBytes } from 'node:crypto';
import type { Registry } from 'prom-client';
import { checkRegistry, resolveProcessMetrics, type MetricsRegistry, type ProcessMetricsOptions } from '../metrics/registry.js';
import { DEFAULT_RX_HIGH_WATER_MARK, DEFAULT_TX_HIGH_WATER_MARK } from '../netdriver/base-channel.js';
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
import type { WorkersOptions } from '../workers/index.js';
import { boolOption as bool, intOption as int } from '../errors/validate.js';
import { checkStackOptionKeys } from './option-keys.js';

/** Options of {@link createStack}. */
export interface StackOptions {
  /** Addresses to accept channels on, e.g. `['tcp://127.0.0.1:0']`. @default [] */
  listen?: string[];
  /**
   * Channels this stack opens to each peer it connects to, per class.
   * @default { throughput: 4, latency: 1 }
   */
  channels?: { throughput?: number; latency?: number };
  /**
   * Transport plug-ins. Replaces the built-ins when given.
   * @default [tcp(), unix(), memory()]
   */
  transports?: DriverFactory[];
  /** Scheduler settings: policies, isolation, elastic channels, HoL handling. */
  scheduler?: SchedulerOptions;
  /** Host id of this stack: 32 hex characters. @default random */
  hostId?: string;
  /** Receive window (credit) per virtual socket, bytes (at most 256 MiB). @default 4194304 */
  window?: number;
  /**
   * Send buffer per virtual socket (like SO_SNDBUF), bytes: unsent plus unacknowledged
   * bytes a socket holds before its write callback waits for acknowledgements (then
   * `write()` returns false), whatever window the peer grants. Must cover the
   * bandwidth-delay product. `connect(…, { sendBuffer })` overrides it per socket.
   * @default 2 × window
   */
  sendBuffer?: number;
  /** Largest DATA payload per segment, bytes. @default 65536 */
  maxSegmentSize?: number;
  /** Largest DATA payload accepted from the wire, bytes. @default 1048576 */
  maxFramePayload?: number;
  /** Transmit high-water mark of each channel, bytes. @default 2097152 */
  channelTxHighWaterMark?: number;
  /** Receive high-water mark of each channel, bytes. @default 4194304 */
  channelRxHighWaterMark?: number;
  /** Keep a socket's writable side open after the peer ends (net.Socket's option). @default false */
  allowHalfOpen?: boolean;
  /** Channel HELLO timeout, ms. @default 10000 */
  handshakeTimeout?: number;
  /**
   * Default time a virtual-socket connect may take, from the call until `'connect'`
   * (dialing the peer's channels if needed, then SYNC → SYNC_ACK); then it fails with
   * NETCHANNEL_ERR_TIMEOUT. A connect's own `timeout` option overrides it, ms.
   * @default 10000
   */
  connectTimeout?: number;
  /** How long `close()` waits for data to drain before aborting, ms. @default 10000 */
  closeTimeout?: number;
  /**
   * Inbound channels allowed in their HELLO at once. A newcomer beyond it is admitted
   * and the oldest pending handshake dropped (`NETCHANNEL_ERR_LIMIT`).
   * @default 64
   */
  maxPendingHandshakes?: number;
  /** Inbound channels in their HELLO at once from one remote IP; beyond it that IP's oldest is dropped. @default 16 */
  maxPendingHandshakesPerIp?: number;
  /** An inbound channel that sent no byte this long after it was accepted is dropped, ms. @default 2000 */
  handshakeFirstByteTimeout?: number;
  /** An inbound channel must complete its HELLO (and auth proof) this long after it was accepted, ms. @default 5000 */
  helloTimeout?: number;
  /** Peer sessions (host ids) at once; a HELLO from a new host id beyond it is refused (`NETCHANNEL_ERR_LIMIT`). @default 1024 */
  maxPeers?: number;
  /** Peer sessions (host ids) accepted from one remote IP; a new host id beyond it is refused. @default 64 */
  maxSessionsPerIp?: number;
  /** Virtual sockets of all peers together; a SYNC beyond it is refused (RST LIMIT). @default 262144 */
  maxSockets?: number;
  /** Accepted virtual sockets of all host ids of one remote IP; a SYNC beyond it is refused (RST LIMIT). @default 16384 */
  maxSocketsPerIp?: number;
  /** Out-of-order bytes held for all peers together (see docs/robustness.md for who is reset). @default 33554432 */
  maxReorderBytes?: number;
  /**
   * Memory budget for what peers make this stack hold, all peers together: send
   * retention (unacknowledged DATA) plus reorder buffers, bytes. Over it, the largest
   * sockets of the peer holding the most are reset (RST LIMIT).
   * @default 268435456
   */
  memoryBudget?: number;
  /** Virtual sockets allowed per peer host; a SYNC beyond it is refused (RST LIMIT). @default 131072 */
  maxSocketsPerPeer?: number;
  /**
   * Out-of-order bytes held for all sockets of one peer; the socket whose segment
   * exceeds it is reset. Per socket the bound is its window (plus HoL expansion).
   * @default 268435456
   */
  maxReorderBytesPerPeer?: number;
  /** A virtual socket with no traffic either way for this long is destroyed with NETCHANNEL_ERR_TIMEOUT, ms; 0 = never. @default 0 */
  idleTimeout?: number;
  /**
   * Sent data is kept until the peer acknowledges it (for failover). By default the
   * stack keeps a copy, so a caller may reuse a Buffer once its write callback ran
   * (as with net.Socket). `true` keeps the caller's Buffers instead — faster, but the
   * caller must never modify a Buffer after writing it.
   * @default false
   */
  zeroCopyWrites?: boolean;
  /**
   * After every channel to a peer failed, how long its sockets wait for one to come
   * back (re-dialed with backoff) before failing with NETCHANNEL_ERR_PEER_UNREACHABLE, ms.
   * @default 10000
   */
  peerTimeout?: number;
  /** How long a closed socket keeps unacknowledged data for retransmission, ms. @default 30000 */
  lingerTimeout?: number;
  /** A channel silent this long gets a keepalive PING, ms. @default 5000 */
  keepaliveInterval?: number;
  /** A channel silent this long is declared dead and failed over, ms; must exceed `keepaliveInterval`. @default 15000 */
  keepaliveTimeout?: number;
  /**
   * A channel that holds unacknowledged data and makes no progress for
   * `max(4 × srtt, staleAfter)` is stale (MPTCP-style): the scheduler skips it and its
   * unacknowledged segments are re-sent on the other channels. It is not closed: it is
   * used again once it makes progress, and closed only at `keepaliveTimeout`. Must be
   * > 0 and below `keepaliveTimeout`, ms.
   * @default 500
   */
  staleAfter?: number;
  /** Re-dial backoff after a channel failure: first delay and cap, ms. @default { initial: 50, max: 2000 } */
  redialBackoff?: { initial?: number; max?: number };
  /**
   * Pre-shared-key authentication: every channel proves the key in its HELLO (mutual
   * HMAC-SHA256 challenge over both nonces and host ids). With a key, a peer without
   * it is refused before any socket opens. At least 16 bytes.
   * @default undefined (no authentication)
   */
  auth?: { key: string | Buffer };
  /**
   * Acceptor side (multipath): extra addresses of this stack announced in every HELLO
   * reply (e.g. a second interface, or a `unix://` socket for same-host peers). With
   * `auth` they are covered by the HELLO's HMAC. At most 8, each a valid address of a
   * registered transport, up to 255 bytes. An entry equal to one of `listen` (e.g.
   * `tcp://127.0.0.2:0`) stands for that listener's bound address.
   * @default []
   */
  advertise?: string[];
  /**
   * Dialer side (multipath): `'given'` uses only the addresses passed to `connect`;
   * `'advertised'` also opens channels to the addresses the peer advertises in its
   * HELLO (each must reach the same host id; a `unix://` one this host reaches is
   * preferred: the same-host shortcut). Off by default, so that a peer cannot make a
   * client dial arbitrary addresses unless asked.
   * @default 'given'
   */
  paths?: 'given' | 'advertised';
  /**
   * The multi-core data path: channel workers, copy workers, hand-off, checksums
   * (see docs/multicore.md). Absent: everything runs inline on the main thread.
   * @default undefined
   */
  workers?: WorkersOptions;
  /** Prometheus metrics of this stack. */
  metrics?: {
    /** Register metrics at all (off: `stack.registry` stays empty). @default true */
    enabled?: boolean;
    /** Registry to register on (never the global one unless passed), checked by shape: prom-client 14 or 15. @default a new Registry per stack */
    registry?: MetricsRegistry;
    /** Also collect Node process metrics under their standard names (`process_cpu_seconds_total`, …), `{ prefix }` to prefix them. @default false */
    defaultMetrics?: boolean | ProcessMetricsOptions;
  };
}

/** Scheduler part of {@link StackOptions}. */
export interface SchedulerOptions {
  /** Channel selection for throughput sockets. @default earliestCompletion() */
  throughput?: PolicyFactory;
  /** Channel selection for latency sockets. @default dedicated() */
  latency?: PolicyFactory;
  /**
   * Keep throughput sockets off latency channels, and deliver latency data before
   * throughput data received at the same time (throughput processed in slices).
   * @default true
   */
  isolation?: boolean;
  /** Throughput bytes processed per receive slice before yielding. @default 262144 */
  rxSliceBytes?: number;
  /**
   * Throughput bytes sent per event-loop turn, stack-wide, before yielding (send-side
   * isolation); 0 = unlimited. Only applies while `isolation` is on.
   * @default 524288
   */
  txSliceBytes?: number;
  /** Control-loop tick, ms. @default 100 */
  interval?: number;
  /**
   * Elastic channels: count bounds per class. A class listed here is scaled by the
   * `scaling` policy between `min` and `max`; unlisted classes keep `channels`.
   * @default {} (fixed counts)
   */
  elastic?: { throughput?: { min: number; max: number }; latency?: { min: number; max: number } };
  /** Scaling policy for elastic classes. @default saturation() */
  scaling?: ScalingFactory;
  /** Path manager: how a peer's channels are spread over its paths (multipath). @default spreadPaths() */
  paths?: PathManagerFactory;
  /**
   * Extra receive window granted to a socket whose reader stalls with a full window
   * (head-of-line), bytes; 0 disables HoL handling. At most 2× the channel buffer.
   * @default 2 × channelTxHighWaterMark
   */
  holExpansion?: number;
}

/** Options after validation, every field set. */
export interface ResolvedStackOptions {
  listen: string[];
  channels: Record<AppClass, number>;
  transports: DriverFactory[];
  scheduler: {
    policies: Record<AppClass, PolicyFactory>;
    isolation: boolean;
    rxSliceBytes: number;
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
    channelRxHighWaterMark: int('channelRxHighWaterMark', o.channelRxHighWaterMark, DEFAULT_RX_HIGH_WATER_MARK, 1024, 128 * 1024 * 1024),
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
