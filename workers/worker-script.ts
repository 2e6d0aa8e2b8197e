/**
 * Where the compiled worker entry points (`channel-worker.js`, `copy-task.js`) are.
 * Worker threads and piscina load files by path, so a module run from the TypeScript
 * sources (vitest) needs the built copy.
 * @packageDocumentation
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Locates a compiled worker script: next to this module when it runs from dist/, or
 * in ../dist/workers/ when it runs from the TypeScript sources (vitest).
 */
export function workerScript(name: string, base: string = import.meta.url): URL {
  const here = new URL(`./${name}.js`, base);
  if (base.endsWith('.js') || existsSync(fileURLToPath(here))) return here;
  return new URL(`../dist/workers/${name}.js`, base);
}
