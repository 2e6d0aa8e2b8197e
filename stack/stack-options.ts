/**
 * The option types of `createStack` (`StackOptions`, `SchedulerOptions`), with TSDoc
 * and defaults; validated by `resolveOptions` in `options.ts`.
 * @packageDocumentation
 */
import type { MetricsRegistry, ProcessMetricsOptions } from '../metrics/registry.js';
import type { DriverFactory } from '../netdriver/driver.js';
import type { PathManagerFactory } from '../netscheduler/path-manager.js';
import type { PolicyFactory } from '../netscheduler/policy.js';
import type { ScalingFactory } from '../netscheduler/scaling.js';
import type { WorkersOptions } from '../workers/index.js';

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
  /**
   * Receive high-water mark of each channel, bytes: what a channel decodes ahead while
   * the stack does not pull from it (its receive queue is full or behind, see
   * `scheduler.rxSliceMs`); beyond it the channel's transport is paused.
   * @default 1048576
   */
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
   * Each held segment is charged its bytes (at least half the read buffer it keeps
   * alive) plus 256 for its bookkeeping, here and in `maxReorderBytes` and `memoryBudget`.
   * @default 268435456
   */
  maxReorderBytesPerPeer?: number;
  /** A virtual socket with no traffic either way for this long is destroyed with NETCHANNEL_ERR_TIMEOUT, ms; 0 = never. @default 0 */
  idleTimeout?: number;
  /**
   * Sent data is kept until the peer acknowledges it (for failover). By default a
   * write of 64 KiB or more is kept by reference (no copy) and its callback runs once
   * the peer acknowledged it; a smaller write is copied and called back once sent.
   * Either way a caller may reuse a Buffer once its write callback ran. `true` keeps
   * every Buffer by reference and calls back once sent: the caller must never modify
   * a Buffer after writing it.
   * @default false
   */
  zeroCopyWrites?: boolean;
  /**
   * Record a per-stage timestamp for every DATA segment of latency-class sockets
   * (write, channel selected, handed to the transport; read from the transport,
   * delivered), read with `stack.latencyTrace()`. Keeps the last 65,536 segments each
   * way. Off, it costs one null check per hook.
   * @default false
   */
  latencyTrace?: boolean;
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
   * Time a receive slice may spend handing throughput data to sockets (their `'data'`
   * handlers run inside it) before yielding, ms; 0 = bytes only. Bounds the turn
   * whatever the consumers cost. A slice that spends it with data left stops the
   * reading of throughput channels until a slice keeps to it (their transports pause
   * at `channelRxHighWaterMark`); latency channels are always read.
   * @default 0.5
   */
  rxSliceMs?: number;
  /**
   * Throughput bytes sent per event-loop turn, stack-wide, before yielding (send-side
   * isolation); 0 = unlimited. Only applies while `isolation` is on.
   * @default 524288
   */
  txSliceBytes?: number;
  /**
   * While a peer's latency traffic is active (a latency-class socket sent or received
   * a frame in the last `latencyActiveMs`), its throughput channels together may hold
   * at most this many bytes queued plus unacknowledged (channel ACKs); throughput
   * sockets wait for acknowledgements beyond it. Keeps the kernel and user-space
   * queues ahead of the peer's event loop short, so latency frames are read sooner.
   * 0 = no cap. Only applies while `isolation` is on.
   * @default 4194304
   */
  throughputInflightCap?: number;
  /** How long latency traffic counts as active after its last frame, ms (see `throughputInflightCap`). @default 100 */
  latencyActiveMs?: number;
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
