/**
 * One shape for every scheduler plug-in (channel selection, channel scaling, copy
 * placement): a factory function `(components) => instance`, branded with a symbol and
 * named once. The built-ins are made with the same helpers a third party uses.
 * @packageDocumentation
 */
import { InvalidArgumentError } from '../errors/index.js';
import type { AppClass } from '../netdriver/channel.js';

/** What a stack hands to every plug-in factory. */
export interface PluginComponents {
  /** Class the instance will serve (placement instances serve the throughput class). */
  readonly appClass: AppClass;
}

/** A plug-in factory: a function tagged with its name and a brand symbol. */
export type PluginFactory<T, B extends symbol> = ((components: PluginComponents) => T & { readonly name: string }) & {
  /** Name every instance carries (metrics, events). */
  readonly policyName: string;
} & { readonly [K in B]: true };

/**
 * Brands `create` as a plug-in factory named `name`. The instances it returns get
 * `name` set to the same string, so the author writes the name once.
 */
export function definePlugin<T extends object, B extends symbol>(
  brandSymbol: B,
  kind: string,
  name: string,
  create: (components: PluginComponents) => T,
): PluginFactory<T, B> {
  if (typeof name !== 'string' || name.length === 0) throw new InvalidArgumentError(`${kind} name must be a non-empty string, got ${JSON.stringify(name)}`);
  if (typeof create !== 'function') throw new InvalidArgumentError(`${kind} '${name}' needs a create function, got ${typeof create}`);
  const factory = (components: PluginComponents): T & { readonly name: string } => {
    const instance = create(components);
    if (instance === null || typeof instance !== 'object') {
      throw new InvalidArgumentError(`${kind} '${name}' create() must return an object, got ${instance === null ? 'null' : typeof instance}`);
    }
    if ((instance as { name?: unknown }).name !== name) Object.defineProperty(instance, 'name', { value: name, enumerable: true });
    return instance as T & { readonly name: string };
  };
  return Object.assign(factory, { policyName: name, [brandSymbol]: true }) as unknown as PluginFactory<T, B>;
}

/** True when `value` is a factory carrying `brandSymbol`. */
export function hasBrand(value: unknown, brandSymbol: symbol): boolean {
  return typeof value === 'function' && (value as unknown as Record<symbol, unknown>)[brandSymbol] === true;
}
