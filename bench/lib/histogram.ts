/**
 * Latency histograms (hdr-histogram-js), recorded in microseconds.
 * @packageDocumentation
 */
import hdr from 'hdr-histogram-js';

/** Percentiles of one recorded histogram, µs. */
export interface LatencyFigures {
  /** Samples recorded. */
  count: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
  meanUs: number;
}

/** A latency recorder with 3 significant digits from 1 µs to 60 s. */
export class LatencyRecorder {
  private readonly h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3, bitBucketSize: 32 });

  /** Records the time since `startNs` (a `process.hrtime.bigint()` value). */
  recordSince(startNs: bigint): void {
    this.recordUs(Number(process.hrtime.bigint() - startNs) / 1000);
  }

  /** Records one value, µs (clamped to 1 µs – 60 s). */
  recordUs(us: number): void {
    this.h.recordValue(Math.min(60_000_000, Math.max(1, Math.round(us))));
  }

  /** Percentiles recorded so far (all zero when empty). */
  figures(): LatencyFigures {
    const h = this.h;
    return {
      count: h.totalCount,
      p50Us: h.getValueAtPercentile(50),
      p99Us: h.getValueAtPercentile(99),
      p999Us: h.getValueAtPercentile(99.9),
      maxUs: h.maxValue,
      meanUs: h.totalCount === 0 ? 0 : h.mean,
    };
  }

  /** Compressed base64 encoding (hdr standard), for raw results. */
  encode(): string {
    return hdr.encodeIntoCompressedBase64(this.h);
  }
}
