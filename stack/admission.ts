/**
 * The accepting side of a stack: every inbound channel runs its HELLO (as acceptor)
 * in a bounded set of handshake slots, then joins the session of the peer host it
 * names; refusals are published as `channel-rejected` events.
 * @packageDocumentation
 */
import { ChannelError, ErrorCode } from '../errors/index.js';
import type { EventSink } from '../events/index.js';
import type { Channel } from '../netdriver/channel.js';
import { helloAsAcceptor } from '../netdriver/hello.js';
import type { PeerSession } from '../vns/peer-session.js';
import type { ResolvedStackOptions } from './options.js';

/** What admission needs from its stack. */
export interface AdmissionHost {
  readonly options: ResolvedStackOptions;
  readonly emit: EventSink;
  /** True while the stack accepts new work. */
  isOpen(): boolean;
  /** The session for a peer host id (made on first use). */
  sessionFor(peerHostId: string, remoteAddress: string): PeerSession;
}

/** Admits inbound channels for one stack. */
export class Admission {
  private readonly handshaking = new Set<Channel>();

  constructor(private readonly host: AdmissionHost) {}

  /** A driver accepted `ch`: run its HELLO, then add it to its peer's device. */
  accept(ch: Channel): void {
    const { options } = this.host;
    if (!this.host.isOpen()) {
      ch.destroy();
      return;
    }
    if (this.handshaking.size >= options.maxPendingHandshakes) {
      this.reject(ch, new ChannelError(ErrorCode.LIMIT, `more than ${options.maxPendingHandshakes} channels are in their HELLO; refusing ${ch.remoteAddress}`));
      return;
    }
    this.handshaking.add(ch);
    helloAsAcceptor(ch, options.hostId, options.handshakeTimeout, options.authKey, options.advertise).then(
      (peer) => {
        this.handshaking.delete(ch);
        if (!this.host.isOpen()) {
          ch.destroy();
          return;
        }
        this.host.sessionFor(peer.hostId, ch.remoteAddress).device.add(ch, peer.appClass, peer.index);
      },
      (err: Error) => {
        this.handshaking.delete(ch);
        this.reject(ch, err);
      },
    );
  }

  /** Aborts every channel still in its HELLO (stack destroy). */
  destroy(err?: Error): void {
    for (const ch of this.handshaking) ch.destroy(err);
  }

  /** Refuses an inbound channel and records why (events$, metrics). */
  private reject(ch: Channel, err: Error & { code?: string }): void {
    ch.destroy(err);
    this.host.emit({ type: 'channel-rejected', at: Date.now(), peer: '', transport: ch.scheme, remoteAddress: ch.remoteAddress, code: err.code ?? 'UNKNOWN', error: err.message });
  }
}
