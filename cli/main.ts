#!/usr/bin/env node
/**
 * The `netchannel` command line: `tunnel` (TCP port forwarding over a NetChannel
 * stack), `bench` and `demo`. Run `netchannel <command> --help`.
 * @packageDocumentation
 */
import { Command, Option } from 'commander';
import { ErrorCode, NetChannelError } from '../errors/index.js';
import { runDelegate } from './delegate.js';
import { DEFAULT_TUNNEL_VPORT, resolveTunnelOptions, type RawTunnelOptions } from './options.js';
import { runTunnel } from './tunnel/run.js';

const io = {
  out: (line: string) => void process.stdout.write(`${line}\n`),
  err: (line: string) => void process.stderr.write(`netchannel: ${line}\n`),
};

const program = new Command()
  .name('netchannel')
  .description('NetChannel disaggregated network stack: TCP tunnel, benchmarks and demo')
  .showHelpAfterError();

program
  .command('tunnel')
  .description(
    'Forward local TCP ports to targets behind a peer stack (entry role: --peer + --route), ' +
      'and/or accept such tunnels and connect to their targets (exit role: --listen).',
  )
  .option('--listen <addr...>', 'stack addresses to accept tunnels on, e.g. tcp://0.0.0.0:7000 (exit role)')
  .option('--peer <addr>', 'address of the peer stack, e.g. tcp://10.0.0.2:7000 (entry role)')
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

Prints one status line when ready; SIGINT/SIGTERM close gracefully and exit 0.
See docs/tunnel.md for the header protocol and the security model.`,
  )
  .action(async (flags: RawTunnelOptions) => {
    await runTunnel(resolveTunnelOptions(flags), io);
  });

program
  .command('bench')
  .description('Run the benchmarks (dist/bench/cli.js) with the given arguments; `netchannel bench -- --help` shows theirs')
  .argument('[args...]', 'arguments passed to the benchmark CLI')
  .allowUnknownOption()
  .action(async (args: string[]) => {
    process.exitCode = await runDelegate('bench', args);
  });

program
  .command('demo')
  .description('Run the two-process demo (dist/examples/demo/main.js): striped bulk transfer beside a latency socket')
  .argument('[seconds]', 'how long the bulk transfer runs (default: 6)')
  .action(async (seconds: string | undefined) => {
    process.exitCode = await runDelegate('demo', seconds === undefined ? [] : [seconds]);
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  // Bad usage exits 2 (as commander does); anything else that stops the start exits 1.
  const usage = err instanceof NetChannelError && err.code === ErrorCode.INVALID_ARG;
  io.err(err instanceof Error ? err.message : String(err));
  process.exit(usage ? 2 : 1);
}
