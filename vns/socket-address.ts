/**
 * The `net.Socket` address view of a virtual socket: the IP endpoints of the channel
 * it was opened on, with its virtual ports. Channels of IP transports (`tcp://`,
 * `tls://`, `ws://`, …) give IP strings and `'IPv4'`/`'IPv6'`; `unix://` and
 * `memory://` channels give `undefined`, as net does for Unix-domain sockets.
 * @packageDocumentation
 */
import { isIP } from 'node:net';

/** An IP endpoint parsed from a channel address such as `tcp://127.0.0.1:7000`. */
export interface IpEndpoint {
  /** IP address string, without brackets. */
  readonly address: string;
  /** `'IPv4'` or `'IPv6'`. */
  readonly family: 'IPv4' | 'IPv6';
}

/** The address info `net.Socket#address()` returns for an IP socket. */
export interface SocketAddressInfo {
  address: string;
  family: string;
  port: number;
}

/** Channel address strings a socket's address view is derived from. */
export interface ChannelEndpoints {
  readonly localAddress: string;
  readonly remoteAddress: string;
}

/**
 * The IP endpoint in a channel address `scheme://host:port[/path]`, or undefined when
 * the host is not an IP literal (unix paths, memory names, host names).
 */
export function ipEndpoint(channelAddress: string | undefined): IpEndpoint | undefined {
  if (channelAddress === undefined) return undefined;
  const m = /^[a-z][a-z0-9+.-]*:\/\/(\[[^\]]+\]|[^/:]+)(?::\d+)?(?:\/.*)?$/i.exec(channelAddress);
  if (!m) return undefined;
  const host = m[1]!.startsWith('[') ? m[1]!.slice(1, -1) : m[1]!;
  const v = isIP(host);
  return v === 4 ? { address: host, family: 'IPv4' } : v === 6 ? { address: host, family: 'IPv6' } : undefined;
}

/** Lazily parsed address view of one socket (parsed once, on first use). */
export class SocketAddressView {
  private parsed: { local: IpEndpoint | undefined; remote: IpEndpoint | undefined } | null = null;

  constructor(private endpoints: ChannelEndpoints | null = null) {}

  /** Records the channel the socket was opened on (first call wins). */
  bind(endpoints: ChannelEndpoints): void {
    if (this.endpoints === null) this.endpoints = { localAddress: endpoints.localAddress, remoteAddress: endpoints.remoteAddress };
  }

  /** The local IP endpoint, if the channel is IP. */
  get local(): IpEndpoint | undefined {
    return this.parse().local;
  }

  /** The remote IP endpoint, if the channel is IP. */
  get remote(): IpEndpoint | undefined {
    return this.parse().remote;
  }

  /** `{ address, family, port }` for an IP channel, else `{}` (as net for Unix sockets). */
  info(port: number): SocketAddressInfo | Record<string, never> {
    const l = this.local;
    return l ? { address: l.address, family: l.family, port } : {};
  }

  private parse(): { local: IpEndpoint | undefined; remote: IpEndpoint | undefined } {
    if (this.parsed) return this.parsed;
    if (!this.endpoints) return { local: undefined, remote: undefined };
    this.parsed = { local: ipEndpoint(this.endpoints.localAddress), remote: ipEndpoint(this.endpoints.remoteAddress) };
    return this.parsed;
  }
}
