/**
 * Entry of the forked server and client children of `bench/cli.js`. The parent drives
 * every run through IPC: setup → start (server) → run (client) → stop (server) →
 * teardown; the CPU time of each side is measured here around its part.
 * @packageDocumentation
 */
import { serveParent, type Message } from './lib/child.js';
import { hostBusyMs } from './lib/host.js';
import { scenarioByName } from './scenarios/index.js';
import type { ClientSide, Figures, Json, ServerSide } from './scenarios/types.js';

/** Parent → child: prepare one run of `params` of `scenario` in `role`. */
export interface SetupMsg {
  type: 'setup';
  scenario: string;
  role: 'server' | 'client';
  params: { [k: string]: Json };
  /** Client only: what the server's setup returned. */
  target?: Json;
}

/** Child → parent: setup finished (server: with its target). */
export interface SetupDoneMsg {
  type: 'setup-done';
  target: Json;
}

/** Server → parent: measured interval from start to stop. */
export interface StoppedMsg {
  type: 'stopped';
  cpuUs: number;
  wallNs: number;
  figures: Figures;
}

/** Client → parent: the measured phase. */
export interface RanMsg {
  type: 'ran';
  cpuUs: number;
  wallNs: number;
  /** Busy time of the whole host during the phase, ms summed over cores. */
  hostBusyMs: number;
  figures: Figures;
}

const cpu = (u: NodeJS.CpuUsage): number => u.user + u.system;

let server: ServerSide | null = null;
let client: ClientSide | null = null;
let cpu0: NodeJS.CpuUsage = process.cpuUsage();
let t0 = 0n;

async function handle(msg: Message, send: <M extends Message>(m: M) => void): Promise<void> {
  switch (msg.type) {
    case 'setup': {
      const m = msg as SetupMsg;
      const sc = scenarioByName(m.scenario);
      if (m.role === 'server') {
        server = await sc.server(m.params);
        send<SetupDoneMsg>({ type: 'setup-done', target: server.target });
      } else {
        client = await sc.client(m.params, m.target ?? null);
        send<SetupDoneMsg>({ type: 'setup-done', target: null });
      }
      return;
    }
    case 'start': {
      if (!server) throw new Error('start before setup');
      await server.start?.();
      cpu0 = process.cpuUsage();
      t0 = process.hrtime.bigint();
      send({ type: 'started' });
      return;
    }
    case 'stop': {
      if (!server) throw new Error('stop before setup');
      const figures = await server.stop();
      send<StoppedMsg>({ type: 'stopped', cpuUs: cpu(process.cpuUsage(cpu0)), wallNs: Number(process.hrtime.bigint() - t0), figures });
      return;
    }
    case 'run': {
      if (!client) throw new Error('run before setup');
      const busy0 = hostBusyMs();
      const c0 = process.cpuUsage();
      const start = process.hrtime.bigint();
      const figures = await client.run();
      const wallNs = Number(process.hrtime.bigint() - start);
      send<RanMsg>({ type: 'ran', cpuUs: cpu(process.cpuUsage(c0)), wallNs, hostBusyMs: hostBusyMs() - busy0, figures });
      return;
    }
    case 'teardown': {
      const side = server ?? client;
      server = null;
      client = null;
      await side?.teardown();
      send({ type: 'torn-down' });
      return;
    }
    default:
      throw new Error(`child: unknown command ${JSON.stringify(msg.type)}`);
  }
}

serveParent(handle);
