/**
 * Logging and tracing without dependencies, fed by `stack.events$`:
 * - `NODE_DEBUG=netchannel` prints one line per channel and socket lifecycle step,
 *   limit hit and error on stderr (`util.debuglog('netchannel')`);
 * - `node:diagnostics_channel` channels ({@link DIAGNOSTICS_CHANNELS}) publish the same
 *   events to in-process subscribers (APMs, tests).
 * Nothing is formatted or allocated unless the log is enabled or a channel has
 * subscribers. See docs/diagnostics.md.
 * @packageDocumentation
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { debuglog } from 'node:util';
import type { Observable, Subscription } from 'rxjs';
import { ErrorCode } from '../errors/index.js';
import type { StackEvent } from '../events/index.js';

/** Names of the `node:diagnostics_channel` channels a stack publishes on. */
export const DIAGNOSTICS_CHANNELS = {
  /** A virtual socket opened (`socket-opened`: connected or accepted). */
  socketOpen: 'netchannel:socket:open',
  /** An opened virtual socket closed (`socket-closed`, with `code` when it failed). */
  socketClose: 'netchannel:socket:close',
  /** A connect failed before the socket opened (`socket-refused`: refused, failed dial, timeout, limit). */
  socketRefuse: 'netchannel:socket:refuse',
  /** A channel joined a peer device (`channel-added`). */
  channelAdd: 'netchannel:channel:add',
  /** A channel left a peer device (`channel-removed`, reason `closed` or `failed`). */
  channelRemove: 'netchannel:channel:remove',
  /** An inbound channel was refused before joining (`channel-rejected`: bad HELLO, auth, handshake limit). */
  channelReject: 'netchannel:channel:reject',
  /** Any event carrying `NETCHANNEL_ERR_LIMIT` (a configured limit was hit), also published on its own channel. */
  limit: 'netchannel:limit',
} as const;

/**
 * What every diagnostics channel publishes: the stack event itself plus the id of the
 * stack that emitted it.
 */
export type DiagnosticsMessage = StackEvent & {
  /** Host id of the publishing stack. */
  readonly hostId: string;
};

const log = debuglog('netchannel');
const channels = {
  'socket-opened': diagnosticsChannel.channel(DIAGNOSTICS_CHANNELS.socketOpen),
  'socket-closed': diagnosticsChannel.channel(DIAGNOSTICS_CHANNELS.socketClose),
  'socket-refused': diagnosticsChannel.channel(DIAGNOSTICS_CHANNELS.socketRefuse),
  'channel-added': diagnosticsChannel.channel(DIAGNOSTICS_CHANNELS.channelAdd),
  'channel-removed': diagnosticsChannel.channel(DIAGNOSTICS_CHANNELS.channelRemove),
  'channel-rejected': diagnosticsChannel.channel(DIAGNOSTICS_CHANNELS.channelReject),
} as const;
const limitChannel = diagnosticsChannel.channel(DIAGNOSTICS_CHANNELS.limit);

/**
 * Subscribes the debug log and the diagnostics channels to a stack's events. The
 * subscription ends when `events$` completes (the stack closed).
 */
export function attachDiagnostics(hostId: string, events$: Observable<StackEvent>): Subscription {
  return events$.subscribe((e) => onEvent(hostId, e));
}

function onEvent(hostId: string, e: StackEvent): void {
  const ch = e.type in channels ? channels[e.type as keyof typeof channels] : undefined;
  const limit = 'code' in e && e.code === ErrorCode.LIMIT;
  if (ch?.hasSubscribers || (limit && limitChannel.hasSubscribers)) {
    const message: DiagnosticsMessage = { ...e, hostId };
    if (ch?.hasSubscribers) ch.publish(message);
    if (limit && limitChannel.hasSubscribers) limitChannel.publish(message);
  }
  if (log.enabled) {
    const line = describe(e);
    if (line) log('%s %s%s', hostId.slice(0, 8), limit ? 'LIMIT hit: ' : '', line);
  }
}

/** One log line per event; lifecycle, limits and errors (not HoL/remap/scaling noise: those are in events$ and metrics). */
function describe(e: StackEvent): string | undefined {
  const peer = e.peer ? ` peer=${e.peer.slice(0, 8)}` : '';
  switch (e.type) {
    case 'channel-added':
      return `channel ${e.channelId} added${peer} class=${e.appClass} index=${e.index} transport=${e.transport}`;
    case 'channel-removed':
      return `channel ${e.channelId} removed (${e.reason})${peer} class=${e.appClass} index=${e.index} transport=${e.transport}${e.code ? ` error ${e.code}: ${e.error ?? ''}` : ''}`;
    case 'channel-rejected':
      return `channel from ${e.remoteAddress} rejected transport=${e.transport} error ${e.code}: ${e.error}`;
    case 'socket-opened':
      return `socket ${e.localPort}->${e.remotePort} opened (${e.side})${peer} class=${e.appClass}${e.handshakeMs !== undefined ? ` handshake=${e.handshakeMs.toFixed(2)}ms` : ''}`;
    case 'socket-closed':
      return `socket ${e.localPort}->${e.remotePort} closed${peer} class=${e.appClass} read=${e.bytesRead} written=${e.bytesWritten} stalls=${e.creditStalls}${e.code ? ` error ${e.code}` : ''}`;
    case 'socket-refused':
      return `connect to virtual port ${e.remotePort} failed${peer} class=${e.appClass} error ${e.code}`;
    case 'scaling':
      return `scaling ${e.appClass} ${e.from}->${e.to} channels${peer} policy=${e.policy}`;
    case 'worker-scaling':
      return `${e.kind} workers ${e.from}->${e.to} (${e.action}${e.parked > 0 ? ` ${e.parked}` : ''}, idle capacity ${e.idleCapacity.toFixed(2)} cores)`;
    default:
      return undefined;
  }
}
