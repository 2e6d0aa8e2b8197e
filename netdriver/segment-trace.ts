/**
 * The latency trace (opt-in, `createStack({ latencyTrace: true })`): a timestamp per
 * stage for every DATA segment of a latency-class socket, so that a tail can be
 * attributed to a stage instead of guessed at. On the sending stack:
 * - `writeAt`: the socket's last `write()` before the segment was built;
 * - `selectAt`: the scheduler picked its channel and the segment was built;
 * - `transportAt`: the transport accepted its bytes (the write callback of the
 *   channel's socket write; drivers that do not report it leave it undefined).
 *
 * On the receiving stack:
 * - `readAt`: the device took the frame from the transport's receive queue;
 * - `deliverAt`: the frame reached its virtual socket, which hands in-order bytes to
 *   the application (`push`) in the same call.
 *
 * Times are epoch milliseconds with microsecond resolution (`performance.timeOrigin +
 * performance.now()`), comparable between processes on one host, so the records of
 * two stacks can be joined ({@link joinLatencyTrace}). When the trace is off nothing
 * is recorded: each hook is one null check.
 * @packageDocumentation
 */
import type { Frame } from './frame.js';

/** A DATA segment a traced socket sent. */
export interface SentSegment {
  /** Virtual ports of the socket (local, remote). */
  localPort: number;
  remotePort: number;
  /** Sequence number (byte offset, modulo 2^32) and length of the segment. */
  seq: number;
  bytes: number;
  writeAt: number;
  selectAt: number;
  /** Undefined while the transport has not reported it (or never does). */
  transportAt: number | undefined;
}

/** A DATA segment a traced socket received. */
export interface ReceivedSegment {
  localPort: number;
  remotePort: number;
  seq: number;
  bytes: number;
  /** Undefined when the frame did not come through a device (not expected). */
  readAt: number | undefined;
  deliverAt: number;
}

/** What {@link SegmentTrace.snapshot} (and `stack.latencyTrace()`) returns. */
export interface LatencyTraceSnapshot {
  /** False when the stack was created without `latencyTrace` (everything else is empty). */
  enabled: boolean;
  /** Segments sent by latency sockets, oldest first (the last `capacity`). */
  sent: SentSegment[];
  /** Segments received by latency sockets, oldest first (the last `capacity`). */
  received: ReceivedSegment[];
  /** Durations of the receive scheduler's throughput slices, ms (the last `capacity`): stack work per event-loop turn. */
  rxSlicesMs: number[];
}

/** A segment seen by both stacks, with the time spent in each stage, ms. */
export interface TracedSegment {
  seq: number;
  bytes: number;
  /** write() until the segment was built (waiting for credit, channels or the send-side slicer). */
  queued: number;
  /** Built until the transport accepted it (cork until the end of the tick, writev). */
  send: number | undefined;
  /** Accepted by the sender's transport until taken from the receiver's (kernel, the peer's loop). */
  wire: number | undefined;
  /** Taken from the transport until it reached the socket (receive scheduler). */
  deliver: number | undefined;
  /** write() until delivery. */
  total: number;
}

/** Epoch milliseconds with sub-millisecond resolution. */
export function traceNow(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * A bounded ring of numeric records, one Float64Array per field: no object per record,
 * so a running trace adds nothing for the garbage collector to trace or promote.
 */
class Columns {
  readonly cols: Float64Array[];
  private pushed = 0;
  private start = 0;
  constructor(
    private readonly capacity: number,
    fields: number,
  ) {
    this.cols = Array.from({ length: fields }, () => new Float64Array(capacity));
  }
  /** Claims the next record (overwriting the oldest once full); returns its number. */
  next(): number {
    return this.pushed++;
  }
  /** Column index of the record just claimed as number `n`. */
  slot(n: number): number {
    return n % this.capacity;
  }
  /** Column index of record `n`, or -1 once it was overwritten or cleared. */
  at(n: number): number {
    return n < this.start || this.pushed - n > this.capacity ? -1 : n % this.capacity;
  }
  /** The records held, oldest first, built by `build(index)`; `clear` forgets them. */
  take<T>(clear: boolean, build: (i: number) => T): T[] {
    const out: T[] = [];
    for (let n = Math.max(this.start, this.pushed - this.capacity); n < this.pushed; n++) out.push(build(n % this.capacity));
    if (clear) this.start = this.pushed;
    return out;
  }
}

const undef = (v: number): number | undefined => (Number.isNaN(v) ? undefined : v);

/** Writes the fields sent and received records share (columns 0–3: local port, remote port, seq, bytes) at `i`. */
function putSegment(c: Float64Array[], i: number, localPort: number, remotePort: number, frame: Frame): void {
  c[0]![i] = localPort;
  c[1]![i] = remotePort;
  c[2]![i] = frame.seq;
  c[3]![i] = frame.payload.length;
}

/** The recorder behind one stack's latency trace. */
export class SegmentTrace {
  // sent: localPort, remotePort, seq, bytes, writeAt, selectAt, transportAt (NaN: not yet)
  private readonly sent: Columns;
  // received: localPort, remotePort, seq, bytes, readAt (NaN: unknown), deliverAt
  private readonly received: Columns;
  private readonly slices: Columns;
  /** The segment `selected` last; the device transmits it right after (retransmissions are not stamped). */
  private lastFrame: Frame | null = null;
  private lastSent = 0;
  /** While a latency channel's frames are handed up (synchronously): when the device took them. */
  private urgentReadAt = NaN;
  /** Read times of frames from throughput channels, which are handed up later (only with `bulkReads`). */
  private readonly readAt = new WeakMap<Frame, number>();

  constructor(
    /**
     * Records kept of each kind (sent, received, slices); older ones are overwritten.
     * @default 65536
     */
    readonly capacity = 65536,
    /**
     * Also stamp frames read from throughput channels: latency sockets may travel on them
     * (isolation off, or no latency channels). Otherwise only latency channels' frames
     * are stamped, and bulk frames cost nothing.
     * @default true
     */
    readonly bulkReads = true,
  ) {
    this.sent = new Columns(capacity, 7);
    this.received = new Columns(capacity, 6);
    this.slices = new Columns(capacity, 1);
  }

  /** A traced socket built `frame` (a DATA segment); its last write() was at `writeAt`. */
  selected(frame: Frame, writeAt: number): void {
    const n = this.sent.next();
    const i = this.sent.slot(n);
    const c = this.sent.cols;
    putSegment(c, i, frame.src, frame.dst, frame);
    c[4]![i] = writeAt;
    c[5]![i] = traceNow();
    c[6]![i] = NaN;
    this.lastFrame = frame;
    this.lastSent = n;
  }

  /** The device is about to hand `frame` to its channel: a callback that stamps `transportAt`, or undefined for untraced frames. */
  transmitting(frame: Frame): (() => void) | undefined {
    if (frame !== this.lastFrame) return undefined;
    this.lastFrame = null; // the first transmission counts (not a retransmission)
    const n = this.lastSent;
    return () => {
      const i = this.sent.at(n);
      if (i >= 0) this.sent.cols[6]![i] = traceNow();
    };
  }

  /** The device took `frame` from a throughput channel at `at` (epoch ms); it is handed up later. */
  read(frame: Frame, at: number): void {
    if (this.bulkReads) this.readAt.set(frame, at);
  }

  /** The device hands up a latency channel's frames, taken at `at` (epoch ms), until {@link urgentDone}. */
  urgent(at: number): void {
    this.urgentReadAt = at;
  }

  /** See {@link urgent}. */
  urgentDone(): void {
    this.urgentReadAt = NaN;
  }

  /** `frame` (DATA) reached a traced socket. */
  delivered(frame: Frame): void {
    const i = this.received.slot(this.received.next());
    const c = this.received.cols;
    putSegment(c, i, frame.dst, frame.src, frame);
    c[4]![i] = Number.isNaN(this.urgentReadAt) ? (this.readAt.get(frame) ?? NaN) : this.urgentReadAt;
    c[5]![i] = traceNow();
  }

  /** A receive slice took `ms`. */
  slice(ms: number): void {
    this.slices.cols[0]![this.slices.slot(this.slices.next())] = ms;
  }

  /** Copies of the records, oldest first; `clear` starts over. */
  snapshot(clear = false): LatencyTraceSnapshot {
    const s = this.sent.cols;
    const r = this.received.cols;
    return {
      enabled: true,
      sent: this.sent.take(clear, (i) => ({ localPort: s[0]![i]!, remotePort: s[1]![i]!, seq: s[2]![i]!, bytes: s[3]![i]!, writeAt: s[4]![i]!, selectAt: s[5]![i]!, transportAt: undef(s[6]![i]!) })),
      received: this.received.take(clear, (i) => ({ localPort: r[0]![i]!, remotePort: r[1]![i]!, seq: r[2]![i]!, bytes: r[3]![i]!, readAt: undef(r[4]![i]!), deliverAt: r[5]![i]! })),
      rxSlicesMs: this.slices.take(clear, (i) => this.slices.cols[0]![i]!),
    };
  }
}

/** The snapshot of a stack without the trace. */
export function disabledTrace(): LatencyTraceSnapshot {
  return { enabled: false, sent: [], received: [], rxSlicesMs: [] };
}

/**
 * Joins what one stack sent with what its peer received (records from
 * `stack.latencyTrace()` of each; the two may live in different processes of one
 * host) and splits each segment's time into stages. Segments missing on either side
 * are skipped.
 */
export function joinLatencyTrace(sender: Pick<LatencyTraceSnapshot, 'sent'>, receiver: Pick<LatencyTraceSnapshot, 'received'>): TracedSegment[] {
  const byKey = new Map<string, ReceivedSegment>();
  for (const r of receiver.received) byKey.set(`${r.remotePort}:${r.localPort}:${r.seq}`, r);
  const out: TracedSegment[] = [];
  for (const s of sender.sent) {
    const r = byKey.get(`${s.localPort}:${s.remotePort}:${s.seq}`);
    if (r === undefined) continue;
    out.push({
      seq: s.seq,
      bytes: s.bytes,
      queued: s.selectAt - s.writeAt,
      send: s.transportAt === undefined ? undefined : s.transportAt - s.selectAt,
      wire: s.transportAt === undefined || r.readAt === undefined ? undefined : r.readAt - s.transportAt,
      deliver: r.readAt === undefined ? undefined : r.deliverAt - r.readAt,
      total: r.deliverAt - s.writeAt,
    });
  }
  return out;
}
