/**
 * Loss recovery and congestion control of one udp:// connection: the RFC 6298 RTT
 * estimator (srtt, rttvar, RTO = srtt + 4·rttvar clamped to [min, max], exponential
 * backoff) and a congestion window in datagrams (slow start, additive increase,
 * multiplicative decrease by {@link BETA} once per window of data, a floor of
 * {@link MIN_CWND} so random loss never collapses it).
 * @packageDocumentation
 */

import { RttEstimator as SmoothedRtt } from '../../netdriver/feedback.js';

/** Multiplicative decrease on a loss event (CUBIC's beta: gentler than Reno's 0.5). */
export const BETA = 0.7;
/** Congestion window floor, datagrams. */
export const MIN_CWND = 4;
/** Initial congestion window, datagrams (RFC 6928's IW10). */
export const INITIAL_CWND = 10;

/** RTO bounds and the initial RTO, ms. */
export interface RtoBounds {
  /** Smallest RTO, ms. */
  min: number;
  /** Largest RTO (also the cap of the backoff), ms. */
  max: number;
  /** RTO before the first RTT sample, ms. */
  initial: number;
}

/**
 * RFC 6298 retransmission timer: the stack's RTT estimator (`netdriver/feedback.ts`,
 * shared with channel feedback) for srtt and rttvar, plus the RTO bounds and the
 * exponential backoff of this transport, in milliseconds.
 */
export class RttEstimator {
  /** Latest sample, ms. */
  latest = 0;
  private readonly est = new SmoothedRtt();
  private base: number;
  /** Backoff multiplier: doubled per RTO expiry, reset by a new sample. */
  private backoff = 1;

  constructor(private readonly bounds: RtoBounds) {
    this.base = bounds.initial;
  }

  /** Smoothed RTT, ms (0 before the first sample). */
  get srtt(): number {
    return this.est.srtt * 1000;
  }

  /** RTT variation, ms. */
  get rttvar(): number {
    return this.est.rttvar * 1000;
  }

  /** Current retransmission timeout, ms (backoff included). */
  get rto(): number {
    return Math.min(this.bounds.max, this.base * this.backoff);
  }

  /** Feeds one RTT sample (Karn: only from datagrams transmitted once). */
  sample(ms: number): void {
    const r = Math.max(ms, 0.001);
    this.latest = r;
    this.est.update(r / 1000);
    this.base = Math.min(this.bounds.max, Math.max(this.bounds.min, this.srtt + 4 * this.rttvar));
    this.backoff = 1;
  }

  /** The RTO expired: double it (up to the max). */
  expire(): void {
    if (this.base * this.backoff < this.bounds.max) this.backoff *= 2;
  }
}

/** Congestion window in datagrams. */
export class CongestionWindow {
  /** Datagrams that may be in flight. */
  cwnd = INITIAL_CWND;
  /** Slow-start threshold, datagrams. */
  ssthresh = Infinity;
  /** Loss events that reduced the window (one per window of data). */
  reductions = 0;
  /** A loss of a datagram at or above this sequence number starts a new loss event. */
  private recoveryPoint = 0;

  constructor(private readonly max: number) {}

  /** `n` datagrams were newly acknowledged. */
  onAcked(n: number): void {
    if (this.cwnd < this.ssthresh) this.cwnd += n;
    else this.cwnd += n / this.cwnd;
    if (this.cwnd > this.max) this.cwnd = this.max;
  }

  /** Datagram `seq` was declared lost; `next` is the next new sequence number. */
  onLoss(seq: number, next: number): void {
    if (seq < this.recoveryPoint) return;
    this.recoveryPoint = next;
    this.reductions++;
    this.ssthresh = Math.max(MIN_CWND, this.cwnd * BETA);
    this.cwnd = this.ssthresh;
  }

  /** The RTO expired: restart from the floor in slow start. */
  onTimeout(next: number): void {
    this.recoveryPoint = next;
    this.reductions++;
    this.ssthresh = Math.max(MIN_CWND, this.cwnd * BETA);
    this.cwnd = MIN_CWND;
  }
}
