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

/**
 * Largest grant a peer may announce beyond what it acknowledged: the largest receive
 * window a stack can have (`window` ≤ 256 MiB plus `scheduler.holExpansion` ≤ 256 MiB).
 * A SYNC, SYNC_ACK or CREDIT granting more is a protocol violation (RST PROTOCOL).
 */
export const MAX_GRANT = 512 * 1024 * 1024;
