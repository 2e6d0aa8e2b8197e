/**
 * netchannel: one stack per process; every pipe is a virtual socket over the channels
 * the dialing stack opened (inline channels on TCP loopback).
 * @packageDocumentation
 */
import { createStack, type Stack, type StackOptions } from '../../index.js';
import { UdpImpairProxy } from '../lib/udp-impair-proxy.js';
import { udp } from '../../transports/udp/index.js';
import { within } from '../lib/deadline.js';
import { duplexPipe, type ChannelTransport, type Dialer, type Listener, type Pipe } from './pipe.js';

/** udp:// settings of the benchmarks: loopback datagrams (65,000 B), default RTO bounds. */
const UDP_BENCH = { datagramSize: 65_000 } as const;

/** Virtual port the benchmark server listens on. */
export const VPORT = 80;

/** Stack options of a netchannel case. */
export function stackOptions(channels: number, latencyChannels: number, isolation: boolean, listen = false, transport: ChannelTransport = { kind: 'tcp' }, trace = false): StackOptions {
  const isUdp = transport.kind === 'udp';
  return {
    ...(listen ? { listen: [isUdp ? 'udp://127.0.0.1:0' : 'tcp://127.0.0.1:0'] } : {}),
    ...(isUdp && { transports: [udp(UDP_BENCH)] }),
    channels: { throughput: channels, latency: latencyChannels },
    scheduler: { isolation },
    ...(trace && { latencyTrace: true }),
  };
}

/** Closes `stack` gracefully, destroying it if that takes longer than `ms`. */
export async function closeStack(stack: Stack, ms = 5000): Promise<void> {
  const p = stack.close();
  if ((await within(p.then(() => true), ms)) === undefined) stack.destroy();
}

/** Listens for virtual sockets on {@link VPORT}. */
export async function listenNetchannel(opts: StackOptions, onPipe: (p: Pipe) => void, transport: ChannelTransport = { kind: 'tcp' }): Promise<Listener> {
  const stack = await createStack(opts);
  const server = await stack.listen(VPORT);
  server.on('connection', (s) => onPipe(duplexPipe(s)));
  let address = stack.addresses[0]!;
  let proxy: UdpImpairProxy | undefined;
  if (transport.kind === 'udp' && (transport.proxy || (transport.loss ?? 0) > 0)) {
    proxy = await UdpImpairProxy.start(address, { loss: transport.loss ?? 0, seed: 1, spare: 8 });
    address = proxy.address;
  }
  return {
    target: { kind: 'netchannel', address, vport: VPORT },
    latencyTrace: () => stack.latencyTrace({ clear: true }),
    close: async () => {
      await closeStack(stack);
      proxy?.close();
    },
  };
}

/** Creates a stack; each pipe is a virtual socket (class from `open({ latency })`). */
export async function dialNetchannel(opts: StackOptions, address: string, vport: number): Promise<Dialer> {
  const stack = await createStack(opts);
  return {
    open: async (o) => duplexPipe(await stack.connect(address, vport, { appClass: o?.latency ? 'latency' : 'throughput' })),
    latencyTrace: () => stack.latencyTrace({ clear: true }),
    close: () => closeStack(stack),
  };
}
