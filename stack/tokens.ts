/**
 * Injection tokens of a stack's child container: the plug-in registry. Each token is
 * registered with a factory (`useFactory`) built from the options — the same path
 * for built-ins and third-party plug-ins — and resolved once per stack. Nothing here
 * appears in the public API.
 * @packageDocumentation
 */

/** Resolved `ResolvedStackOptions`. */
export const OPTIONS = Symbol('netchannel.options');
/** `Map<scheme, ChannelDriver>` built from the driver factories. */
export const DRIVERS = Symbol('netchannel.drivers');
/** `Record<AppClass, SchedulingPolicy>` built from the policy factories. */
export const POLICIES = Symbol('netchannel.policies');
/** The stack's PortAllocator. */
export const PORTS = Symbol('netchannel.ports');
/** The worker runtime (channel and copy workers), or an inline one. */
export const WORKERS = Symbol('netchannel.workers');
