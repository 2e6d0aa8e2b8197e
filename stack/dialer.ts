/**
 * The dialing side of a stack: opens the configured channels to a peer — over one
 * address, or spread over several addresses of the same host ("paths", placed by the
 * path manager) — adds channels for elastic scaling, and re-dials failed ones on
 * their path with backoff.
 * @packageDocumentation
 */
import { ChannelError, ErrorCode, NetChannelError } from '../errors/index.js';
import type { EventSink } from '../events/index.js';
import type { AppClass, Channel } from '../netdriver/channel.js';
import type { ChannelDriver, ChannelOptions } from '../netdriver/driver.js';
import { helloAsDialer, type HelloInfo } from '../netdriver/hello.js';
import type { PathManager, PathView } from '../netscheduler/path-manager.js';
import type { PeerSession } from '../vns/peer-session.js';
import type { ResolvedStackOptions } from './options.js';

/** What a dialer needs from its stack. */
export interface DialerHost {
  readonly options: ResolvedStackOptions;
  readonly emit: EventSink;
  /** Places channels over paths. */
  readonly pathManager: PathManager;
  /** True while the stack accepts new work. */
  isOpen(): boolean;
  /** The driver of `address`'s scheme (throws AddressError). */
  driverFor(address: string): ChannelDriver;
  /** True when a driver is registered for `address`'s scheme and the address is valid. */
  canDial(address: string): boolean;
  /** Channel options for a channel of `appClass`. */
  channelOptions(appClass?: AppClass): ChannelOptions;
  /** The session for a peer host id (made on first use). */
  sessionFor(peerHostId: string, remoteAddress: string): PeerSession;
}

/** One dialed channel with its HELLO answer. */
interface Dialed {
  ch: Channel;
  peer: HelloInfo;
  appClass: AppClass;
  index: number;
  address: string;
  /** HELLO round trip, seconds. */
  rtt: number;
}

/** Dials peers for one stack. */
export class Dialer {
  private readonly dialing = new Map<string, Promise<PeerSession>>();

  constructor(private readonly host: DialerHost) {}

  /**
   * The session to the peer at `addresses` (one or several addresses of the same host),
   * dialing it on first use (concurrent calls share the dial).
   */
  sessionTo(addresses: readonly string[]): Promise<PeerSession> {
    const key = addresses.join('\n');
    let p = this.dialing.get(key);
    if (!p) {
      p = this.dialPeer(addresses);
      this.dialing.set(key, p);
      p.catch(() => this.dialing.delete(key));
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

  /** Dials one channel and runs its HELLO. */
  private async dialOne(address: string, appClass: AppClass, index: number): Promise<Dialed> {
    const { options } = this.host;
    const ch = await this.host.driverFor(address).dial(address, this.host.channelOptions(appClass));
    const t0 = performance.now();
    const peer = await helloAsDialer(ch, { hostId: options.hostId, appClass, index }, options.handshakeTimeout, options.authKey);
    return { ch, peer, appClass, index, address, rtt: (performance.now() - t0) / 1000 };
  }

  private async dialPeer(addresses: readonly string[]): Promise<PeerSession> {
    const { options } = this.host;
    const counts = { throughput: options.channels.throughput, latency: options.channels.latency };
    if (counts.throughput + counts.latency === 0) counts.throughput = 1;
    const all: Dialed[] = [];
    try {
      if (addresses.length === 1 && options.paths !== 'advertised') {
        // One path: every channel at once.
        const plan: Array<[AppClass, number]> = [];
        for (let i = 0; i < counts.throughput; i++) plan.push(['throughput', i]);
        for (let i = 0; i < counts.latency; i++) plan.push(['latency', i]);
        all.push(...(await this.settle(plan.map(([cls, i]) => this.dialOne(addresses[0]!, cls, i)))));
        this.sameHost(all);
      } else {
        // Several paths: one throughput channel per path first (it measures the path's RTT).
        const first = await this.settle(addresses.map((a, i) => this.dialOne(a, 'throughput', i)));
        all.push(...first);
        this.sameHost(all);
        if (options.paths === 'advertised') all.push(...(await this.advertisedPaths(addresses, first)));
        const paths: PathView[] = all.map((d) => ({ address: d.address, rtt: d.rtt, local: d.address.startsWith('unix://') }));
        const plan = this.host.pathManager.plan(paths, counts);
        const more: Array<Promise<Dialed>> = [];
        let tIndex = paths.length;
        let lIndex = 0;
        for (const [i, p] of paths.entries()) {
          for (let k = 1; k < (plan.throughput[i] ?? 0); k++) more.push(this.dialOne(p.address, 'throughput', tIndex++));
          for (let k = 0; k < (plan.latency[i] ?? 0); k++) more.push(this.dialOne(p.address, 'latency', lIndex++));
        }
        // A path the manager gives no throughput channel keeps none (same-host shortcut).
        for (const [i, d] of all.entries()) if ((plan.throughput[i] ?? 0) < 1) d.ch.destroy();
        const kept = all.filter((_d, i) => (plan.throughput[i] ?? 0) >= 1);
        all.length = 0;
        all.push(...kept, ...(await this.settle(more)));
        this.sameHost(all);
      }
    } catch (err) {
      for (const d of all) d.ch.destroy();
      throw err;
    }
    if (!this.host.isOpen()) {
      for (const d of all) d.ch.destroy();
      throw new NetChannelError(ErrorCode.CLOSED, `stack ${options.hostId} closed while dialing ${addresses.join(', ')}`);
    }
    const session = this.host.sessionFor(all[0]!.peer.hostId, addresses[0]!);
    for (const d of all) if (!session.knownPaths.includes(d.address)) session.knownPaths.push(d.address);
    for (const d of all) session.device.add(d.ch, d.appClass, d.index, d.address);
    return session;
  }

  /** Dials one channel to each address the peer advertised (opt-in); paths that fail or reach another host are skipped. */
  private async advertisedPaths(given: readonly string[], first: readonly Dialed[]): Promise<Dialed[]> {
    const offered = (first[0]!.peer.advertised ?? []).filter((a) => !given.includes(a) && this.host.canDial(a));
    // Same-host shortcut: a unix:// path is tried first and preferred by the path manager.
    offered.sort((a, b) => Number(b.startsWith('unix://')) - Number(a.startsWith('unix://')));
    const results = await Promise.allSettled(offered.map((a, i) => this.dialOne(a, 'throughput', given.length + i)));
    const out: Dialed[] = [];
    for (const [i, r] of results.entries()) {
      const address = offered[i]!;
      if (r.status === 'fulfilled' && r.value.peer.hostId === first[0]!.peer.hostId) {
        out.push(r.value);
        continue;
      }
      if (r.status === 'fulfilled') r.value.ch.destroy();
      const err = r.status === 'rejected' ? (r.reason as Error & { code?: string }) : new ChannelError(ErrorCode.HANDSHAKE, `advertised address ${address} reached host ${r.value.peer.hostId}, not ${first[0]!.peer.hostId}`);
      this.host.emit({ type: 'path-rejected', at: Date.now(), peer: first[0]!.peer.hostId, address, code: err.code ?? 'UNKNOWN', error: err.message });
    }
    return out;
  }

  /** Waits for every dial; on any failure destroys the others and throws the first error. */
  private async settle(dials: Array<Promise<Dialed>>): Promise<Dialed[]> {
    const results = await Promise.allSettled(dials);
    const ok = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      for (const d of ok) d.ch.destroy();
      throw failed.reason;
    }
    return ok;
  }

  /** Every channel must reach one host; otherwise NETCHANNEL_ERR_HANDSHAKE naming the address. */
  private sameHost(all: readonly Dialed[]): void {
    const hostId = all[0]?.peer.hostId;
    const odd = all.find((d) => d.peer.hostId !== hostId);
    if (odd) throw new ChannelError(ErrorCode.HANDSHAKE, `${odd.address} reached host ${odd.peer.hostId}, but ${all[0]!.address} reached host ${hostId}: the addresses of one connect must belong to one peer`);
  }

  /**
   * Dials one more channel of `appClass` to a peer this stack dialed (elastic scaling,
   * re-dial), on `address` or else the path with the fewest channels of the class.
   */
  async addChannel(session: PeerSession, appClass: AppClass, fixedIndex?: number, address?: string): Promise<void> {
    const to = address ?? session.leastUsedPath(appClass);
    if (!to || !this.host.isOpen()) return;
    const index = fixedIndex ?? session.device.channels.reduce((m, c) => (c.appClass === appClass ? Math.max(m, c.index + 1) : m), 0);
    const d = await this.dialOne(to, appClass, index);
    if (d.peer.hostId !== session.remoteHostId || !this.host.isOpen() || session.isDown) {
      d.ch.destroy();
      return;
    }
    session.device.add(d.ch, appClass, index, to);
  }

  /**
   * Re-dials a failed channel (same class, index and path) with exponential backoff and
   * jitter, until it is back, the session gives up (peerTimeout) or the stack closes.
   * Meanwhile its traffic runs on the remaining channels (other paths).
   */
  async redial(session: PeerSession, appClass: AppClass, index: number, address: string | undefined): Promise<void> {
    const { initial, max } = this.host.options.redialBackoff;
    for (let attempt = 0; this.host.isOpen() && !session.isDown; attempt++) {
      const delay = Math.min(max, initial * 2 ** attempt) * (0.5 + Math.random() / 2);
      await new Promise((r) => setTimeout(r, delay).unref());
      if (!this.host.isOpen() || session.isDown) return;
      try {
        await this.addChannel(session, appClass, index, address);
        return;
      } catch {
        // keep trying until peerTimeout fails the session
      }
    }
  }
}
