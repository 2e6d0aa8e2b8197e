/**
 * Per-channel feedback, measured by the device from channel-level acknowledgements
 * (ACK frames: bytes the peer's device received on this channel — DATA payload plus
 * the control frames both sides see one for one) and PING/PONG
 * round trips: smoothed RTT, delivery rate, bytes in flight, last progress and
 * staleness. The scheduler reads the results through its channel view.
 * @packageDocumentation
 */

import { SendClock } from './send-clock.js';

/** RTT samples the minimum is taken over. */
const MIN_WINDOW = 16;

/**
 * RFC 6298 round-trip estimator: `srtt` and `rttvar` in seconds, with the usual gains
 * (1/8 and 1/4).
 */
export class RttEstimator {
  /** Smoothed RTT, seconds; 0 before the first sample. */
  srtt = 0;
  /** RTT variation, seconds. */
  rttvar = 0;
  /** Samples taken. */
  samples = 0;
  /** Smallest of the last {@link MIN_WINDOW} samples, seconds (the path's RTT without queueing); 0 before the first. */
  minRtt = 0;
  private readonly recent: number[] = [];

  /** Adds one RTT sample (seconds, ≥ 0). */
  update(rtt: number): void {
    if (!(rtt >= 0) || !Number.isFinite(rtt)) return;
    if (this.recent.length >= MIN_WINDOW) this.recent.shift();
    this.recent.push(rtt);
    this.minRtt = Math.min(...this.recent);
    if (this.samples++ === 0) {
      this.srtt = rtt;
      this.rttvar = rtt / 2;
      return;
    }
    this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - rtt);
    this.srtt = 0.875 * this.srtt + 0.125 * rtt;
  }

  /** Retransmission timeout, seconds: `srtt + 4·rttvar`, within [min, max]. */
  rto(min = 0.2, max = 60): number {
    if (this.samples === 0) return Math.max(min, Math.min(max, 1));
    return Math.max(min, Math.min(max, this.srtt + 4 * this.rttvar));
  }
}

/**
 * Delivery-rate estimator: the maximum of the last `window` samples of bytes
 * delivered per second (a windowed max, as BBR does, so that intervals in which the
 * sender had little to send do not drag the estimate down).
 */
export class RateEstimator {
  private readonly samples: Array<{ at: number; rate: number }> = [];
  /** Bytes per second; 0 while unknown. */
  rate = 0;

  constructor(
    /** Samples the max is taken over. @default 10 */
    private readonly window = 10,
    /** Age after which a sample no longer counts, ms (an idle channel's rate becomes unknown). @default 10000 */
    private readonly maxAgeMs = 10_000,
    /**
     * Samples needed before the rate is known (until then it reads 0): one unlucky
     * interval, say a GC pause while the channel was busy, must not mark it slow.
     * @default 3
     */
    private readonly minSamples = 3,
  ) {}

  /** Adds `bytes` delivered over `seconds`, observed at `now` (ms). */
  sample(bytes: number, seconds: number, now = performance.now()): void {
    if (!(seconds > 0) || !(bytes >= 0)) return;
    if (this.samples.length >= this.window) this.samples.shift();
    this.samples.push({ at: now, rate: bytes / seconds });
    this.expire(now);
  }

  /** Drops samples older than the maximum age (call on every tick). */
  expire(now: number): void {
    while (this.samples.length > 0 && now - this.samples[0]!.at > this.maxAgeMs) this.samples.shift();
    let max = 0;
    for (const s of this.samples) if (s.rate > max) max = s.rate;
    this.rate = this.samples.length >= this.minSamples ? max : 0;
  }
}

/** Received bytes after which the receiving device sends an ACK on the channel at once. */
export const ACK_EVERY_BYTES = 256 * 1024;
/** Longest a received byte waits for its ACK, ms (the rest is acknowledged on a timer). */
export const ACK_DELAY_MS = 2;
/**
 * Bytes in flight above which a channel counts as busy (backlogged): delivery-rate
 * samples are acknowledged bytes over busy time only, so a channel that is given little
 * to send is not judged slow for it.
 */
export const BACKLOG_BYTES = 64 * 1024;

/** Largest difference accepted between an ACK and the bytes sent (u32 modular arithmetic). */
const HALF = 0x80000000;

/** Feedback state of one channel (both directions). */
export class ChannelFeedback {
  // Transmit direction (what the peer acknowledged of ours).
  /** Acknowledged-unit bytes handed to the channel (DATA payload, control frames). */
  dataSent = 0;
  /** Of those, the bytes the peer's device acknowledged. */
  dataAcked = 0;
  /** `performance.now()` of the last acknowledgement progress (or of a send from idle). */
  lastProgressAt = performance.now();
  /** No progress for too long while holding unacknowledged data (see the control loop). */
  stale = false;
  /**
   * Behind the other channels of its class (see `lateness.ts`):
   * skipped, its segments reinjected, until it acknowledges up to {@link lateMark}.
   */
  late = false;
  /** `dataSent` when the channel was found late. */
  lateMark = 0;
  /** `performance.now()` and `dataAcked` when it was found late. */
  private lateAt = 0;
  private lateAcked = 0;
  /** What the other channels of its class had acknowledged then, per channel on average (see `LatenessDetector.caughtUp`). */
  lateOthersAcked = 0;
  /** Send times of the bytes in flight. */
  readonly clock = new SendClock();
  readonly rtt = new RttEstimator();
  readonly delivery = new RateEstimator();
  /** `performance.now()` stamp of the outstanding probe PING; -1 if none. */
  pingAt = -1;
  /** `performance.now()` of the last probe sent. */
  probedAt = -Infinity;
  /** `performance.now()` since which the channel is busy (≥ BACKLOG_BYTES in flight); -1 when not. */
  private busySince = -1;
  /** Busy milliseconds and bytes acknowledged while busy, since the last sample. */
  private busyMs = 0;
  private busyAcked = 0;

  // Receive direction (what we acknowledge of the peer's).
  /** DATA payload bytes received on the channel. */
  rxData = 0;
  /** `rxData` at the last ACK we sent. */
  rxReported = 0;

  /** DATA payload bytes sent and not acknowledged yet. */
  get inflightBytes(): number {
    return this.dataSent - this.dataAcked;
  }

  /** `bytes` (DATA payload or a control frame) were handed to the channel. */
  onSent(bytes: number): void {
    if (bytes === 0) return;
    const now = performance.now();
    const before = this.dataSent - this.dataAcked;
    if (before === 0) this.lastProgressAt = now;
    this.dataSent += bytes;
    this.clock.sent(this.dataSent, now);
    if (before < BACKLOG_BYTES && before + bytes >= BACKLOG_BYTES) this.busySince = now;
  }

  /**
   * The peer acknowledged `seq` (its received DATA bytes, modulo 2^32). Returns true
   * when it is progress. Reports that go backwards or beyond what was sent are ignored.
   */
  onAck(seq: number, now: number): boolean {
    const delta = ((seq - this.dataAcked) >>> 0) as number;
    if (delta === 0 || delta >= HALF || delta > this.inflightBytes) return false;
    this.dataAcked += delta;
    this.lastProgressAt = now;
    this.clock.acked(this.dataAcked, now);
    if (this.busySince >= 0) {
      this.busyAcked += delta;
      if (this.inflightBytes < BACKLOG_BYTES) {
        this.busyMs += now - this.busySince;
        this.busySince = -1;
      }
    }
    return true;
  }

  /** Another channel of the class overtook this one at `now`: skip it until it acknowledges what it holds. */
  markLate(now: number, othersAcked: number): void {
    this.late = true;
    this.lateMark = this.dataSent;
    this.lateAt = now;
    this.lateAcked = this.dataAcked;
    this.lateOthersAcked = othersAcked;
  }

  /** Bytes acknowledged since it was found late. */
  get deliveredSinceLate(): number {
    return this.dataAcked - this.lateAcked;
  }

  /**
   * When a late channel has acknowledged everything it held when found late (it is
   * no longer late then): the milliseconds it was late; else -1. (Not a rate sample:
   * how long a catch-up takes depends on when either event loop gets to it.)
   */
  caughtUp(now: number): number {
    if (!this.late || this.dataAcked < this.lateMark) return -1;
    this.late = false;
    return now - this.lateAt;
  }

  /** A probe PING payload for `now` (8 bytes: the stamp as a double). */
  probe(now: number): Buffer {
    this.pingAt = this.probedAt = now;
    const b = Buffer.allocUnsafe(8);
    b.writeDoubleLE(now, 0);
    return b;
  }

  /** A PONG arrived: an RTT sample if it echoes the outstanding probe. */
  onPong(payload: Buffer, now: number): void {
    if (this.pingAt < 0 || payload.length !== 8 || payload.readDoubleLE(0) !== this.pingAt) return;
    this.rtt.update((now - this.pingAt) / 1000);
    this.pingAt = -1;
  }

  /**
   * Control tick: takes a delivery-rate sample — bytes acknowledged while the channel
   * was busy (≥ {@link BACKLOG_BYTES} in flight) over the busy time since the last tick
   * — if it was busy for at least a millisecond and something was acknowledged.
   */
  sample(now: number): void {
    if (this.busySince >= 0) {
      this.busyMs += now - this.busySince;
      this.busySince = now;
    }
    if (this.busyMs >= 1 && this.busyAcked > 0) this.delivery.sample(this.busyAcked, this.busyMs / 1000, now);
    else this.delivery.expire(now);
    this.busyMs = 0;
    this.busyAcked = 0;
  }

  /** Milliseconds without progress while holding unacknowledged data (0 when none is held). */
  silentFor(now: number): number {
    return this.inflightBytes > 0 ? now - this.lastProgressAt : 0;
  }
}
