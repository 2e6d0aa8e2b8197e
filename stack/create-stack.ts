/**
 * `createStack`: the composition root. Each stack gets its own tsyringe child
 * container (never the global one); transports and policies are registered there by
 * token, exactly as a third-party plug-in would be.
 * @packageDocumentation
 */
import 'reflect-metadata';
import { container as rootContainer, type DependencyContainer } from 'tsyringe';
import { InvalidArgumentError } from '../errors/index.js';
import type { AppClass } from '../netdriver/channel.js';
import type { ChannelDriver } from '../netdriver/driver.js';
import type { SchedulingPolicy } from '../netscheduler/policy.js';
import { memory } from '../transports/memory/index.js';
import { tcp } from '../transports/tcp/index.js';
import { unix } from '../transports/unix/index.js';
import { PortAllocator } from '../vns/port-allocator.js';
import { createWorkerRuntimeFrom, resolveWorkersOptions } from '../workers/index.js';
import { resolveOptions, type ResolvedStackOptions, type StackOptions } from './options.js';
import { Stack } from './stack.js';
import { DRIVERS, OPTIONS, POLICIES, PORTS } from './tokens.js';

function register(c: DependencyContainer, options: ResolvedStackOptions): void {
  c.register(OPTIONS, { useValue: options });
  c.register(PORTS, { useValue: new PortAllocator() });
  const drivers = new Map<string, ChannelDriver>();
  for (const factory of options.transports) {
    if (drivers.has(factory.scheme)) throw new InvalidArgumentError(`options.transports has two drivers for scheme '${factory.scheme}'`);
    drivers.set(factory.scheme, factory({ hostId: options.hostId }));
  }
  c.register(DRIVERS, { useValue: drivers });
  const policies: Record<AppClass, SchedulingPolicy> = {
    throughput: options.scheduler.policies.throughput({ appClass: 'throughput' }),
    latency: options.scheduler.policies.latency({ appClass: 'latency' }),
  };
  c.register(POLICIES, { useValue: policies });
}

/**
 * Creates a stack and binds its listen addresses.
 * @throws InvalidArgumentError naming the bad option; AddressError for a bad listen address.
 */
export async function createStack(options: StackOptions = {}): Promise<Stack> {
  // Channel workers replace the built-in tcp/unix drivers (explicit transports are kept).
  const runtime = createWorkerRuntimeFrom(resolveWorkersOptions(options?.workers));
  let resolved: ResolvedStackOptions;
  const c = rootContainer.createChildContainer();
  try {
    resolved = resolveOptions(options, () => (runtime.transports.length > 0 ? [...runtime.transports, memory()] : [tcp(), unix(), memory()]));
    register(c, resolved);
  } catch (err) {
    await runtime.close(); // no worker outlives a rejected createStack
    throw err;
  }
  const stack = new Stack(
    c.resolve<ResolvedStackOptions>(OPTIONS),
    c.resolve<Map<string, ChannelDriver>>(DRIVERS),
    c.resolve<Record<AppClass, SchedulingPolicy>>(POLICIES),
    c.resolve<PortAllocator>(PORTS),
    runtime,
  );
  try {
    await stack.start();
  } catch (err) {
    stack.destroy();
    await runtime.close();
    throw err;
  }
  return stack;
}
