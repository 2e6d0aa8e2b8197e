/**
 * `udp://host:port` transport: channels over UDP datagrams with netchannel's own small
 * transport protocol (handshake, segmentation, selective acks, RFC 6298 retransmission,
 * credit + congestion window, keepalive, graceful end and abort); see
 * docs/udp-transport.md. Not a default transport: opt in with
 * `createStack({ transports: [tcp(), unix(), memory(), udp()] })`.
 *
 * One UDP socket per listener carries all its channels (demultiplexed by connection id);
 * each dialed channel has its own connected socket. Built only on the public driver
 * contract.
 * @packageDocumentation
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { ChannelError, ErrorCode } from '../../errors/index.js';
import type { Channel } from '../../netdriver/channel.js';
import { channelSettings, defineDriver, type ChannelDriver, type ChannelListener, type ChannelOptions, type DriverFactory } from '../../netdriver/driver.js';
import { UdpEndpoint, type EndpointConfig } from './endpoint.js';
import { formatUdpAddress, parseUdpAddress, resolveUdpOptions, type ResolvedUdpOptions, type UdpOptions } from './options.js';
import { DatagramType, encodeSyn, type Datagram } from './wire.js';

export { UdpChannel, UDP_DROP_REASONS, type UdpDropReason, type UdpChannelOptions } from './udp-channel.js';
export { UdpEndpoint, type UdpEndpointStats, type UdpEndpointDropReason } from './endpoint.js';
export { formatUdpAddress, parseUdpAddress, resolveUdpOptions, type UdpAddress, type UdpOptions, type ResolvedUdpOptions } from './options.js';
export * from './wire.js';

/** A udp listener: the driver's {@link ChannelListener} plus its socket's drop counters. */
export interface UdpListener extends ChannelListener {
  /** The listener's endpoint (drop counters in `endpoint.stats`). */
  readonly endpoint: UdpEndpoint;
}

/** The udp transport plug-in for `createStack({ transports: [udp()] })`. */
export function udp(options: UdpOptions = {}): DriverFactory {
  const o = resolveUdpOptions(options);
  return defineDriver('udp', () => createUdpDriver(o));
}

function family(host: string): 'udp4' | 'udp6' {
  return host.includes(':') ? 'udp6' : 'udp4';
}

function bindSocket(type: 'udp4' | 'udp6', o: ResolvedUdpOptions, bind: (s: Socket, done: () => void) => void): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket({ type, recvBufferSize: o.socketBufferSize, sendBufferSize: o.socketBufferSize });
    const onError = (err: Error): void => {
      s.close();
      reject(err);
    };
    s.once('error', onError);
    bind(s, () => {
      s.off('error', onError);
      resolve(s);
    });
  });
}

function createUdpDriver(o: ResolvedUdpOptions): ChannelDriver {
  const endpoints = new Set<UdpEndpoint>();
  const config = (co: ChannelOptions): EndpointConfig => ({
    datagramSize: o.datagramSize,
    receiveWindow: o.receiveWindow,
    maxConnections: o.maxConnections,
    format: formatUdpAddress,
    template: {
      scheme: 'udp',
      ...channelSettings(co),
      rto: o.rto,
      keepaliveInterval: o.keepaliveInterval,
      keepaliveTimeout: o.keepaliveTimeout,
      lingerTimeout: o.lingerTimeout,
    },
    latency: { redundancyBytes: o.latencyRedundancyBytes, rtoMin: o.latencyRtoMin },
  });
  const track = (e: UdpEndpoint): UdpEndpoint => {
    endpoints.add(e);
    e.socket.on('close', () => endpoints.delete(e));
    return e;
  };

  return {
    scheme: 'udp',
    validate(address: string): void {
      parseUdpAddress(address, true);
    },

    async dial(address: string, dialOptions: ChannelOptions = {}): Promise<Channel> {
      const target = parseUdpAddress(address, false);
      const { signal } = dialOptions;
      if (signal?.aborted) throw new ChannelError(ErrorCode.DIAL_FAILED, `dial ${address} aborted`);
      let socket: Socket;
      try {
        socket = await bindSocket(family(target.host), o, (s, done) => s.connect(target.port, target.host, done));
      } catch (err) {
        throw new ChannelError(ErrorCode.DIAL_FAILED, `cannot dial ${address}: ${(err as Error).message}`, { cause: err });
      }
      const endpoint = track(new UdpEndpoint(socket, config(dialOptions), undefined, true));
      const cid = endpoint.newCid();
      const latency = dialOptions.appClass === 'latency';
      return new Promise<Channel>((resolve, reject) => {
        const started = performance.now();
        let delay = Math.min(250, o.rto.initial);
        let timer: NodeJS.Timeout | undefined;
        const finish = (): void => {
          endpoint.onHandshake = undefined;
          clearTimeout(timer);
          clearTimeout(deadline);
          signal?.removeEventListener('abort', onAbort);
        };
        const fail = (why: string, cause?: unknown): void => {
          finish();
          endpoint.shutdown(new ChannelError(ErrorCode.DIAL_FAILED, why));
          reject(new ChannelError(ErrorCode.DIAL_FAILED, `cannot dial ${address}: ${why}`, cause === undefined ? undefined : { cause }));
        };
        const sendSyn = (): void => {
          endpoint.sendTo(encodeSyn(DatagramType.SYN, 0, cid, o.datagramSize, endpoint.windowFor(o.datagramSize), latency), undefined);
          timer = setTimeout(sendSyn, delay);
          delay *= 2;
        };
        const onAbort = (): void => fail('aborted');
        const deadline = setTimeout(() => fail(`no answer to the handshake within ${o.handshakeTimeout} ms`), o.handshakeTimeout);
        socket.on('error', (err: Error) => {
          if (endpoint.onHandshake !== undefined) fail(err.message, err);
          else endpoint.onSocketError(new ChannelError(ErrorCode.CLOSED, `udp socket to ${address} failed: ${err.message}`, { cause: err }));
        });
        endpoint.onHandshake = (d: Datagram, rinfo: RemoteInfo): void => {
          if (d.dstCid !== cid) return;
          if (d.type === DatagramType.RST) {
            fail('refused by the listener');
            return;
          }
          const size = Math.min(o.datagramSize, d.datagramSize);
          finish();
          const ch = endpoint.addChannel(cid, d.srcCid, { address: rinfo.address, port: rinfo.port }, size, d.window, performance.now() - started, latency);
          resolve(ch);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        sendSyn();
      });
    },

    async listen(address: string, onChannel: (channel: Channel) => void, listenOptions: ChannelOptions = {}): Promise<UdpListener> {
      const target = parseUdpAddress(address, true);
      let socket: Socket;
      try {
        socket = await bindSocket(family(target.host), o, (s, done) => s.bind(target.port, target.host, done));
      } catch (err) {
        throw new ChannelError(ErrorCode.DIAL_FAILED, `cannot listen on ${address}: ${(err as Error).message}`, { cause: err });
      }
      socket.on('error', () => {}); // an unconnected socket reports no per-peer errors worth failing on
      const endpoint = track(new UdpEndpoint(socket, config(listenOptions), onChannel, false));
      const bound = socket.address();
      return {
        address: formatUdpAddress(bound.address, bound.port),
        endpoint,
        close: async () => endpoint.stopAccepting(),
      };
    },

    async close(): Promise<void> {
      const err = new ChannelError(ErrorCode.CLOSED, 'udp driver closed');
      for (const e of [...endpoints]) e.shutdown(err);
    },
  };
}
