/**
 * Injection tokens of a stack's child container. Plug-ins are registered under these;
 * nothing here appears in the public API.
 * @packageDocumentation
 */

/** Resolved {@link ResolvedStackOptions}. */
export const OPTIONS = Symbol('netchannel.options');
/** `Map<scheme, ChannelDriver>` built from the driver factories. */
export const DRIVERS = Symbol('netchannel.drivers');
/** `Record<AppClass, SchedulingPolicy>` built from the policy factories. */
export const POLICIES = Symbol('netchannel.policies');
/** The stack's PortAllocator. */
export const PORTS = Symbol('netchannel.ports');
