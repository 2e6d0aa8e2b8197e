/**
 * Single-socket bulk throughput: netchannel (1 and N throughput channels) against raw
 * node:net, server and client in separate child processes on loopback.
 *
 * Each round runs every case once (rotating the order to spread machine noise); round 0
 * is a warm-up. A run: the server child listens, the client child connects (untimed),
 * writes `--bytes` from a reusable random block honouring 'drain', and stops the clock
 * when the server's one-byte reply arrives. Both children report their CPU time.
 *
 * Usage: `node dist/bench/throughput.js [--bytes N] [--runs N] [--channels 1,4] [--json F]`
 * @packageDocumentation
 */
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { ForkedChild, killOnInterrupt } from './lib/child.js';
import { deadline, DeadlineError } from './lib/deadline.js';
import { parseArgs, USAGE, type ThroughputArgs } from './throughput/args.js';
import { caseLabel, type CaseSpec, type ClientDoneMsg, type ReadyMsg, type RunMsg, type ServeMsg, type ServerDoneMsg } from './throughput/protocol.js';
import { progressLine, summaryText, type RunRecord } from './throughput/report.js';
import { clientRole, serverRole } from './throughput/roles.js';

/** Runs one case once: serve, run, collect both reports, tear down. */
async function runOnce(server: ForkedChild, client: ForkedChild, spec: CaseSpec, args: ThroughputArgs, round: number): Promise<RunRecord> {
  const ready = await server.request<ReadyMsg, ServeMsg>({ type: 'serve', spec, bytes: args.bytes }, 'ready');
  const serverDone = server.expect<ServerDoneMsg>('server-done');
  serverDone.catch(() => {}); // awaited below; a failing client must not leave it unhandled
  const c = await client.request<ClientDoneMsg, RunMsg>({ type: 'run', spec, target: ready.target, bytes: args.bytes, blockSize: args.block }, 'client-done');
  const s = await serverDone;
  await server.request({ type: 'teardown' }, 'closed');
  if (s.bytes !== args.bytes) throw new Error(`${caseLabel(spec)}: server counted ${s.bytes} bytes, expected ${args.bytes}`);
  return { round, warmup: round === 0, case: caseLabel(spec), bytes: args.bytes, wallNs: c.wallNs, clientCpuUs: c.cpuUs, serverCpuUs: s.cpuUs, serverWallNs: s.wallNs, hostBusyCores: (c.hostBusyMs * 1e6) / c.wallNs, creditStalls: c.creditStalls };
}

/** {@link deadline} with this benchmark's timeout message. */
async function timed<T>(p: Promise<T>, ms: number, what: string, onTimeout: () => void): Promise<T> {
  try {
    return await deadline(p, ms, what, onTimeout);
  } catch (err) {
    throw err instanceof DeadlineError ? new Error(`${what} timed out after ${ms / 1000} s; server and client children killed`) : err;
  }
}

async function orchestrate(args: ThroughputArgs): Promise<void> {
  const self = fileURLToPath(import.meta.url);
  const execArgv = args.cpuProf ? ['--cpu-prof', '--cpu-prof-dir', args.cpuProf] : [];
  const server = new ForkedChild('server', self, ['--role', 'server'], execArgv);
  const client = new ForkedChild('client', self, ['--role', 'client'], execArgv);
  const killAll = (): void => {
    server.kill();
    client.kill();
  };
  killOnInterrupt(killAll);
  const raw: CaseSpec[] = args.noRaw ? [] : [{ kind: 'net' }];
  const cases: CaseSpec[] = [...raw, ...args.channels.map((n): CaseSpec => ({ kind: 'netchannel', channels: n }))];
  const labels = cases.map(caseLabel);
  const cpu = os.cpus();
  console.log(`throughput: ${args.bytes} B per transfer, ${args.block} B writes, 1 warm-up + ${args.runs} rounds of [${labels.join(', ')}]`);
  console.log(`node ${process.version}, ${os.platform()} ${os.release()}, ${cpu.length} x ${cpu[0]?.model ?? '?'}, loopback 127.0.0.1\n`);
  const records: RunRecord[] = [];
  try {
    for (let round = 0; round <= args.runs; round++) {
      for (let k = 0; k < cases.length; k++) {
        const spec = cases[(round + k) % cases.length]!;
        const what = `round ${round} (${caseLabel(spec)})`;
        const r = await timed(runOnce(server, client, spec, args, round), args.timeoutMs, what, killAll);
        records.push(r);
        console.log(progressLine(r));
      }
    }
  } finally {
    await Promise.all([server.shutdown(), client.shutdown()]);
  }
  console.log(`\n${summaryText(records, labels, args.noRaw ? null : labels[0]!)}`);
  if (args.json) {
    const meta = { node: process.version, cpus: cpu.length, cpuModel: cpu[0]?.model, bytes: args.bytes, block: args.block, runs: args.runs, cases: labels };
    await writeFile(args.json, JSON.stringify({ meta, runs: records }, null, 2) + '\n');
    console.log(`\nraw per-run figures written to ${args.json}`);
  }
}

function main(): void {
  let args: ThroughputArgs;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  if (args.help) {
    console.log(USAGE);
    return;
  }
  if (args.role === 'server') return serverRole();
  if (args.role === 'client') return clientRole();
  orchestrate(args).then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(`throughput benchmark failed: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}

main();
