/**
 * Chart panels built from scenario medians.
 * @packageDocumentation
 */
import type { Bar, Panel } from '../report/svg.js';
import type { Medians } from './summary.js';
import type { CaseDef } from './types.js';

/** A bar (median, min–max) of `key` for `label`, or null when missing. */
export function barOf(m: Medians, label: string, key: string, scale = 1): Bar | null {
  const s = m[label]?.[key];
  return s ? { value: s.median * scale, min: s.min * scale, max: s.max * scale } : null;
}

/** One bar per case for metric `key`. */
export function barPanel(title: string, yLabel: string, cases: readonly CaseDef[], m: Medians, key: string, scale = 1, log = false): Panel {
  return {
    title,
    yLabel,
    log,
    categories: cases.map((c) => c.label),
    series: [{ name: 'median (whiskers: min–max)', values: cases.map((c) => barOf(m, c.label, key, scale)) }],
  };
}

/** Grouped bars: categories × series, each series a metric key. */
export function groupedPanel(title: string, yLabel: string, categories: readonly string[], series: readonly { name: string; key: string; label?: (category: string) => string }[], m: Medians, log = false, scale = 1): Panel {
  return {
    title,
    yLabel,
    log,
    categories: [...categories],
    series: series.map((s) => ({ name: s.name, values: categories.map((c) => barOf(m, s.label ? s.label(c) : c, s.key, scale)) })),
  };
}
