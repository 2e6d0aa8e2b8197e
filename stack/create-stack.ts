/**
 * `createStack`: the composition root. Each stack gets its own tsyringe child
 * container (never the global one) that serves as its plug-in registry: transports,
 * policies, ports and the worker runtime are registered there by token with
 * factories, exactly as a third-party plug-in's factory would be, and resolved once.
 * @packageDocumentation
 */
// tsyringe refuses to load without a Reflect metadata polyfill, even with no decorators.
import 'reflect-metadata';
import { container as rootContainer, instanceCachingFactory, type DependencyContainer } from 'tsyringe';
import { InvalidArgumentError } from '../errors/index.js';
import type { AppClass } from '../netdriver/channel.js';
import type { ChannelDriver } from '../netdriver/driver.js';
import type { SchedulingPolicy } from '../netscheduler/policy.js';
import { memory } from '../transports/memory/index.js';
import { tcp } from '../transports/tcp/index.js';
import { unix } from '../transports/unix/index.js';
import { PortAllocator } from '../vns/port-allocator.js';
import { createWorkerRuntimeFrom, resolveWorkersOptions, type WorkerRuntime } from '../workers/index.js';
import { resolveOptions, type ResolvedStackOptions, type StackOptions } from './options.js';
import { Stack } from './stack.js';
import { DRIVERS, OPTIONS, POLICIES, PORTS, WORKERS } from './tokens.js';

/** Registers the stack's plug-ins: one caching factory per token. */
function register(c: DependencyContainer, options: ResolvedStackOptions, runtime: WorkerRuntime): void {
  c.register(OPTIONS, { useValue: options });
  c.register(WORKERS, { useValue: runtime });
  c.register(PORTS, { useFactory: instanceCachingFactory(() => new PortAllocator()) });
  c.register(DRIVERS, {
    useFactory: instanceCachingFactory((r) => {
      const o = r.resolve<ResolvedStackOptions>(OPTIONS);
      const drivers = new Map<string, ChannelDriver>();
      for (const factory of o.transports) {
        if (drivers.has(factory.scheme)) throw new InvalidArgumentError(`options.transports has two drivers for scheme '${factory.scheme}'`);
        drivers.set(factory.scheme, factory({ hostId: o.hostId }));
      }
      return drivers;
    }),
  });
  c.register(POLICIES, {
    useFactory: instanceCachingFactory((r) => {
      const { policies } = r.resolve<ResolvedStackOptions>(OPTIONS).scheduler;
      return {
        throughput: policies.throughput({ appClass: 'throughput' }),
        latency: policies.latency({ appClass: 'latency' }),
      } satisfies Record<AppClass, SchedulingPolicy>;
    }),
  });
}

/**
 * Creates a stack and binds its listen addresses.
 * @throws InvalidArgumentError naming the bad option; AddressError for a bad listen address.
 */
export async function createStack(options: StackOptions = {}): Promise<Stack> {
  // Channel workers replace the built-in tcp/unix drivers (explicit transports are kept).
  const runtime = createWorkerRuntimeFrom(resolveWorkersOptions(options?.workers));
  const c = rootContainer.createChildContainer();
  let stack: Stack;
  try {
    const resolved = resolveOptions(options, () => (runtime.transports.length > 0 ? [...runtime.transports, memory()] : [tcp(), unix(), memory()]));
    register(c, resolved, runtime);
    stack = new Stack(
      c.resolve<ResolvedStackOptions>(OPTIONS),
      c.resolve<Map<string, ChannelDriver>>(DRIVERS),
      c.resolve<Record<AppClass, SchedulingPolicy>>(POLICIES),
      c.resolve<PortAllocator>(PORTS),
      c.resolve<WorkerRuntime>(WORKERS),
    );
  } catch (err) {
    await runtime.close(); // no worker outlives a rejected createStack
    throw err;
  }
  try {
    await stack.start();
  } catch (err) {
    stack.destroy();
    await runtime.close();
    throw err;
  }
  return stack;
}
