/**
 * Address handling of the schemes a channel worker serves (`tcp`, `unix`), shared by
 * the main thread (validation) and the worker (connect/listen options, endpoint
 * names). Mirrors transports/tcp and transports/unix, whose specs are not exported.
 * @packageDocumentation
 */
import { rmSync } from 'node:fs';
import type net from 'node:net';
import { formatHostPort, parseHostPort } from '../netdriver/address.js';
import { unixPath } from '../transports/unix/index.js';
import type { WorkerScheme } from './protocol.js';

/** Throws AddressError `NETCHANNEL_ERR_INVALID_ADDRESS` when `address` is not a valid `scheme` address. */
export function validateAddress(scheme: WorkerScheme, address: string): void {
  if (scheme === 'tcp') parseHostPort(address, 'tcp', true);
  else unixPath(address);
}

/** `net.connect` options for a dial. */
export function connectOptions(scheme: WorkerScheme, address: string): net.NetConnectOpts {
  if (scheme === 'tcp') {
    const { host, port } = parseHostPort(address, 'tcp', false);
    return { host, port, allowHalfOpen: true };
  }
  return { path: unixPath(address), allowHalfOpen: true };
}

/** `server.listen` options. */
export function listenOptions(scheme: WorkerScheme, address: string, unlinkStale: boolean): net.ListenOptions {
  if (scheme === 'tcp') {
    const { host, port } = parseHostPort(address, 'tcp', true);
    return { host, port };
  }
  const path = unixPath(address);
  if (unlinkStale) rmSync(path, { force: true });
  return { path };
}

/** The address a listener reports (real port for tcp). */
export function boundAddress(scheme: WorkerScheme, server: net.Server, requested: string): string {
  if (scheme === 'unix') return requested;
  const a = server.address() as net.AddressInfo;
  return formatHostPort('tcp', a.address, a.port);
}

/** Names of both ends of a connected socket. */
export function endpoints(scheme: WorkerScheme, socket: net.Socket, address: string): { local: string; remote: string } {
  if (scheme === 'unix') return { local: address, remote: address };
  return {
    local: formatHostPort('tcp', socket.localAddress ?? '?', socket.localPort ?? 0),
    remote: formatHostPort('tcp', socket.remoteAddress ?? '?', socket.remotePort ?? 0),
  };
}

/** Cleanup after a listener closed (unix: the socket file). */
export function afterClose(scheme: WorkerScheme, address: string): void {
  if (scheme === 'unix') rmSync(unixPath(address), { force: true });
}
