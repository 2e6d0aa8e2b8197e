/**
 * Sequence-number arithmetic modulo 2^32 (RFC 1982 serial numbers).
 * @packageDocumentation
 */

/** Signed distance `a - b` modulo 2^32, in [-2^31, 2^31). */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

/** `a + n` modulo 2^32, as an unsigned number. */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}
