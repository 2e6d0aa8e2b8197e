/**
 * NetScheduler: pluggable policies that decide which channel carries each segment.
 * @packageDocumentation
 */
export * from './policy.js';
export * from './round-robin.js';
