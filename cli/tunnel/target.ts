/**
 * Tunnel targets (`host:port`) and the exit side's allowlist.
 * @packageDocumentation
 */
import { isIP } from 'node:net';
import { InvalidArgumentError } from '../../errors/index.js';

/** A TCP endpoint. */
export interface HostPort {
  host: string;
  port: number;
}

/**
 * Parses `host:port`, `[v6]:port`; with `wildcards`, `*` is accepted for either part
 * (port `*` is returned as -1, host `*` as `'*'`).
 * @throws InvalidArgumentError naming the value.
 */
export function parseHostPort(value: string, what = 'target', wildcards = false): HostPort {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5}|\*)$/.exec(value);
  const host = m?.[1] ?? m?.[2];
  const portText = m?.[3];
  if (!host || !portText) throw new InvalidArgumentError(`${what} must be host:port (IPv6 as [addr]:port), got ${JSON.stringify(value)}`);
  if (m?.[1] !== undefined && isIP(host) !== 6) throw new InvalidArgumentError(`${what} has a bracketed host that is not IPv6: ${JSON.stringify(value)}`);
  if (!wildcards && (host === '*' || portText === '*')) throw new InvalidArgumentError(`${what} must not use '*': ${JSON.stringify(value)}`);
  const port = portText === '*' ? -1 : Number(portText);
  if (port !== -1 && (port < 1 || port > 0xffff)) throw new InvalidArgumentError(`${what} port must be 1-65535, got ${JSON.stringify(value)}`);
  return { host: host.toLowerCase(), port };
}

/** `host:port`, bracketing IPv6 hosts. */
export function formatHostPort({ host, port }: HostPort): string {
  return `${isIP(host) === 6 ? `[${host}]` : host}:${port === -1 ? '*' : port}`;
}

/** True for `localhost`, 127.0.0.0/8, `::1` and IPv4-mapped loopback. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

/**
 * Which targets an exit may connect to. With no entries only loopback targets are
 * allowed; otherwise exactly the listed `host:port` entries, where `*` matches any
 * host or any port. Host names are compared as written (no DNS resolution).
 */
export class Allowlist {
  private readonly entries: HostPort[];

  constructor(entries: readonly string[] = []) {
    this.entries = entries.map((e) => parseHostPort(e, '--allow entry', true));
  }

  /** True when the allowlist is the default (loopback targets only). */
  get loopbackOnly(): boolean {
    return this.entries.length === 0;
  }

  /** True when `target` may be connected to. */
  allows(target: HostPort): boolean {
    if (this.entries.length === 0) return isLoopback(target.host);
    return this.entries.some((e) => (e.host === '*' || e.host === target.host) && (e.port === -1 || e.port === target.port));
  }

  /** Human-readable summary for the status line. */
  describe(): string {
    return this.loopbackOnly ? 'loopback' : this.entries.map(formatHostPort).join(',');
  }
}
