/**
 * `netchannel bench` and `netchannel demo` run other compiled entry points of the
 * package as child processes with the same arguments and the terminal inherited.
 * @packageDocumentation
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError } from '../errors/index.js';

/** Compiled scripts the CLI delegates to, relative to dist/cli/. */
export const DELEGATES = {
  bench: '../bench/cli.js',
  demo: '../examples/demo/main.js',
} as const;

/** Total duration of `netchannel demo` (and `npm start`) when no argument is given, seconds. */
export const DEMO_DEFAULT_SECONDS = 30;

/**
 * Parses the `netchannel demo [seconds]` argument: an integer 2-86400 (each of the two
 * phases runs at least one second).
 * @throws InvalidArgumentError naming the value.
 */
export function parseDemoSeconds(value: string): number {
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 2 || n > 86_400) throw new InvalidArgumentError(`demo seconds must be an integer 2-86400, got ${JSON.stringify(value)}`);
  return n;
}

/** Absolute path of a delegate script. */
export function delegatePath(name: keyof typeof DELEGATES): string {
  return fileURLToPath(new URL(DELEGATES[name], import.meta.url));
}

/**
 * Runs `node <script> ...args` with inherited stdio, forwards SIGINT/SIGTERM to it and
 * resolves with its exit code (128 + signal number style code when it was killed).
 */
export function runDelegate(name: keyof typeof DELEGATES, args: readonly string[]): Promise<number> {
  const script = delegatePath(name);
  if (!existsSync(script)) {
    process.stderr.write(`netchannel ${name}: ${script} not found (run \`npm run build\` first)\n`);
    return Promise.resolve(1);
  }
  const child = spawn(process.execPath, [script, ...args], { stdio: 'inherit' });
  const forward = (signal: NodeJS.Signals): void => void child.kill(signal);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  return new Promise((resolve) => {
    child.once('error', (err) => {
      process.stderr.write(`netchannel ${name}: ${err.message}\n`);
      resolve(1);
    });
    child.once('exit', (code, signal) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      resolve(code ?? (signal === 'SIGINT' ? 130 : 143));
    });
  });
}
