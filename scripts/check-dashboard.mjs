#!/usr/bin/env node
/**
 * `npm run check:dashboard`: does every panel of docs/grafana-dashboard.json show data?
 *
 * Starts two stacks (from dist/) in this process with traffic of every kind the panels
 * chart (a bulk socket, a latency ping-pong, latency sockets opened and closed, refused
 * connects) and `/metrics` on loopback; starts a real Prometheus (the `prometheus`
 * binary on PATH, or $PROMETHEUS) scraping both every second; then evaluates every panel
 * query and template variable through the Prometheus HTTP API (`$instance`/`$peer` = all,
 * `$__rate_interval` = 10s) and prints each panel's series count. Fails when a panel has
 * no series, unless its description marks it as a placeholder (docs/metrics.md lists them).
 * Skips (exit 0) with a message when Prometheus is not installed; installs nothing.
 *   node scripts/check-dashboard.mjs [--seconds N]   (default 12 s of traffic)
 * @packageDocumentation
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = process.argv.indexOf('--seconds');
const seconds = arg > 0 ? Number(process.argv[arg + 1]) : 12;
if (!Number.isInteger(seconds) || seconds < 5 || seconds > 600) {
  console.error(`--seconds must be an integer 5-600, got ${JSON.stringify(process.argv[arg + 1])}`);
  process.exit(2);
}
const RATE_INTERVAL = '10s';

const promBin = process.env.PROMETHEUS ?? 'prometheus';
const probe = spawnSync(promBin, ['--version'], { encoding: 'utf8' });
if (probe.error || probe.status !== 0) {
  console.log(`check:dashboard skipped: '${promBin}' not found (install Prometheus, e.g. Debian's \`apt-get install prometheus\`, or set PROMETHEUS=/path/to/prometheus)`);
  process.exit(0);
}
console.log(`using ${probe.stdout.split('\n')[0]}`);

const { createStack } = await import(path.join(root, 'dist/index.js'));
const dashboard = JSON.parse(readFileSync(path.join(root, 'docs/grafana-dashboard.json'), 'utf8'));
const docs = readFileSync(path.join(root, 'docs/metrics.md'), 'utf8');

const freePort = () =>
  new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
const delay = (ms) => new Promise((r) => setTimeout(r, ms));
/** Polls `fn` every 250 ms until it returns a truthy value or `ms` pass. */
async function until(fn, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await delay(250);
  }
}

const work = mkdtempSync(path.join(tmpdir(), 'netchannel-check-dashboard-'));
const cleanups = [];
let prom;
let exitCode = 1;
try {
  // ---- two stacks with traffic and /metrics ---------------------------------------------------
  const a = await createStack({ listen: ['tcp://127.0.0.1:0'], channels: { throughput: 4, latency: 1 } });
  const b = await createStack({ channels: { throughput: 4, latency: 1 } });
  cleanups.push(() => b.destroy(), () => a.destroy());
  (await a.listen(80)).on('connection', (s) => s.on('error', () => {}).resume());
  (await a.listen(7)).on('connection', (s) => s.on('error', () => {}).pipe(s));
  const endpoints = [await a.serveMetrics({ port: 0 }), await b.serveMetrics({ port: 0 })];
  console.log(`stacks ${a.hostId.slice(0, 8)} (listens ${a.addresses[0]}) and ${b.hostId.slice(0, 8)}; metrics at ${endpoints.map((e) => e.url).join(', ')}`);

  // ---- Prometheus --------------------------------------------------------------------------------
  const promPort = await freePort();
  const config = path.join(work, 'prometheus.yml');
  writeFileSync(
    config,
    [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      'scrape_configs:',
      '  - job_name: netchannel',
      '    static_configs:',
      `      - targets: [${endpoints.map((e) => `'127.0.0.1:${e.port}'`).join(', ')}]`,
      '',
    ].join('\n'),
  );
  prom = spawn(promBin, [`--config.file=${config}`, `--storage.tsdb.path=${path.join(work, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let promLog = '';
  prom.stderr.on('data', (d) => (promLog = (promLog + d).slice(-4000)));
  prom.on('exit', (code) => code !== null && code !== 0 && console.error(`prometheus exited with ${code}:\n${promLog}`));
  const api = `http://127.0.0.1:${promPort}`;
  await until(async () => (await fetch(`${api}/-/ready`)).ok, 30_000, 'Prometheus to be ready');
  await until(
    async () => {
      const t = await (await fetch(`${api}/api/v1/targets`)).json();
      return t.data.activeTargets.length === 2 && t.data.activeTargets.every((x) => x.health === 'up');
    },
    30_000,
    'both scrape targets to be up',
  );
  console.log(`prometheus on ${api} scrapes both stacks every 1 s; ${seconds} s of traffic`);

  // ---- traffic ----------------------------------------------------------------------------------
  const stop = AbortSignal.timeout(seconds * 1000);
  const bulk = await b.connect(a.addresses[0], 80);
  const chunk = Buffer.alloc(256 * 1024, 7);
  const bulkDone = (async () => {
    while (!stop.aborted) if (!bulk.write(chunk)) await new Promise((r) => bulk.once('drain', r));
    bulk.end();
  })();
  const ping = await b.connect(a.addresses[0], 7, { appClass: 'latency' });
  const pingDone = (async () => {
    const msg = Buffer.alloc(4096, 1);
    while (!stop.aborted) {
      let got = 0;
      const echoed = new Promise((resolve) => {
        const on = (d) => {
          got += d.length;
          if (got >= msg.length) {
            ping.off('data', on);
            resolve();
          }
        };
        ping.on('data', on);
      });
      ping.write(msg);
      await echoed;
    }
    ping.end();
  })();
  const churnDone = (async () => {
    for (let i = 0; !stop.aborted; i++) {
      const s = await b.connect(a.addresses[0], 7, { appClass: 'latency' });
      s.end('x');
      s.resume();
      if (i % 10 === 0) await b.connect(a.addresses[0], 99).catch(() => {}); // refused: nobody listens on 99
      await delay(50);
    }
  })();
  await Promise.all([bulkDone, pingDone, churnDone]);
  await delay(2500); // two more scrapes after the traffic

  // ---- evaluate every query ---------------------------------------------------------------------
  const expand = (expr) => expr.replaceAll('$__rate_interval', RATE_INTERVAL).replaceAll('$instance', '.*').replaceAll('$peer', '.*');
  const query = async (expr) => {
    const r = await (await fetch(`${api}/api/v1/query?query=${encodeURIComponent(expr)}`)).json();
    if (r.status !== 'success') throw new Error(`query failed: ${expr}: ${r.error}`);
    return r.data.result;
  };
  const rows = [];
  let empty = 0;
  for (const v of dashboard.templating?.list ?? []) {
    const m = /^label_values\((.*),\s*(\w+)\)$/.exec(v.query?.query ?? v.definition ?? '');
    if (!m) continue;
    const values = new Set((await query(expand(m[1]))).map((s) => s.metric[m[2]]));
    rows.push({ title: `variable $${v.name}`, series: values.size, numeric: values.size, note: [...values].map((x) => (/^[0-9a-f]{32}$/.test(x) ? x.slice(0, 8) : x)).join(' ') });
    if (values.size === 0) empty++;
  }
  for (const p of dashboard.panels) {
    if (p.type === 'row' || !p.targets) continue;
    let series = 0;
    let numeric = 0;
    for (const t of p.targets) {
      const res = await query(expand(t.expr));
      series += res.length;
      numeric += res.filter((s) => Number.isFinite(Number(s.value[1]))).length;
    }
    const placeholder = /placeholder/i.test(p.description ?? '') && docs.includes('placeholder panel');
    const note = series > 0 ? (numeric < series ? `${series - numeric} NaN` : '') : placeholder ? 'empty: documented placeholder' : 'EMPTY';
    if (series === 0 && !placeholder) empty++;
    rows.push({ title: p.title, series, numeric, note });
  }
  const w = Math.max(...rows.map((r) => r.title.length));
  console.log(`\n${'panel'.padEnd(w)}  series  note`);
  for (const r of rows) console.log(`${r.title.padEnd(w)}  ${String(r.series).padStart(6)}  ${r.note}`);
  console.log(`\n${rows.length} rows (panels and variables); ${empty === 0 ? 'every non-placeholder panel has data' : `${empty} EMPTY`}`);
  exitCode = empty === 0 ? 0 : 1;
  for (const e of endpoints) await e.close();
  await b.close();
  await a.close();
} catch (err) {
  console.error(`check:dashboard failed: ${err instanceof Error ? err.message : String(err)}`);
} finally {
  for (const c of cleanups) c();
  if (prom && prom.exitCode === null) {
    prom.kill('SIGTERM');
    await Promise.race([new Promise((r) => prom.once('exit', r)), delay(10_000)]);
    if (prom.exitCode === null) prom.kill('SIGKILL');
  }
  rmSync(work, { recursive: true, force: true });
}
process.exit(exitCode);
