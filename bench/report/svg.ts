/**
 * A small SVG bar-chart writer (no dependencies): panels of grouped bars with value
 * labels, min–max whiskers, a y axis (linear or log) with grid lines, a title and a legend.
 * @packageDocumentation
 */

/** One bar: the median and optionally the spread over runs. */
export interface Bar {
  value: number;
  min?: number;
  max?: number;
}

/** A named series; `values[i]` belongs to `categories[i]` of the panel (null = no bar). */
export interface Series {
  name: string;
  values: (Bar | null)[];
}

/** One plot: categories on x, one bar per series in each category. */
export interface Panel {
  title: string;
  /** Y axis label, with unit. */
  yLabel: string;
  categories: string[];
  series: Series[];
  /** Logarithmic y axis (for values spanning decades). @default false */
  log?: boolean;
}

/** A chart: panels stacked vertically under one title. */
export interface Chart {
  title: string;
  subtitle?: string;
  panels: Panel[];
}

const PALETTE = ['#4269d0', '#efb118', '#ff725c', '#6cc5b0', '#3ca951', '#a463f2', '#97bbf5', '#9c6b4e'];
const WIDTH = 960;
const PANEL_H = 330;
const TOP = 64;
const M = { left: 78, right: 24, top: 46, bottom: 64 };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Compact number: 3 significant digits, k/M/G suffixes from 10,000 up. */
export function compact(v: number): string {
  const a = Math.abs(v);
  const p3 = (x: number): string => String(Number(x.toPrecision(3)));
  if (a >= 1e9) return `${p3(v / 1e9)}G`;
  if (a >= 1e6) return `${p3(v / 1e6)}M`;
  if (a >= 1e4) return `${p3(v / 1e3)}k`;
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return String(Number(v.toFixed(1)));
  if (a === 0) return '0';
  return v.toPrecision(2);
}

function niceStep(range: number, ticks: number): number {
  const raw = range / ticks;
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * p;
}

interface Scale {
  y(v: number): number;
  ticks: number[];
}

function scaleFor(p: Panel, top: number, bottom: number): Scale {
  const bars = p.series.flatMap((s) => s.values.filter((b): b is Bar => b !== null));
  const hi = Math.max(...bars.map((b) => Math.max(b.value, b.max ?? b.value)), 0);
  if (p.log) {
    const positive = bars.flatMap((b) => [b.value, b.min ?? b.value]).filter((v) => v > 0);
    const lo = 10 ** Math.floor(Math.log10(Math.min(...positive, hi > 0 ? hi : 1)));
    const top10 = 10 ** Math.ceil(Math.log10(Math.max(hi, lo * 10)) + 0.05);
    const l0 = Math.log10(lo);
    const l1 = Math.log10(top10);
    const ticks: number[] = [];
    for (let e = Math.round(l0); e <= Math.round(l1); e++) ticks.push(10 ** e);
    return { y: (v) => bottom - ((Math.log10(Math.max(v, lo)) - l0) / (l1 - l0)) * (bottom - top), ticks };
  }
  const step = niceStep(hi > 0 ? hi * 1.12 : 1, 5);
  const max = Math.ceil((hi > 0 ? hi * 1.12 : 1) / step) * step;
  const ticks: number[] = [];
  for (let v = 0; v <= max + step / 2; v += step) ticks.push(v);
  return { y: (v) => bottom - (v / max) * (bottom - top), ticks };
}

/** Splits a label into at most two lines of about `width` characters. */
function wrap(label: string, width: number): string[] {
  if (label.length <= width) return [label];
  const words = label.split(' ');
  let a = '';
  let i = 0;
  while (i < words.length && (a + ' ' + words[i]).trim().length <= width) a = (a + ' ' + words[i++]).trim();
  if (a === '') return [label.slice(0, width), label.slice(width)];
  return [a, words.slice(i).join(' ')];
}

function renderPanel(p: Panel, y0: number, out: string[]): void {
  const left = M.left;
  const right = WIDTH - M.right;
  const top = y0 + M.top;
  const bottom = y0 + PANEL_H - M.bottom;
  const s = scaleFor(p, top, bottom);
  out.push(`<text x="${left}" y="${y0 + 22}" class="pt">${esc(p.title)}</text>`);
  // legend, right-aligned on the title line
  let lx = right;
  for (let i = p.series.length - 1; i >= 0; i--) {
    const name = p.series[i]!.name;
    const w = name.length * 6.6 + 24;
    lx -= w;
    out.push(`<rect x="${lx.toFixed(1)}" y="${y0 + 12}" width="12" height="12" fill="${PALETTE[i % PALETTE.length]}"/>`);
    out.push(`<text x="${(lx + 16).toFixed(1)}" y="${y0 + 22}" class="lg">${esc(name)}</text>`);
  }
  // grid and y axis
  for (const t of s.ticks) {
    const y = s.y(t).toFixed(1);
    out.push(`<line x1="${left}" y1="${y}" x2="${right}" y2="${y}" class="grid"/>`);
    out.push(`<text x="${left - 6}" y="${y}" dy="4" class="tick" text-anchor="end">${compact(t)}</text>`);
  }
  out.push(`<line x1="${left}" y1="${top - 4}" x2="${left}" y2="${bottom}" class="axis"/>`);
  out.push(`<line x1="${left}" y1="${bottom}" x2="${right}" y2="${bottom}" class="axis"/>`);
  const my = (top + bottom) / 2;
  out.push(`<text transform="translate(${left - 56},${my}) rotate(-90)" class="yl" text-anchor="middle">${esc(p.yLabel)}${p.log ? ' (log scale)' : ''}</text>`);
  // bars
  const n = p.categories.length;
  const groupW = (right - left) / Math.max(1, n);
  const k = p.series.length;
  const barW = Math.min(64, (groupW * 0.78) / k);
  const valueFont = barW < 30 ? 9 : 11;
  p.categories.forEach((cat, ci) => {
    const gx = left + ci * groupW + (groupW - barW * k) / 2;
    p.series.forEach((ser, si) => {
      const b = ser.values[ci];
      if (!b) return;
      const x = gx + si * barW;
      const yv = s.y(b.value);
      out.push(`<rect x="${(x + 1).toFixed(1)}" y="${yv.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${Math.max(0, bottom - yv).toFixed(1)}" fill="${PALETTE[si % PALETTE.length]}"><title>${esc(`${cat} ${ser.name}: ${b.value}`)}</title></rect>`);
      let labelY = yv - 4;
      if (b.min !== undefined && b.max !== undefined && b.max > b.min) {
        const cx = (x + barW / 2).toFixed(1);
        const y1 = s.y(b.min).toFixed(1);
        const y2 = s.y(b.max);
        const cap = Math.min(6, barW / 4);
        out.push(`<path d="M${cx},${y1}V${y2.toFixed(1)}M${(x + barW / 2 - cap).toFixed(1)},${y2.toFixed(1)}h${2 * cap}M${(x + barW / 2 - cap).toFixed(1)},${y1}h${2 * cap}" class="wh"/>`);
        labelY = Math.min(labelY, y2 - 4);
      }
      out.push(`<text x="${(x + barW / 2).toFixed(1)}" y="${labelY.toFixed(1)}" class="val" font-size="${valueFont}" text-anchor="middle">${compact(b.value)}</text>`);
    });
    const lines = wrap(cat, Math.max(8, Math.floor(groupW / 7)));
    lines.forEach((line, li) => {
      out.push(`<text x="${(left + ci * groupW + groupW / 2).toFixed(1)}" y="${bottom + 18 + li * 14}" class="cat" text-anchor="middle">${esc(line)}</text>`);
    });
  });
}

/** Renders `chart` as a standalone SVG document. */
export function renderSvg(chart: Chart): string {
  const height = TOP + chart.panels.length * PANEL_H + 10;
  const out: string[] = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">`,
    `<style>.t{font-size:19px;font-weight:bold;fill:#222}.st{font-size:12px;fill:#555}.pt{font-size:14px;font-weight:bold;fill:#333}.lg{font-size:12px;fill:#333}.tick{font-size:11px;fill:#555}.yl{font-size:12px;fill:#333}.cat{font-size:12px;fill:#222}.val{fill:#111}.grid{stroke:#e4e4e4;stroke-width:1}.axis{stroke:#666;stroke-width:1}.wh{stroke:#222;stroke-width:1.2;fill:none}</style>`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="${M.left}" y="30" class="t">${esc(chart.title)}</text>`,
  ];
  if (chart.subtitle) out.push(`<text x="${M.left}" y="50" class="st">${esc(chart.subtitle)}</text>`);
  chart.panels.forEach((p, i) => renderPanel(p, TOP + i * PANEL_H, out));
  out.push('</svg>');
  return out.join('\n') + '\n';
}
