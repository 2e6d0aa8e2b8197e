#!/usr/bin/env node
/**
 * `npm run check:package`: checks the package as a consumer gets it.
 *
 * 1. `npm pack` (runs the `prepare` build) into a temporary folder; checks the file list
 *    (no tests, test fixtures, examples other than the `netchannel demo` one, source maps
 *    or bench code that `netchannel bench` does not run; LICENSE and the CLI present).
 * 2. Installs the tarball in a fresh ESM project (from the tarball and npm's cache,
 *    `--prefer-offline`; vitest for `netchannel/compliance`).
 * 3. Imports every export subpath; `require('netchannel')` (require(esm), Node >= 20.19).
 * 4. Type-checks a consumer file importing every subpath with `skipLibCheck: false`
 *    (the project's own TypeScript).
 * 5. Runs `netchannel --version`, `netchannel tunnel --help` and one run of
 *    `netchannel bench open-close --quick`.
 * Prints the packed size and file count. Exit code 0 when everything passed.
 * @packageDocumentation
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const keep = process.argv.includes('--keep');
const work = mkdtempSync(path.join(tmpdir(), 'netchannel-check-package-'));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const t0 = performance.now();
let failures = 0;

function step(name) {
  process.stdout.write(`\n== ${name}\n`);
}
function ok(what) {
  process.stdout.write(`ok   ${what}\n`);
}
function fail(what) {
  failures++;
  process.stdout.write(`FAIL ${what}\n`);
}
function check(cond, what) {
  if (cond) ok(what);
  else fail(what);
}
/** Runs a command; returns stdout; on failure prints its output and counts a failure (or throws when `fatal`). */
function run(cmd, args, { cwd, fatal = true, timeout = 120_000, env } = {}) {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', timeout, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  } catch (err) {
    const out = `${err.stdout ?? ''}${err.stderr ?? ''}`.trim();
    const msg = `${cmd} ${args.join(' ')} failed (${err.status ?? err.signal ?? err.code})${out ? `:\n${out.split('\n').slice(-40).join('\n')}` : ''}`;
    if (fatal) throw new Error(msg);
    fail(msg);
    return null;
  }
}

try {
  // ---- 1. pack -------------------------------------------------------------------------
  step('npm pack');
  const packDir = path.join(work, 'pack');
  mkdirSync(packDir);
  const packed = JSON.parse(run(npm, ['pack', '--json', '--pack-destination', packDir], { cwd: root, timeout: 300_000 }))[0];
  const files = packed.files.map((f) => f.path);
  const tarball = path.join(packDir, packed.filename);
  process.stdout.write(`${packed.filename}: ${packed.size} B packed, ${packed.unpackedSize} B unpacked, ${packed.entryCount} files\n`);
  const bad = [
    [/\.test\.[cm]?[jt]s$|\.test\.d\.ts$/, 'test files'],
    [/^dist\/test\//, 'test fixtures (dist/test)'],
    [/(^|\/)fixtures\//, 'fixtures'],
    [/^dist\/examples\/(?!demo\/)/, 'examples (other than the demo `netchannel demo` runs)'],
    [/\.map$/, 'source maps (none are shipped: the sources are not)'],
    [/^dist\/bench\/(?!(cli|child|runner)\.(js|d\.ts)$|(lib|pipes|report|scenarios)\/)/, 'bench code `netchannel bench` does not run'],
    [/^(?!dist\/|docs\/|README\.md$|LICENSE$|package\.json$)/, 'files outside dist/, docs/, README.md, LICENSE'],
  ];
  for (const [re, what] of bad) {
    const hits = files.filter((f) => re.test(f));
    check(hits.length === 0, `no ${what}${hits.length ? `: ${hits.slice(0, 5).join(', ')}${hits.length > 5 ? ', …' : ''}` : ''}`);
  }
  for (const f of ['LICENSE', 'README.md', 'package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'dist/bench/cli.js', 'dist/bench/child.js', 'dist/examples/demo/main.js']) {
    check(files.includes(f), `ships ${f}`);
  }
  check(pkg.bin && Object.values(pkg.bin).every((p) => !p.startsWith('./')), 'bin paths without ./');
  check(typeof pkg.repository?.url === 'string', 'repository field');
  check(pkg.license === 'MIT' && readFileSync(path.join(root, 'LICENSE'), 'utf8').startsWith('MIT License'), 'MIT license file');

  // ---- 2. install in a consumer ------------------------------------------------------------
  step('install the tarball in a temporary ESM project');
  const app = path.join(work, 'app');
  mkdirSync(app);
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'netchannel-consumer', private: true, type: 'module' }, null, 2));
  const vitestVersion = JSON.parse(readFileSync(path.join(root, 'node_modules/vitest/package.json'), 'utf8')).version;
  run(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tarball, `vitest@${vitestVersion}`], { cwd: app, timeout: 300_000 });
  const installed = path.join(app, 'node_modules', 'netchannel');
  check(existsSync(path.join(installed, 'dist/index.js')), 'node_modules/netchannel/dist/index.js installed');

  // ---- 3. every subpath imports; require() works ---------------------------------------------
  step('import every export subpath; require()');
  const subpaths = [];
  for (const [key, target] of Object.entries(pkg.exports)) {
    if (key === './package.json') continue;
    const spec = key === '.' ? 'netchannel' : `netchannel/${key.slice(2)}`;
    if (!spec.includes('*')) {
      subpaths.push(spec);
      continue;
    }
    // A wildcard subpath (./transports/*): every folder of the installed package that has its target file.
    const [before, after] = target.default.split('*');
    const dir = path.join(installed, before);
    for (const name of readdirSync(dir)) if (existsSync(path.join(dir, name + after))) subpaths.push(spec.replace('*', name));
  }
  for (const spec of subpaths) {
    const out = run(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(spec)}); console.log(Object.keys(m).length);`], { cwd: app, fatal: false });
    if (out !== null) check(Number(out.trim()) > 0, `import '${spec}' (${out.trim()} exports)`);
  }
  const req = run(process.execPath, ['-e', "const nc = require('netchannel'); const m = require('netchannel/metrics'); console.log(typeof nc.createStack, typeof m.StackMetrics)"], { cwd: app, fatal: false });
  if (req !== null) check(req.trim().endsWith('function function'), `require('netchannel') and require('netchannel/metrics') on Node ${process.version}`);
  const live = run(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { createStack } from 'netchannel';
       const a = await createStack({ listen: ['tcp://127.0.0.1:0'] });
       (await a.listen(80)).on('connection', (s) => s.pipe(s));
       const b = await createStack();
       const s = await b.connect(a.addresses[0], 80);
       s.end('ping'); let got = ''; for await (const c of s) got += c;
       await b.close(); await a.close(); console.log(got);`,
    ],
    { cwd: app, fatal: false, timeout: 30_000 },
  );
  if (live !== null) check(live.trim() === 'ping', 'an installed stack echoes over tcp');

  // ---- 4. the shipped declarations type-check --------------------------------------------------
  step('type-check a consumer with skipLibCheck: false');
  const imports = subpaths.map((spec, i) => `import * as m${i} from '${spec}';`).join('\n');
  writeFileSync(
    path.join(app, 'consumer.ts'),
    `${imports}
import { createStack, type StackOptions, type VirtualSocket, NetChannelError, DIAGNOSTICS_CHANNELS } from 'netchannel';
import { StackMetrics, serveMetrics, type MetricsRegistry } from 'netchannel/metrics';
import { ws } from 'netchannel/transports/ws';
import { Registry } from 'prom-client';

export const all = [${subpaths.map((_, i) => `m${i}`).join(', ')}];
const registry: MetricsRegistry = new Registry();
const options: StackOptions = { listen: ['tcp://127.0.0.1:0'], transports: [ws()], metrics: { registry, defaultMetrics: { prefix: 'app_' } } };
export async function main(): Promise<void> {
  const stack = await createStack(options);
  stack.events$.subscribe((e) => console.log(e.type, e.at));
  const socket: VirtualSocket = await stack.connect(stack.addresses[0]!, 80);
  socket.end();
  const server = await serveMetrics(stack.registry, { port: 0 });
  await server.close();
  const err: unknown = null;
  if (err instanceof NetChannelError) console.log(err.code);
  console.log(DIAGNOSTICS_CHANNELS.socketOpen, StackMetrics.name);
  await stack.close();
}
`,
  );
  writeFileSync(
    path.join(app, 'tsconfig.json'),
    JSON.stringify(
      {
        compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: false, noEmit: true, types: ['node'] },
        files: ['consumer.ts', 'readme.ts'],
      },
      null,
      2,
    ),
  );
  // The README's consumer quick start (its first ts block) must compile as written.
  const readmeTs = /```ts\n([\s\S]*?)```/.exec(readFileSync(path.join(root, 'README.md'), 'utf8'))?.[1] ?? '';
  check(readmeTs.includes("from 'netchannel"), 'README has a consumer quick start (ts block importing netchannel)');
  writeFileSync(path.join(app, 'readme.ts'), `${readmeTs}\nexport {};\n`);
  const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
  const typed = run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: app, fatal: false, timeout: 180_000 });
  if (typed !== null) ok(`tsc -p tsconfig.json (skipLibCheck: false, TypeScript ${JSON.parse(readFileSync(path.join(root, 'node_modules/typescript/package.json'), 'utf8')).version}) over ${subpaths.length} subpaths and the README quick start`);

  // ---- 5. the CLI --------------------------------------------------------------------------------
  step('the netchannel command');
  const bin = path.join(app, 'node_modules/.bin/netchannel');
  const version = run(bin, ['--version'], { cwd: app, fatal: false });
  if (version !== null) check(version.trim() === pkg.version, `netchannel --version prints ${version.trim()}`);
  const help = run(bin, ['tunnel', '--help'], { cwd: app, fatal: false });
  if (help !== null) check(/--peer/.test(help) && /Exit codes/.test(help), 'netchannel tunnel --help');
  const usage = (() => {
    try {
      execFileSync(bin, ['tunnel', '--peer', 'foo:7000', '--route', '1=127.0.0.1:2'], { cwd: app, stdio: 'pipe', timeout: 20_000 });
      return 0;
    } catch (err) {
      return err.status;
    }
  })();
  check(usage === 2, `netchannel tunnel --peer foo:7000 exits 2 (got ${usage})`);
  const benchOut = path.join(work, 'bench-results');
  const t = performance.now();
  const bench = run(bin, ['bench', 'open-close', '--quick', '--runs', '1', '--out', benchOut], { cwd: app, fatal: false, timeout: 180_000 });
  if (bench !== null) {
    const results = JSON.parse(readFileSync(path.join(benchOut, 'results.json'), 'utf8'));
    const runs = results.scenarios['open-close']?.runs ?? [];
    const failed = runs.filter((r) => r.error);
    check(runs.length > 0 && failed.length === 0, `netchannel bench open-close --quick --runs 1: ${runs.length} runs, ${failed.length} failed, ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
} catch (err) {
  fail(err instanceof Error ? err.message : String(err));
} finally {
  if (keep) process.stdout.write(`\nkept ${work}\n`);
  else rmSync(work, { recursive: true, force: true });
}

process.stdout.write(`\ncheck:package ${failures === 0 ? 'passed' : `FAILED (${failures})`} in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
process.exit(failures === 0 ? 0 : 1);
