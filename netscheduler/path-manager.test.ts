import { describe, expect, it } from 'vitest';
import { definePathManager, isPathManagerFactory, spreadPaths, type PathView } from './path-manager.js';

const path = (address: string, rtt: number, local = false): PathView => ({ address, rtt, local });

describe('spreadPaths (default path manager)', () => {
  const plan = spreadPaths()({ appClass: 'throughput' }).plan;
  it('spreads the throughput channels over the paths and puts the latency channels on the lowest-RTT path', () => {
    const paths = [path('tcp://10.0.0.2:1', 0.004), path('tcp://10.1.0.2:1', 0.001), path('tcp://10.2.0.2:1', 0.002)];
    expect(plan(paths, { throughput: 4, latency: 1 })).toEqual({ throughput: [2, 1, 1], latency: [0, 1, 0] });
  });
  it('gives every path at least one throughput channel, even with fewer configured', () => {
    expect(plan([path('a://1', 0.001), path('b://1', 0.001), path('c://1', 0.001)], { throughput: 1, latency: 0 }).throughput).toEqual([1, 1, 1]);
  });
  it('same-host shortcut: only local paths are used when there are any', () => {
    const paths = [path('tcp://127.0.0.1:1', 0.0001), path('unix:///run/a.sock', 0.0002, true)];
    expect(plan(paths, { throughput: 4, latency: 1 })).toEqual({ throughput: [0, 4], latency: [0, 1] });
  });
  it('is a branded factory like the other plug-ins, named once', () => {
    const f = definePathManager('mine', () => ({ plan: (p, c) => ({ throughput: p.map(() => c.throughput), latency: p.map(() => 0) }) }));
    expect(isPathManagerFactory(f)).toBe(true);
    expect(isPathManagerFactory(() => ({}))).toBe(false);
    expect(f({ appClass: 'throughput' }).name).toBe('mine');
    expect(spreadPaths().policyName).toBe('spread');
  });
});
