/**
 * The scenario registry.
 * @packageDocumentation
 */
import { bulk } from './bulk.js';
import { idleMemory } from './idle-memory.js';
import { isolation } from './isolation.js';
import { openClose } from './open-close.js';
import { overhead } from './overhead.js';
import { rpc } from './rpc.js';
import type { Scenario } from './types.js';
import { udpScenario } from './udp.js';

/** Every scenario, in the order `all` runs them. */
export const SCENARIOS: readonly Scenario[] = [bulk, overhead, rpc, isolation, openClose, idleMemory, udpScenario];

/** The scenario called `name`. @throws Error naming the valid names. */
export function scenarioByName(name: string): Scenario {
  const s = SCENARIOS.find((x) => x.name === name);
  if (!s) throw new Error(`unknown scenario ${JSON.stringify(name)}; one of: ${SCENARIOS.map((x) => x.name).join(', ')}, all`);
  return s;
}
