import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createStack } from '../index.js';
import { isMetricsRegistry, resolveProcessMetrics } from './registry.js';

/** A sample line of the exposition, e.g. `name{a="x"} 1`. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v) && Object.keys(got).length === Object.keys(labels).length) return Number(m[3]);
  }
  return undefined;
}

/**
 * A registry that is not an instance of this prom-client's `Registry`: the API of
 * prom-client 14's (a consumer's own copy), storing metrics and rendering their `get()`.
 */
class ForeignRegistry {
  readonly contentType = 'text/plain; version=0.0.4; charset=utf-8';
  private readonly byName = new Map<string, { name: string; get(): Promise<{ name: string; type: string; values: Array<{ labels: Record<string, string | number>; value: number; metricName?: string }> }> }>();
  registerMetric(metric: { name: string; get(): never }): void {
    if (this.byName.has(metric.name)) throw new Error(`A metric with the name ${metric.name} has already been registered.`);
    this.byName.set(metric.name, metric);
  }
  getSingleMetric(name: string): unknown {
    return this.byName.get(name);
  }
  removeSingleMetric(name: string): void {
    this.byName.delete(name);
  }
  async metrics(): Promise<string> {
    const out: string[] = [];
    for (const metric of this.byName.values()) {
      const item = await metric.get();
      out.push(`# TYPE ${item.name} ${item.type}`);
      for (const v of item.values) {
        const labels = Object.entries(v.labels).map(([k, x]) => `${k}="${x}"`).join(',');
        out.push(`${v.metricName ?? item.name}${labels ? `{${labels}}` : ''} ${v.value}`);
      }
    }
    return `${out.join('\n')}\n`;
  }
}

describe('metrics registry option (by shape) and metric fixes', () => {
  it('accepts a registry from another prom-client copy by its shape, not instanceof', async () => {
    const foreign = new ForeignRegistry();
    expect(foreign instanceof Registry).toBe(false);
    expect(isMetricsRegistry(foreign)).toBe(true);
    expect(isMetricsRegistry(new Registry())).toBe(true);
    for (const bad of [undefined, null, {}, { metrics: () => '' }, new Map()]) expect(isMetricsRegistry(bad)).toBe(false);
    const s = await createStack({ metrics: { registry: foreign, defaultMetrics: true } });
    try {
      const text = await foreign.metrics();
      expect(sample(text, 'netchannel_sockets_open', { class: 'throughput' })).toBe(0);
      expect(text).toMatch(/^process_cpu_seconds_total /m);
    } finally {
      await s.close();
    }
    expect(foreign.getSingleMetric('netchannel_sockets_open')).toBeUndefined(); // a shared registry is cleaned up
    await expect(createStack({ metrics: { registry: new Map() as never } })).rejects.toMatchObject({
      code: 'NETCHANNEL_ERR_INVALID_ARG',
      message: expect.stringMatching(/options\.metrics\.registry must be a prom-client Registry .*got an instance of Map/),
    });
  });

  it('process metrics keep their standard names, under a configurable prefix', async () => {
    const plain = await createStack({ metrics: { defaultMetrics: true } });
    const prefixed = await createStack({ metrics: { defaultMetrics: { prefix: 'edge_' } } });
    try {
      const a = await plain.registry.metrics();
      expect(a).toMatch(/^process_cpu_seconds_total /m);
      expect(a).toMatch(/^nodejs_eventloop_lag_seconds /m);
      expect(a).not.toMatch(/process_process_/);
      expect(await prefixed.registry.metrics()).toMatch(/^edge_process_cpu_seconds_total /m);
    } finally {
      await Promise.all([plain.close(), prefixed.close()]);
    }
    expect(resolveProcessMetrics(undefined)).toBeNull();
    expect(resolveProcessMetrics(true)).toEqual({ prefix: '' });
    await expect(createStack({ metrics: { defaultMetrics: { prefix: 'a-b' } } })).rejects.toThrow(/options\.metrics\.defaultMetrics\.prefix must be .*"a-b"/);
    await expect(createStack({ metrics: { defaultMetrics: 'yes' as never } })).rejects.toThrow(/options\.metrics\.defaultMetrics must be a boolean or \{ prefix \}, got "yes"/);
  });

  it('netchannel_scaling_actions_total has zero series for every class and direction before any scaling', async () => {
    const s = await createStack();
    try {
      const text = await s.registry.metrics();
      for (const cls of ['throughput', 'latency']) {
        for (const direction of ['up', 'down']) expect(sample(text, 'netchannel_scaling_actions_total', { class: cls, policy: 'saturation', direction })).toBe(0);
      }
    } finally {
      await s.close();
    }
  });

  it('a connect to an address where nobody listens counts in errors_total and the refusals', async () => {
    const probe = await createStack({ listen: ['tcp://127.0.0.1:0'] });
    const dead = probe.addresses[0]!;
    await probe.close();
    const s = await createStack({ channels: { throughput: 1, latency: 1 } });
    try {
      await expect(s.connect(dead, 80, { appClass: 'latency' })).rejects.toMatchObject({ code: 'NETCHANNEL_ERR_DIAL_FAILED' });
      await expect(s.connect(dead, 81)).rejects.toMatchObject({ code: 'NETCHANNEL_ERR_DIAL_FAILED' });
      const text = await s.registry.metrics();
      expect(sample(text, 'netchannel_errors_total', { code: 'NETCHANNEL_ERR_DIAL_FAILED' })).toBe(2);
      expect(sample(text, 'netchannel_socket_refusals_total', { class: 'latency', code: 'NETCHANNEL_ERR_DIAL_FAILED' })).toBe(1);
      expect(sample(text, 'netchannel_socket_refusals_total', { class: 'throughput', code: 'NETCHANNEL_ERR_DIAL_FAILED' })).toBe(1);
    } finally {
      await s.close();
    }
  });
});
