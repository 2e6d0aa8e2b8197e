/**
 * NetScheduler: pluggable policies that decide which channel carries each segment,
 * how many channels each class has, and where data is copied; plus receive-side
 * priority and the control loop.
 * @packageDocumentation
 */
export * from './policy.js';
export * from './round-robin.js';
export * from './earliest-completion.js';
export * from './source-port-hash.js';
export * from './shortest-queue.js';
export * from './dedicated.js';
export * from './scaling.js';
export * from './placement.js';
export * from './rx-priority.js';
export * from './control-loop.js';
export * from './path-manager.js';
export * from './tx-slicer.js';
