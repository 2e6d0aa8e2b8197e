/**
 * Option validation shared by every layer: each failure is an InvalidArgumentError
 * whose message names the option and the value.
 * @packageDocumentation
 */
import { InvalidArgumentError } from './index.js';

/** An integer option in [min, max]; `fallback` when undefined. */
export function intOption(name: string, value: unknown, fallback: number, min: number, max: number): number {
  return rangeOption(name, value, fallback, min, max, true);
}

/** A finite number option in `min`–`max` (fractions allowed); `fallback` when undefined. */
export function numberOption(name: string, value: unknown, fallback: number, min: number, max: number): number {
  return rangeOption(name, value, fallback, min, max, false);
}

function rangeOption(name: string, value: unknown, fallback: number, min: number, max: number, integer: boolean): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(integer ? Number.isInteger(value) : Number.isFinite(value)) || value < min || value > max) {
    throw new InvalidArgumentError(`options.${name} must be ${integer ? 'an integer' : 'a number'} ${min}-${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** A boolean option; `fallback` when undefined. */
export function boolOption(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new InvalidArgumentError(`options.${name} must be a boolean, got ${JSON.stringify(value)}`);
  return value;
}

/** A positive integer option (Infinity allowed); `fallback` when undefined. */
export function positiveInt(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(Number.isInteger(value) || value === Infinity) || value <= 0) {
    throw new InvalidArgumentError(`options.${name} must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * The known keys of one options type, written once as `{ key: true, … } satisfies
 * KnownKeys<Options>`: adding an option to the interface without its name here is a
 * compile error, so the list never drifts from the type.
 */
export type KnownKeys<T> = Readonly<Record<keyof T, true>>;

/**
 * Rejects keys of `value` that `known` does not list (typos such as `chanels`), naming
 * the key and the known ones. `where` prefixes the message, e.g. `options` or
 * `connect options`. Non-objects are left to the caller's own check.
 */
export function checkKnownKeys(where: string, value: unknown, known: Readonly<Record<string, true>>): void {
  if (value === null || typeof value !== 'object') return;
  for (const key of Object.keys(value)) {
    if (!Object.hasOwn(known, key)) {
      throw new InvalidArgumentError(`${where}.${key} is not a known option (known: ${Object.keys(known).join(', ')})`);
    }
  }
}
