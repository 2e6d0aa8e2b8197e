/**
 * Options of `netchannel tunnel`: parsing of the flag syntaxes, the `--config` JSON
 * file (same keys as the flags, camelCase) and the merge of both (flags win).
 * @packageDocumentation
 */
import { readFileSync } from 'node:fs';
import { InvalidArgumentError } from '../errors/index.js';
import type { AppClass } from '../index.js';
import { checkStackAddress } from './addresses.js';
import type { Route } from './tunnel/entry.js';
import { Allowlist, parseHostPort } from './tunnel/target.js';

/** Virtual port the exit listens on unless `--vport` says otherwise (TCPMUX's port). */
export const DEFAULT_TUNNEL_VPORT = 1;

/** Options as commander hands them over (all strings) or as read from `--config`. */
export interface RawTunnelOptions {
  listen?: string[] | string;
  peer?: string;
  route?: string[] | string;
  allow?: string[] | string;
  bind?: string;
  channels?: string | { throughput?: number; latency?: number };
  metricsPort?: string | number;
  vport?: string | number;
  authKeyFile?: string;
  config?: string;
}

/** Validated options of one tunnel process. */
export interface TunnelOptions {
  /** Stack listen addresses (exit role when non-empty). */
  listen: string[];
  /** Peer stack address (entry role when set). */
  peer: string | undefined;
  routes: Route[];
  /** Allowlist entries; empty = loopback targets only. */
  allow: string[];
  /** Interface route ports bind to. @default '127.0.0.1' */
  bind: string;
  channels: { throughput: number; latency: number };
  metricsPort: number | undefined;
  /** Virtual port of the exit. @default 1 */
  vport: number;
  /** Pre-shared key for the channel HELLO (stack option `auth`); undefined = no authentication. */
  authKey: Buffer | undefined;
}

const KEYS = new Set(['listen', 'peer', 'route', 'allow', 'bind', 'channels', 'metricsPort', 'vport', 'authKeyFile']);

/** Parses `throughput=4,latency=1` (either part optional). */
export function parseChannels(value: string | { throughput?: number; latency?: number }): { throughput: number; latency: number } {
  const out = { throughput: 4, latency: 1 };
  const pairs: Array<[string, unknown]> =
    typeof value === 'string'
      ? value
          .split(',')
          .filter((p) => p.trim() !== '')
          .map((p) => {
            const [k, v, ...rest] = p.split('=');
            if (v === undefined || rest.length) throw new InvalidArgumentError(`--channels must look like throughput=4,latency=1, got ${JSON.stringify(value)}`);
            return [k!.trim(), /^\s*\d+\s*$/.test(v) ? Number(v) : v];
          })
      : Object.entries(value ?? {});
  for (const [k, v] of pairs) {
    if (k !== 'throughput' && k !== 'latency') throw new InvalidArgumentError(`--channels: unknown class ${JSON.stringify(k)} (use throughput and latency)`);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 256) throw new InvalidArgumentError(`--channels ${k} must be an integer 0-256, got ${JSON.stringify(v)}`);
    out[k] = v;
  }
  return out;
}

/** Parses `localPort=host:port[:class]`; localPort 0 picks a free port. */
export function parseRoute(value: string): Route {
  const m = /^(\d{1,5})=(.+?)(?::(throughput|latency))?$/.exec(value);
  if (!m) throw new InvalidArgumentError(`--route must be localPort=host:port[:throughput|latency], got ${JSON.stringify(value)}`);
  const localPort = Number(m[1]);
  if (localPort > 0xffff) throw new InvalidArgumentError(`--route local port must be 0-65535, got ${JSON.stringify(value)}`);
  return { localPort, target: parseHostPort(m[2]!, `--route target in ${JSON.stringify(value)}`), appClass: (m[3] ?? 'throughput') as AppClass };
}

function list(v: string[] | string | undefined, name: string): string[] {
  if (v === undefined) return [];
  const arr = Array.isArray(v) ? v : [v];
  if (!arr.every((x) => typeof x === 'string')) throw new InvalidArgumentError(`${name} must be a string or an array of strings, got ${JSON.stringify(v)}`);
  return arr;
}

function port(v: string | number | undefined, name: string, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = typeof v === 'number' ? v : /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < min || n > 0xffff) throw new InvalidArgumentError(`${name} must be an integer ${min}-65535, got ${JSON.stringify(v)}`);
  return n;
}

/** Reads a key file; one trailing newline is dropped (the stack checks the length). */
export function readKeyFile(path: string): Buffer {
  let key: Buffer;
  try {
    key = readFileSync(path);
  } catch (err) {
    throw new InvalidArgumentError(`--auth-key-file ${path}: ${(err as Error).message}`);
  }
  const n = key.length;
  return key[n - 1] === 0x0a ? key.subarray(0, key[n - 2] === 0x0d ? n - 2 : n - 1) : key;
}

/** Reads a `--config` JSON file, rejecting unknown keys. */
export function readConfig(path: string): RawTunnelOptions {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new InvalidArgumentError(`--config ${path}: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new InvalidArgumentError(`--config ${path} must hold a JSON object`);
  for (const k of Object.keys(parsed)) {
    if (!KEYS.has(k)) throw new InvalidArgumentError(`--config ${path}: unknown key ${JSON.stringify(k)} (known: ${[...KEYS].join(', ')})`);
  }
  return parsed as RawTunnelOptions;
}

/** Merges flags over the config file, validates and fills defaults. */
export function resolveTunnelOptions(flags: RawTunnelOptions): TunnelOptions {
  const file = flags.config ? readConfig(flags.config) : {};
  const pick = <K extends keyof RawTunnelOptions>(k: K): RawTunnelOptions[K] => flags[k] ?? file[k];
  const listen = list(pick('listen'), '--listen').map((a) => checkStackAddress(a, '--listen', 'listen'));
  const rawPeer = pick('peer');
  const peer = rawPeer === undefined ? undefined : checkStackAddress(rawPeer, '--peer', 'dial');
  const routes = list(pick('route'), '--route').map(parseRoute);
  const allow = list(pick('allow'), '--allow');
  for (const entry of allow) new Allowlist([entry]);
  const ports = routes.map((r) => r.localPort).filter((p) => p !== 0);
  const dup = ports.find((p, i) => ports.indexOf(p) !== i);
  if (dup !== undefined) throw new InvalidArgumentError(`--route local port ${dup} is given twice`);
  const bind = pick('bind') ?? '127.0.0.1';
  if (typeof bind !== 'string' || bind === '') throw new InvalidArgumentError(`--bind must be a host, got ${JSON.stringify(bind)}`);
  if (peer === undefined && routes.length > 0) throw new InvalidArgumentError('--route needs --peer (the stack that connects to the targets)');
  if (listen.length === 0 && peer === undefined) throw new InvalidArgumentError('give --listen (accept tunnels) and/or --peer with --route (open tunnels)');
  if (peer !== undefined && routes.length === 0) throw new InvalidArgumentError('--peer needs at least one --route localPort=host:port');
  const authKeyFile = pick('authKeyFile');
  if (authKeyFile !== undefined && (typeof authKeyFile !== 'string' || authKeyFile === '')) throw new InvalidArgumentError(`--auth-key-file must be a path, got ${JSON.stringify(authKeyFile)}`);
  return {
    listen,
    peer,
    routes,
    allow,
    bind,
    channels: parseChannels(pick('channels') ?? {}),
    metricsPort: port(pick('metricsPort'), '--metrics-port', 0),
    vport: port(pick('vport'), '--vport', 1) ?? DEFAULT_TUNNEL_VPORT,
    authKey: authKeyFile === undefined ? undefined : readKeyFile(authKeyFile),
  };
}
