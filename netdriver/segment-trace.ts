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

/** A bounded ring of records. */
class Ring<T> {
  private items: T[] = [];
  private next = 0;
  constructor(private readonly capacity: number) {}
  push(item: T): void {
    if (this.items.length < this.capacity) this.items.push(item);
    else this.items[this.next] = item;
    this.next = (this.next + 1) % this.capacity;
  }
  /** Oldest first; `clear` empties the ring. */
  take(clear: boolean): T[] {
    const out = this.items.length < this.capacity ? this.items.slice() : [...this.items.slice(this.next), ...this.items.slice(0, this.next)];
    if (clear) {
      this.items = [];
      this.next = 0;
    }
    return out;
  }
}

/** The recorder behind one stack's latency trace. */
export class SegmentTrace {
  private readonly sent: Ring<SentSegment>;
  private readonly received: Ring<ReceivedSegment>;
  private readonly slices: Ring<number>;
  private readonly inFlight = new WeakMap<Frame, SentSegment>();
  private readonly readAt = new WeakMap<Frame, number>();

  constructor(
    /**
     * Records kept of each kind (sent, received, slices); older ones are overwritten.
     * @default 65536
     */
    readonly capacity = 65536,
  ) {
    this.sent = new Ring(capacity);
    this.received = new Ring(capacity);
    this.slices = new Ring(capacity);
  }

  /** A traced socket built `frame` (a DATA segment); its last write() was at `writeAt`. */
  selected(frame: Frame, writeAt: number): void {
    const rec: SentSegment = { localPort: frame.src, remotePort: frame.dst, seq: frame.seq, bytes: frame.payload.length, writeAt, selectAt: traceNow(), transportAt: undefined };
    this.sent.push(rec);
    this.inFlight.set(frame, rec);
  }

  /** The device is about to hand `frame` to its channel: a callback that stamps `transportAt`, or undefined for untraced frames. */
  transmitting(frame: Frame): (() => void) | undefined {
    const rec = this.inFlight.get(frame);
    if (rec === undefined) return undefined;
    this.inFlight.delete(frame); // the first transmission counts (not a retransmission)
    return () => {
      rec.transportAt = traceNow();
    };
  }

  /** The device took `frame` from a channel at `at` (epoch ms). */
  read(frame: Frame, at: number): void {
    this.readAt.set(frame, at);
  }

  /** `frame` (DATA) reached a traced socket. */
  delivered(frame: Frame): void {
    this.received.push({ localPort: frame.dst, remotePort: frame.src, seq: frame.seq, bytes: frame.payload.length, readAt: this.readAt.get(frame), deliverAt: traceNow() });
  }

  /** A receive slice took `ms`. */
  slice(ms: number): void {
    this.slices.push(ms);
  }

  /** Copies of the records, oldest first; `clear` starts over. */
  snapshot(clear = false): LatencyTraceSnapshot {
    return { enabled: true, sent: this.sent.take(clear), received: this.received.take(clear), rxSlicesMs: this.slices.take(clear) };
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
