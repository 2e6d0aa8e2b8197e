/**
 * Address strings: `scheme://rest`. Helpers for drivers to parse and validate them.
 * @packageDocumentation
 */
import { AddressError, ErrorCode } from '../errors/index.js';

/** Splits `scheme://rest`; throws `NETCHANNEL_ERR_INVALID_ADDRESS` when there is no scheme. */
export function splitAddress(address: unknown): { scheme: string; rest: string } {
  if (typeof address !== 'string') {
    throw new AddressError(ErrorCode.INVALID_ADDRESS, String(address), `address must be a string like 'tcp://127.0.0.1:7000', got ${typeof address}`);
  }
  const m = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(address);
  if (!m) throw new AddressError(ErrorCode.INVALID_ADDRESS, address, `address ${JSON.stringify(address)} has no scheme (expected e.g. 'tcp://127.0.0.1:7000')`);
  return { scheme: m[1]!.toLowerCase(), rest: m[2]! };
}

/** A parsed `host:port` address. */
export interface HostPort {
  /** Host name or IP literal, without IPv6 brackets. */
  host: string;
  /** Port number 0–65535. */
  port: number;
}

/** Parses `scheme://host:port` (IPv6 in brackets); `port` 0 is allowed only when `allowZero`. */
export function parseHostPort(address: string, scheme: string, allowZero: boolean): HostPort {
  const { scheme: s, rest } = splitAddress(address);
  if (s !== scheme) throw new AddressError(ErrorCode.INVALID_ADDRESS, address, `address ${JSON.stringify(address)} is not a ${scheme}:// address`);
  const m = /^(?:\[([0-9a-f:.]+)\]|([^:/[\]]+)):(\d{1,5})$/i.exec(rest);
  if (!m) throw new AddressError(ErrorCode.INVALID_ADDRESS, address, `address ${JSON.stringify(address)} must be ${scheme}://host:port`);
  const port = Number(m[3]);
  if (port > 65535 || (port === 0 && !allowZero)) {
    throw new AddressError(ErrorCode.INVALID_ADDRESS, address, `port ${port} in ${JSON.stringify(address)} is out of range (${allowZero ? 0 : 1}-65535)`);
  }
  return { host: m[1] ?? m[2]!, port };
}

/** Formats host and port back into `scheme://host:port` (brackets for IPv6). */
export function formatHostPort(scheme: string, host: string, port: number): string {
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
