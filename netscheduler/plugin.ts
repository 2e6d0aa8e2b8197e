/**
 * Branding of scheduler plug-in factories (selection, scaling, placement): a plain
 * function tagged with a name and a brand symbol, so options can be validated.
 * @packageDocumentation
 */
import { InvalidArgumentError } from '../errors/index.js';

/** A factory function tagged with its policy name and a brand. */
export type Branded<F, B extends symbol> = F & { readonly policyName: string } & { readonly [K in B]: true };

/** Tags `create` with `name` and `brand`. */
export function brand<F extends (...args: never[]) => unknown, B extends symbol>(brandSymbol: B, kind: string, name: string, create: F): Branded<F, B> {
  if (typeof name !== 'string' || name.length === 0) throw new InvalidArgumentError(`${kind} name must be a non-empty string, got ${JSON.stringify(name)}`);
  const fn = ((...args: Parameters<F>) => create(...args)) as unknown as F;
  return Object.assign(fn, { policyName: name, [brandSymbol]: true }) as Branded<F, B>;
}

/** True when `value` is a function carrying `brandSymbol`. */
export function hasBrand(value: unknown, brandSymbol: symbol): boolean {
  return typeof value === 'function' && (value as unknown as Record<symbol, unknown>)[brandSymbol] === true;
}
