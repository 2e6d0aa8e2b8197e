/**
 * `netchannel tunnel`: one process, both roles. With `--listen` it accepts tunnels
 * (exit); with `--peer` and `--route` it opens them (entry). Prints one status line,
 * serves metrics when asked, and shuts down gracefully on SIGINT/SIGTERM.
 * @packageDocumentation
 */
import { createStack, type Stack } from '../../index.js';
import type { TunnelOptions } from '../options.js';
import { startEntry, type Entry } from './entry.js';
import { startExit, type Exit } from './exit.js';
import { formatHostPort, Allowlist } from './target.js';

/** Where the tunnel writes: the status line to `out`, diagnostics to `err`. */
export interface TunnelIO {
  out: (line: string) => void;
  err: (line: string) => void;
}

/** A running tunnel process. */
export interface RunningTunnel {
  readonly stack: Stack;
  readonly entry: Entry | undefined;
  readonly exit: Exit | undefined;
  /** The one-line status to print once ready (listen addresses, routes with real ports). */
  readonly status: string;
  /** Graceful stop: stop accepting, `stack.close()`, close the metrics endpoint. Idempotent. */
  close(): Promise<void>;
}

interface MetricsEndpoint {
  url: string;
  close(): Promise<void>;
}
type ServeMetrics = (options: { port: number }) => Promise<MetricsEndpoint>;

/** Starts the tunnel described by `opts` (diagnostics go to `io.err`; the caller prints `status`). */
export async function startTunnel(opts: TunnelOptions, io: TunnelIO): Promise<RunningTunnel> {
  const allow = new Allowlist(opts.allow);
  const stack = await createStack({
    listen: opts.listen,
    channels: opts.channels,
    allowHalfOpen: true,
    ...(opts.authKey ? { auth: { key: opts.authKey } } : {}),
  });
  let exit: Exit | undefined;
  let entry: Entry | undefined;
  let metrics: MetricsEndpoint | undefined;
  try {
    if (opts.listen.length > 0) {
      exit = await startExit({ stack, vport: opts.vport, allow, headerTimeout: 10_000, connectTimeout: 10_000, log: io.err });
    }
    if (opts.peer !== undefined) {
      entry = await startEntry({ stack, peer: opts.peer, vport: opts.vport, bind: opts.bind, routes: opts.routes, replyTimeout: 15_000, log: io.err });
    }
    if (opts.metricsPort !== undefined) {
      // stack.serveMetrics is being added to the library; use it when this build has it.
      const serve = (stack as unknown as { serveMetrics?: ServeMetrics }).serveMetrics;
      if (typeof serve === 'function') metrics = await serve.call(stack, { port: opts.metricsPort });
      else io.err(`--metrics-port ${opts.metricsPort}: metrics are not available in this build yet (stack.serveMetrics is missing)`);
    }
  } catch (err) {
    await entry?.close();
    stack.destroy();
    throw err;
  }

  const parts = ['netchannel tunnel ready'];
  if (exit) parts.push(`listen=${stack.addresses.join(',')}`, `vport=${exit.vport}`, `allow=${allow.describe()}`);
  if (entry) {
    const host = opts.bind.includes(':') ? `[${opts.bind}]` : opts.bind;
    const routes = entry.routes.map((r) => `${host}:${r.port}->${formatHostPort(r.target)}/${r.appClass}`);
    parts.push(`peer=${opts.peer}`, `routes=${routes.join(',')}`, `channels=throughput:${opts.channels.throughput},latency:${opts.channels.latency}`);
  }
  parts.push(`auth=${opts.authKey ? 'psk' : 'none'}`);
  if (metrics) parts.push(`metrics=${metrics.url}`);
  const status = parts.join(' ');

  let closing: Promise<void> | undefined;
  return {
    stack,
    entry,
    exit,
    status,
    close() {
      closing ??= (async () => {
        void entry?.close();
        void exit?.close();
        await stack.close();
        await metrics?.close();
      })();
      return closing;
    },
  };
}

/**
 * Runs a tunnel until SIGINT/SIGTERM, then closes it gracefully and exits 0 (a signal
 * that arrives while starting takes effect once started). A second signal exits at once
 * with code 1.
 */
export async function runTunnel(opts: TunnelOptions, io: TunnelIO): Promise<void> {
  let tunnel: RunningTunnel | undefined;
  let signalled = false;
  const shutdown = (t: RunningTunnel): void => {
    t.close().then(
      () => process.exit(0),
      (err: unknown) => {
        io.err(`close failed: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) process.exit(1);
    signalled = true;
    io.err(`${signal}: closing (again to force)`);
    if (tunnel) shutdown(tunnel);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  tunnel = await startTunnel(opts, io);
  io.out(tunnel.status);
  if (signalled) shutdown(tunnel);
}
