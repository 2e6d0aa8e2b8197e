#!/usr/bin/env node
/**
 * The `netchannel` command line: `tunnel` (TCP port forwarding over a NetChannel
 * stack), `bench` and `demo`. Run `netchannel <command> --help`.
 *
 * Exit codes: 0 success, 1 runtime failure (a port in use, a peer that cannot be
 * reached at start, a crash), 2 usage error (unknown flag, bad value), 130/143 after
 * SIGINT/SIGTERM of a delegated `bench`/`demo`.
 * @packageDocumentation
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { ErrorCode, NetChannelError } from '../errors/index.js';
import { DEMO_DEFAULT_SECONDS, parseDemoSeconds, runDelegate } from './delegate.js';
import { DEFAULT_TUNNEL_VPORT, resolveTunnelOptions, type RawTunnelOptions } from './options.js';
import { runTunnel } from './tunnel/run.js';

/** Exit code of a usage error (as in POSIX utilities). */
const EXIT_USAGE = 2;
/** Exit code of a runtime failure. */
const EXIT_FAILURE = 1;

const io = {
  out: (line: string) => void process.stdout.write(`${line}\n`),
  err: (line: string) => void process.stderr.write(`netchannel: ${line}\n`),
};

const EXIT_CODES_HELP = `
Exit codes: 0 ok, 1 runtime failure (e.g. a route port in use), 2 usage error (bad flag or value).`;

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command()
  .name('netchannel')
  .description('NetChannel disaggregated network stack: TCP tunnel, benchmarks and demo')
  .version(pkg.version, '-V, --version', 'print the version of the netchannel package')
  .exitOverride()
  .showHelpAfterError()
  .addHelpText('after', EXIT_CODES_HELP);

program
  .command('tunnel')
  .description(
    'Forward local TCP ports to targets behind a peer stack (entry role: --peer + --route), ' +
      'and/or accept such tunnels and connect to their targets (exit role: --listen).',
  )
  .option('--listen <addr...>', 'stack addresses to accept tunnels on, tcp://host:port or unix:///path, e.g. tcp://0.0.0.0:7000 (exit role)')
  .option('--peer <addr>', 'address of the peer stack, tcp://host:port or unix:///path, e.g. tcp://10.0.0.2:7000 (entry role)')
  .option('--route <spec...>', 'localPort=host:port[:throughput|latency]; localPort 0 picks a free port (class default: throughput)')
  .option('--bind <host>', 'local interface the route ports listen on (default: 127.0.0.1)')
  .option('--allow <host:port...>', "targets the exit may connect to; '*' matches any host or port (default: loopback targets only)")
  .option('--channels <spec>', 'channels opened to the peer per class (default: throughput=4,latency=1)')
  .option('--vport <n>', `virtual port of the exit (default: ${DEFAULT_TUNNEL_VPORT})`)
  .option('--auth-key-file <file>', 'pre-shared key (>= 16 bytes) both stacks prove in every channel HELLO; peers without it are refused')
  .option('--metrics-port <n>', 'serve Prometheus metrics on 127.0.0.1:<n> (0 = any free port)')
  .addOption(new Option('--config <file>', 'JSON file with the same keys (listen, peer, route, allow, bind, channels, vport, metricsPort, authKeyFile); flags win'))
  .addHelpText(
    'after',
    `
Examples:
  # host B (next to redis): accept tunnels, allow only redis
  netchannel tunnel --listen tcp://0.0.0.0:7000 --allow 127.0.0.1:6379
  # host A: local port 6380 reaches B's 127.0.0.1:6379 over 4+1 channels
  netchannel tunnel --peer tcp://hostB:7000 --route 6380=127.0.0.1:6379:latency

Every flag is checked before anything starts. Prints one status line when ready;
SIGINT/SIGTERM close gracefully and exit 0.
Exit codes: 0 ok; 1 runtime failure (a listen address or route port in use, a crash);
2 usage error (unknown flag, malformed --peer/--listen/--route/--allow or other value).
See docs/tunnel.md for the header protocol and the security model.`,
  )
  .action(async (flags: RawTunnelOptions) => {
    await runTunnel(resolveTunnelOptions(flags), io);
  });

program
  .command('bench')
  .description('Run the benchmarks (dist/bench/cli.js) with the given arguments; `netchannel bench -- --help` shows theirs')
  .argument('[args...]', 'arguments passed to the benchmark CLI, e.g. open-close --quick --runs 1')
  .allowUnknownOption()
  .addHelpText('after', '\nExit codes: those of the benchmark CLI: 0 ok, 1 a run failed, 2 bad arguments.')
  .action(async (args: string[]) => {
    process.exitCode = await runDelegate('bench', args);
  });

program
  .command('demo')
  .description(
    'Run the two-process demo (dist/examples/demo/main.js): a bulk socket striped over 4 TCP channels beside a latency socket, ' +
      'then the same workload over raw node:net',
  )
  .argument('[seconds]', `total duration in seconds, an integer 2-86400; 70 % netchannel, 30 % raw node:net (default: ${DEMO_DEFAULT_SECONDS})`)
  .addHelpText('after', '\nExit codes: 0 ok, 1 the demo failed, 2 bad arguments.')
  .action(async (seconds: string | undefined) => {
    const args = seconds === undefined ? [] : [String(parseDemoSeconds(seconds))];
    process.exitCode = await runDelegate('demo', args);
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Commander already printed its message (or the help / version text).
    process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE);
  }
  // Bad usage exits 2; anything else that stops the start exits 1.
  const usage = err instanceof NetChannelError && err.code === ErrorCode.INVALID_ARG;
  io.err(err instanceof Error ? err.message : String(err));
  process.exit(usage ? EXIT_USAGE : EXIT_FAILURE);
}
