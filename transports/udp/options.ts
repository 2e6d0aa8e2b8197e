/**
 * Options and addresses of the udp:// transport.
 * @packageDocumentation
 */
import { AddressError, ErrorCode, InvalidArgumentError } from '../../errors/index.js';
import { intOption } from '../../errors/validate.js';
import { MAX_DATAGRAM_SIZE, MIN_DATAGRAM_SIZE } from './wire.js';

/** Options of the udp transport. */
export interface UdpOptions {
  /**
   * Largest datagram this side sends or accepts, bytes (16-byte header included). A
   * connection uses the smaller of both sides' values. 1,400 fits a 1,500-byte Ethernet
   * MTU with room for IPv6 and tunnels; on loopback up to 65,000 is fine and much cheaper
   * per byte.
   * @default 1400
   */
  datagramSize?: number;
  /**
   * Receive window of each channel, bytes: datagrams held out of order or not yet
   * delivered. Advertised as credit in datagrams (window / datagramSize, at least 4).
   * @default 4194304
   */
  receiveWindow?: number;
  /**
   * Retransmission timeout bounds, ms (RFC 6298: RTO = srtt + 4·rttvar, clamped, doubled
   * per expiry). `initial` applies before the handshake's RTT sample.
   * @default { min: 200, max: 5000, initial: 1000 }
   */
  rto?: { min?: number; max?: number; initial?: number };
  /**
   * A channel that sent nothing for this long sends a PING (answered by an ACK), ms.
   * @default 1000
   */
  keepaliveInterval?: number;
  /**
   * A channel that heard nothing from its peer for this long fails with
   * `NETCHANNEL_ERR_TIMEOUT`, ms.
   * @default 10000
   */
  keepaliveTimeout?: number;
  /**
   * Time allowed for a dial's handshake (SYN retransmitted with backoff), ms.
   * @default 4000
   */
  handshakeTimeout?: number;
  /**
   * How long a gracefully closed connection keeps answering its peer's retransmitted
   * FIN, ms.
   * @default 2000
   */
  lingerTimeout?: number;
  /**
   * Connections one listener holds at once; further SYNs are refused.
   * @default 4096
   */
  maxConnections?: number;
  /**
   * Kernel send and receive buffer of each socket, bytes (the OS may cap it, e.g. Linux
   * `net.core.rmem_max`).
   * @default 4194304
   */
  socketBufferSize?: number;
  /**
   * Latency-class channels (dialed with `appClass: 'latency'`; the SYN tells the listener)
   * send every DATA datagram twice — the copy a moment later, on the next event-loop turn —
   * while at most this many bytes are unacknowledged, so one lost datagram of a small
   * message costs no retransmission timer. Costs one extra datagram per datagram of a small
   * flight. 0 turns the redundancy off. Throughput-class channels never send copies.
   * @default 32768
   */
  latencyRedundancyBytes?: number;
  /**
   * Smallest RTO of latency-class channels, ms (the effective minimum is the smaller of it
   * and `rto.min`). On a path with a sub-millisecond RTT the RTO is its minimum; a spurious
   * expiry costs a latency channel only a small flight's retransmission, so it may be far
   * below TCP's 200 ms.
   * @default 10
   */
  latencyRtoMin?: number;
}

/** {@link UdpOptions} with every default applied. */
export interface ResolvedUdpOptions {
  datagramSize: number;
  receiveWindow: number;
  rto: { min: number; max: number; initial: number };
  keepaliveInterval: number;
  keepaliveTimeout: number;
  handshakeTimeout: number;
  lingerTimeout: number;
  maxConnections: number;
  socketBufferSize: number;
  latencyRedundancyBytes: number;
  latencyRtoMin: number;
}

const HOUR = 3_600_000;

/** Validates {@link UdpOptions} and applies the defaults. */
export function resolveUdpOptions(options: UdpOptions): ResolvedUdpOptions {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError(`udp options must be an object, got ${JSON.stringify(options)}`);
  const rto = options.rto ?? {};
  if (rto === null || typeof rto !== 'object') throw new InvalidArgumentError(`options.rto must be an object, got ${JSON.stringify(rto)}`);
  const min = intOption('rto.min', rto.min, 200, 1, HOUR);
  const max = intOption('rto.max', rto.max, 5000, min, HOUR);
  const initial = intOption('rto.initial', rto.initial, Math.min(max, Math.max(min, 1000)), min, max);
  const keepaliveInterval = intOption('keepaliveInterval', options.keepaliveInterval, 1000, 1, HOUR);
  const keepaliveTimeout = intOption('keepaliveTimeout', options.keepaliveTimeout, 10_000, 1, HOUR);
  if (keepaliveTimeout <= keepaliveInterval) {
    throw new InvalidArgumentError(`options.keepaliveTimeout (${keepaliveTimeout}) must be greater than options.keepaliveInterval (${keepaliveInterval})`);
  }
  return {
    datagramSize: intOption('datagramSize', options.datagramSize, 1400, MIN_DATAGRAM_SIZE, MAX_DATAGRAM_SIZE),
    receiveWindow: intOption('receiveWindow', options.receiveWindow, 4 * 1024 * 1024, 4 * MIN_DATAGRAM_SIZE, 1 << 30),
    rto: { min, max, initial },
    keepaliveInterval,
    keepaliveTimeout,
    handshakeTimeout: intOption('handshakeTimeout', options.handshakeTimeout, 4000, 1, HOUR),
    lingerTimeout: intOption('lingerTimeout', options.lingerTimeout, 2000, 0, HOUR),
    maxConnections: intOption('maxConnections', options.maxConnections, 4096, 1, 1 << 20),
    socketBufferSize: intOption('socketBufferSize', options.socketBufferSize, 4 * 1024 * 1024, 65_536, 1 << 30),
    latencyRedundancyBytes: intOption('latencyRedundancyBytes', options.latencyRedundancyBytes, 32_768, 0, 1 << 30),
    latencyRtoMin: intOption('latencyRtoMin', options.latencyRtoMin, 10, 1, HOUR),
  };
}

/** A parsed `udp://host:port`. */
export interface UdpAddress {
  /** Host name or IP literal, without IPv6 brackets. */
  host: string;
  /** Port 0–65535 (0 only when listening). */
  port: number;
}

/**
 * Parses `udp://host:port` (IPv6 hosts in brackets).
 * @throws AddressError `NETCHANNEL_ERR_INVALID_ADDRESS` naming the address.
 */
export function parseUdpAddress(address: unknown, allowZeroPort: boolean): UdpAddress {
  const text = typeof address === 'string' ? address : String(address);
  const m = typeof address === 'string' ? /^udp:\/\/(?:\[([0-9a-f:.]+)\]|([^:/[\]]+)):(\d{1,5})$/i.exec(address) : null;
  if (!m) throw new AddressError(ErrorCode.INVALID_ADDRESS, text, `address ${JSON.stringify(text)} must be udp://host:port (IPv6 hosts in brackets)`);
  const port = Number(m[3]);
  if (port > 65535 || (port === 0 && !allowZeroPort)) {
    throw new AddressError(ErrorCode.INVALID_ADDRESS, text, `port ${port} in ${JSON.stringify(text)} is out of range (${allowZeroPort ? 0 : 1}-65535)`);
  }
  return { host: m[1] ?? m[2]!, port };
}

/** Formats host and port as `udp://host:port`. */
export function formatUdpAddress(host: string, port: number): string {
  return `udp://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
