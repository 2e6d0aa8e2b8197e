/**
 * How `unix:///absolute/path` addresses map onto `node:net`: the
 * {@link NetSocketDriverSpec} of the unix transport, shared by `unix()` and the channel
 * workers (`inWorkers('unix')`).
 * @packageDocumentation
 */
import { rmSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { AddressError, ErrorCode } from '../../errors/index.js';
import { splitAddress } from '../../netdriver/address.js';
import type { NetSocketDriverSpec } from '../stream/net-socket-driver.js';

/** Options of the unix address spec. */
export interface UnixSpecOptions {
  /**
   * Remove a stale socket file before listening on it.
   * @default true
   */
  unlinkStale?: boolean;
}

/** Returns the absolute socket path of a `unix://` address. */
export function unixPath(address: string): string {
  const { scheme, rest } = splitAddress(address);
  if (scheme !== 'unix') throw new AddressError(ErrorCode.INVALID_ADDRESS, address, `address ${JSON.stringify(address)} is not a unix:// address`);
  if (!isAbsolute(rest) || rest.includes('\0')) {
    throw new AddressError(ErrorCode.INVALID_ADDRESS, address, `unix address ${JSON.stringify(address)} must name an absolute path, e.g. unix:///tmp/nc.sock`);
  }
  if (Buffer.byteLength(rest) > 107) {
    throw new AddressError(ErrorCode.INVALID_ADDRESS, address, `unix socket path in ${JSON.stringify(address)} is longer than 107 bytes`);
  }
  return rest;
}

/** The unix address spec: an absolute socket path; the socket file is removed after the listener closed. */
export function unixSpec(options: UnixSpecOptions = {}): NetSocketDriverSpec {
  const unlinkStale = options.unlinkStale ?? true;
  return {
    scheme: 'unix',
    validate: (address) => void unixPath(address),
    connectOptions: (address) => ({ path: unixPath(address) }),
    listenOptions: (address) => {
      const path = unixPath(address);
      if (unlinkStale) rmSync(path, { force: true });
      return { path };
    },
    boundAddress: (_server, requested) => requested,
    endpoints: (_socket, address) => ({ local: address, remote: address }),
    afterClose: (address) => rmSync(unixPath(address), { force: true }),
  };
}
