/**
 * The dialing side of a stack: opens the configured channels to a peer address
 * (HELLO as dialer), adds channels for elastic scaling, and re-dials failed ones with
 * backoff.
 * @packageDocumentation
 */
import { ChannelError, ErrorCode, NetChannelError } from '../errors/index.js';
import type { AppClass } from '../netdriver/channel.js';
import type { ChannelDriver, ChannelOptions } from '../netdriver/driver.js';
import { helloAsDialer } from '../netdriver/hello.js';
import type { PeerSession } from '../vns/peer-session.js';
import type { ResolvedStackOptions } from './options.js';

/** What a dialer needs from its stack. */
export interface DialerHost {
  readonly options: ResolvedStackOptions;
  /** True while the stack accepts new work. */
  isOpen(): boolean;
  /** The driver of `address`'s scheme (throws AddressError). */
  driverFor(address: string): ChannelDriver;
  /** Channel options for a channel of `appClass`. */
  channelOptions(appClass?: AppClass): ChannelOptions;
  /** The session for a peer host id (made on first use). */
  sessionFor(peerHostId: string, remoteAddress: string): PeerSession;
}

/** Dials peers for one stack. */
export class Dialer {
  private readonly dialing = new Map<string, Promise<PeerSession>>();

  constructor(private readonly host: DialerHost) {}

  /** The session to the peer at `address`, dialing it on first use (concurrent calls share the dial). */
  sessionTo(address: string): Promise<PeerSession> {
    let p = this.dialing.get(address);
    if (!p) {
      p = this.dialPeer(address);
      this.dialing.set(address, p);
      p.catch(() => this.dialing.delete(address));
    }
    return p;
  }

  /** Dials in progress or done (for shutdown). */
  pending(): Promise<unknown>[] {
    return [...this.dialing.values()];
  }

  /** Forgets dials that produced `session` (it went down). */
  forget(session: PeerSession): void {
    for (const [addr, p] of this.dialing) {
      void p.then((x) => x === session && this.dialing.get(addr) === p && this.dialing.delete(addr), () => {});
    }
  }

  private async dialPeer(address: string): Promise<PeerSession> {
    const { options } = this.host;
    const driver = this.host.driverFor(address);
    const plan: Array<[AppClass, number]> = [];
    for (let i = 0; i < options.channels.throughput; i++) plan.push(['throughput', i]);
    for (let i = 0; i < options.channels.latency; i++) plan.push(['latency', i]);
    if (plan.length === 0) plan.push(['throughput', 0]);
    const results = await Promise.allSettled(
      plan.map(async ([appClass, index]) => {
        const ch = await driver.dial(address, this.host.channelOptions(appClass));
        const peer = await helloAsDialer(ch, { hostId: options.hostId, appClass, index }, options.handshakeTimeout, options.authKey);
        return { ch, peer, appClass, index };
      }),
    );
    const ok = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    const hosts = new Set(ok.map((r) => r.peer.hostId));
    if (failed || hosts.size !== 1 || !this.host.isOpen()) {
      for (const r of ok) r.ch.destroy();
      if (failed) throw failed.reason;
      if (!this.host.isOpen()) throw new NetChannelError(ErrorCode.CLOSED, `stack ${options.hostId} closed while dialing ${address}`);
      throw new ChannelError(ErrorCode.HANDSHAKE, `channels to ${address} reached ${hosts.size} different hosts`);
    }
    const session = this.host.sessionFor(ok[0]!.peer.hostId, address);
    session.dialAddress = address;
    for (const r of ok) session.device.add(r.ch, r.appClass, r.index);
    return session;
  }

  /** Dials one more channel of `appClass` to a peer this stack dialed (elastic scaling, re-dial). */
  async addChannel(session: PeerSession, appClass: AppClass, fixedIndex?: number): Promise<void> {
    const address = session.dialAddress;
    if (!address || !this.host.isOpen()) return;
    const { options } = this.host;
    const index = fixedIndex ?? session.device.channels.reduce((m, c) => (c.appClass === appClass ? Math.max(m, c.index + 1) : m), 0);
    const ch = await this.host.driverFor(address).dial(address, this.host.channelOptions(appClass));
    const peer = await helloAsDialer(ch, { hostId: options.hostId, appClass, index }, options.handshakeTimeout, options.authKey);
    if (peer.hostId !== session.remoteHostId || !this.host.isOpen() || session.isDown) {
      ch.destroy();
      return;
    }
    session.device.add(ch, appClass, index);
  }

  /**
   * Re-dials a failed channel (same class and index) with exponential backoff and
   * jitter, until it is back, the session gives up (peerTimeout) or the stack closes.
   */
  async redial(session: PeerSession, appClass: AppClass, index: number): Promise<void> {
    const { initial, max } = this.host.options.redialBackoff;
    for (let attempt = 0; this.host.isOpen() && !session.isDown; attempt++) {
      const delay = Math.min(max, initial * 2 ** attempt) * (0.5 + Math.random() / 2);
      await new Promise((r) => setTimeout(r, delay).unref());
      if (!this.host.isOpen() || session.isDown) return;
      try {
        await this.addChannel(session, appClass, index);
        return;
      } catch {
        // keep trying until peerTimeout fails the session
      }
    }
  }
}
