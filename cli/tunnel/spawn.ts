/**
 * Starts `netchannel tunnel` as a child process and parses its status line — for
 * tests and scripts that drive the compiled CLI (e.g. examples/tunnel-apps/compare.ts).
 * @packageDocumentation
 */
import { spawn, type ChildProcess } from 'node:child_process';

/** A `netchannel tunnel` child process that printed its status line. */
export interface TunnelProcess {
  readonly child: ChildProcess;
  /** The status line. */
  readonly status: string;
  /** Stack listen addresses (exit role), e.g. `['tcp://127.0.0.1:41234']`. */
  readonly addresses: string[];
  /** Bound local ports of the routes, in `--route` order (entry role). */
  readonly routePorts: number[];
  /** Everything the process wrote to stderr so far. */
  stderr(): string;
  /** Sends `signal` (default SIGTERM) and resolves with the exit code (null when killed). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Parses the `netchannel tunnel ready …` status line. */
export function parseStatus(line: string): { addresses: string[]; routePorts: number[] } {
  const listen = /(?:^| )listen=(\S+)/.exec(line)?.[1];
  const routes = /(?:^| )routes=(\S+)/.exec(line)?.[1];
  return {
    addresses: listen ? listen.split(',') : [],
    routePorts: routes ? routes.split(',').map((r) => Number(/:(\d+)->/.exec(r)?.[1])) : [],
  };
}

/**
 * Runs `node <mainJs> tunnel ...args` and resolves once the status line is printed.
 * Rejects (and kills the child) when it exits first or after `timeoutMs`.
 */
export function spawnTunnel(mainJs: string, args: readonly string[], timeoutMs = 15_000): Promise<TunnelProcess> {
  const child = spawn(process.execPath, [mainJs, 'tunnel', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  let out = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise<TunnelProcess>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tunnel printed no status line within ${timeoutMs} ms; stderr: ${err}`));
    }, timeoutMs);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`tunnel exited with ${code} before its status line; stderr: ${err}`));
    });
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const complete = out.split('\n').slice(0, -1);
      const line = complete.find((l) => l.startsWith('netchannel tunnel ready'));
      if (!line) return;
      clearTimeout(timer);
      resolve({
        child,
        status: line,
        ...parseStatus(line),
        stderr: () => err,
        stop(signal: NodeJS.Signals = 'SIGTERM') {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          return exited;
        },
      });
    });
  });
}
