/**
 * Listening and dialing for every compared transport.
 * @packageDocumentation
 */
import { dialHttp2, listenHttp2 } from './http2.js';
import { dialNet, listenNet } from './net.js';
import { dialNetchannel, listenNetchannel, stackOptions } from './netchannel.js';
import type { Dialer, KindSpec, Listener, Pipe, Target } from './pipe.js';
import { dialYamux, listenYamux } from './yamux.js';

export * from './pipe.js';

/** Listens for `spec` on loopback; every pipe a client opens is handed to `onPipe`. */
export function listen(spec: KindSpec, onPipe: (p: Pipe) => void): Promise<Listener> {
  switch (spec.kind) {
    case 'net':
      return listenNet(onPipe);
    case 'netchannel':
      return listenNetchannel(stackOptions(spec.channels, spec.latencyChannels ?? 0, spec.isolation ?? true, true, spec.transport, spec.trace), onPipe, spec.transport);
    case 'http2':
      return listenHttp2(onPipe);
    case 'yamux':
      return listenYamux(onPipe);
  }
}

/** Connects to `target` (untimed: channels, sessions and TCP connections are set up here). */
export async function dial(spec: KindSpec, target: Target): Promise<Dialer> {
  if (target.kind === 'netchannel') {
    if (spec.kind !== 'netchannel') throw new Error(`a ${spec.kind} client cannot dial a netchannel target`);
    return dialNetchannel(stackOptions(spec.channels, spec.latencyChannels ?? 0, spec.isolation ?? true, false, spec.transport, spec.trace), target.address, target.vport);
  }
  if (spec.kind !== target.kind) throw new Error(`a ${spec.kind} client cannot dial a ${target.kind} target`);
  switch (target.kind) {
    case 'net':
      return dialNet(target.port);
    case 'http2':
      return dialHttp2(target.port);
    case 'yamux':
      return dialYamux(target.port);
  }
}
