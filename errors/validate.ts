/**
 * Option validation shared by every layer: each failure is an InvalidArgumentError
 * whose message names the option and the value.
 * @packageDocumentation
 */
import { InvalidArgumentError } from './index.js';

/** An integer option in [min, max]; `fallback` when undefined. */
export function intOption(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`options.${name} must be an integer ${min}-${max}, got ${JSON.stringify(value)}`);
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
