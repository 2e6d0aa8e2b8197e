/**
 * The accepting side of a stack: every inbound channel runs its HELLO (as acceptor)
 * in a bounded set of handshake slots, then joins the session of the peer host it
 * names; refusals are published as `channel-rejected` (and `limit-hit`) events.
 *
 * Fairness against slow or silent dialers (slowloris): a channel must send its first
 * byte within `handshakeFirstByteTimeout` and finish its HELLO within `helloTimeout`;
 * when every slot (or every slot of one remote IP) is taken, the oldest pending
 * handshake is dropped to make room, so a newcomer is never refused for slots.
 * @packageDocumentation
 */
import { ChannelError, ErrorCode, type ErrorCodeValue } from '../errors/index.js';
import type { EventSink, LimitName } from '../events/index.js';
import type { Channel } from '../netdriver/channel.js';
import { helloAsAcceptor } from '../netdriver/hello.js';
import type { PeerSession } from '../vns/peer-session.js';
import { ipKey } from '../vns/session-limits.js';
import type { StackLimits } from './limits.js';
import type { ResolvedStackOptions } from './options.js';

/** What admission needs from its stack. */
export interface AdmissionHost {
  readonly options: ResolvedStackOptions;
  readonly emit: EventSink;
  readonly limits: StackLimits;
  /** True while the stack accepts new work. */
  isOpen(): boolean;
  /** The live session of a peer host id, if any. */
  sessionOf(peerHostId: string): PeerSession | undefined;
  /** Live peer sessions. */
  peerCount(): number;
  /** The session for a peer host id (made on first use). */
  sessionFor(peerHostId: string, remoteAddress: string): PeerSession;
}

/** One channel in its HELLO. */
interface Pending {
  readonly ip: string | undefined;
  readonly timers: NodeJS.Timeout[];
}

/** Admits inbound channels for one stack. */
export class Admission {
  /** Channels in their HELLO, oldest first. */
  private readonly handshaking = new Map<Channel, Pending>();
  private readonly perIp = new Map<string, Set<Channel>>();

  constructor(private readonly host: AdmissionHost) {}

  /** Channels in their HELLO now. */
  get pending(): number {
    return this.handshaking.size;
  }

  /** A driver accepted `ch`: run its HELLO, then add it to its peer's device. */
  accept(ch: Channel): void {
    const { options } = this.host;
    if (!this.host.isOpen()) {
      ch.destroy();
      return;
    }
    const ip = ipKey(ch.remoteAddress);
    const mine = ip === undefined ? undefined : this.perIp.get(ip);
    if (mine !== undefined && mine.size >= options.maxPendingHandshakesPerIp) {
      this.drop(mine.values().next().value!, 'maxPendingHandshakesPerIp', ErrorCode.LIMIT, `more than ${options.maxPendingHandshakesPerIp} channels from ${ip} in their HELLO (maxPendingHandshakesPerIp): dropping the oldest`);
    }
    if (this.handshaking.size >= options.maxPendingHandshakes) {
      this.drop(this.handshaking.keys().next().value!, 'maxPendingHandshakes', ErrorCode.LIMIT, `more than ${options.maxPendingHandshakes} channels in their HELLO (maxPendingHandshakes): dropping the oldest`);
    }
    const p: Pending = { ip, timers: [] };
    p.timers.push(
      setTimeout(() => {
        if (ch.bytesReceived === 0) this.drop(ch, 'handshakeFirstByteTimeout', ErrorCode.HANDSHAKE, `no byte from ${ch.remoteAddress} within ${options.handshakeFirstByteTimeout} ms (handshakeFirstByteTimeout)`);
      }, options.handshakeFirstByteTimeout),
      setTimeout(() => this.drop(ch, 'helloTimeout', ErrorCode.HANDSHAKE, `no complete HELLO from ${ch.remoteAddress} within ${options.helloTimeout} ms (helloTimeout)`), options.helloTimeout),
    );
    this.handshaking.set(ch, p);
    if (ip !== undefined) {
      if (mine) mine.add(ch);
      else this.perIp.set(ip, new Set([ch]));
    }
    helloAsAcceptor(ch, options.hostId, options.handshakeTimeout, options.authKey, options.advertise).then(
      (peer) => {
        this.settle(ch);
        if (!this.host.isOpen() || ch.destroyed) {
          ch.destroy();
          return;
        }
        if (this.host.sessionOf(peer.hostId) === undefined) {
          const limit = this.host.limits.admitSession(ip, this.host.peerCount());
          if (limit !== undefined) {
            this.limitHit(limit, ch, peer.hostId);
            this.reject(ch, new ChannelError(ErrorCode.LIMIT, `refusing host id ${peer.hostId} from ${ch.remoteAddress}: ${limit} reached`), peer.hostId);
            return;
          }
          const session = this.host.sessionFor(peer.hostId, ch.remoteAddress);
          this.host.limits.sessionCount(ip, 1);
          session.once('down', () => this.host.limits.sessionCount(ip, -1));
        }
        this.host.sessionFor(peer.hostId, ch.remoteAddress).device.add(ch, peer.appClass, peer.index);
      },
      (err: Error) => {
        if (!this.settle(ch)) this.reject(ch, err);
      },
    );
  }

  /** Aborts every channel still in its HELLO (stack destroy). */
  destroy(err?: Error): void {
    for (const ch of [...this.handshaking.keys()]) {
      this.settle(ch);
      ch.destroy(err);
    }
  }

  /** Drops a pending handshake for `limit`, freeing its slot at once; it is reported here, once. */
  private drop(ch: Channel, limit: LimitName, code: ErrorCodeValue, message: string): void {
    if (this.settle(ch)) return;
    this.limitHit(limit, ch, '');
    this.reject(ch, new ChannelError(code, message));
  }

  /** Frees the handshake slot of `ch`; true when it held none (admission dropped it already). */
  private settle(ch: Channel): boolean {
    const p = this.handshaking.get(ch);
    if (p === undefined) return true;
    this.handshaking.delete(ch);
    for (const t of p.timers) clearTimeout(t);
    if (p.ip !== undefined) {
      const set = this.perIp.get(p.ip);
      set?.delete(ch);
      if (set?.size === 0) this.perIp.delete(p.ip);
    }
    return false;
  }

  private limitHit(limit: LimitName, ch: Channel, peer: string): void {
    this.host.emit({ type: 'limit-hit', at: Date.now(), peer, limit, remoteAddress: ch.remoteAddress });
  }

  /** Refuses an inbound channel and records why (events$, metrics). */
  private reject(ch: Channel, err: Error & { code?: string }, peer = ''): void {
    ch.destroy(err);
    this.host.emit({ type: 'channel-rejected', at: Date.now(), peer, transport: ch.scheme, remoteAddress: ch.remoteAddress, code: err.code ?? 'UNKNOWN', error: err.message });
  }
}
