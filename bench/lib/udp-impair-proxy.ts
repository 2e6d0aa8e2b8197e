/**
 * A UDP impairment proxy on loopback (no root, no tc), for the udp bench scenario and the udp tests. Clients send to
 * {@link UdpImpairProxy.address}; each client source gets its own upstream socket to the
 * target (like a NAT), so the target sees one source per client. Every datagram, in
 * each direction, gets an {@link Impairment} from a seeded schedule: pass, drop,
 * duplicate, reorder (held back until `reorderDepth` later datagrams passed) or delay.
 * @packageDocumentation
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { prng } from '../../compliance/generate.js';

/** What happens to one datagram. */
export type Impairment = 'pass' | 'drop' | 'duplicate' | 'reorder' | 'delay';

/** Direction of a datagram through the proxy. */
export type Direction = 'up' | 'down';

/** Options of {@link UdpImpairProxy}. */
export interface ImpairOptions {
  /** Probability of dropping a datagram. @default 0 */
  loss?: number;
  /** Probability of sending a datagram twice. @default 0 */
  duplicate?: number;
  /** Probability of holding a datagram back behind later ones. @default 0 */
  reorder?: number;
  /** Probability of delaying a datagram by `delayMs`. @default 0 */
  delay?: number;
  /** Delay of a delayed datagram, ms. @default 5 */
  delayMs?: number;
  /** Later datagrams that overtake a reordered one. @default 3 */
  reorderDepth?: number;
  /** Seed of the schedule. @default 1 */
  seed?: number;
  /** Explicit schedule: overrides the probabilities (`n` counts datagrams per direction from 0; `msg` is the datagram). */
  schedule?: (n: number, direction: Direction, msg: Buffer) => Impairment;
  /** Leave datagrams of the first `spare` per direction alone (e.g. the handshake). @default 0 */
  spare?: number;
}

/** Counts of what the proxy did. */
export interface ImpairCounts {
  forwarded: number;
  dropped: number;
  duplicated: number;
  reordered: number;
  delayed: number;
}

/** Deterministic PRNG in [0, 1) (the compliance suite's mulberry32). */
function rng(seed: number): () => number {
  const next = prng(seed);
  return () => next() / 2 ** 32;
}

interface Lane {
  n: number;
  held: { msg: Buffer; release: number }[];
  send: (msg: Buffer) => void;
}

/** A UDP impairment proxy in front of one target. */
export class UdpImpairProxy {
  readonly counts: ImpairCounts = { forwarded: 0, dropped: 0, duplicated: 0, reordered: 0, delayed: 0 };
  /** Drop everything from now on (the peer "vanishes"). */
  blackhole = false;
  private readonly front: Socket;
  private readonly clients = new Map<string, { upstream: Socket; up: Lane; down: Lane }>();
  private readonly random: () => number;
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  private constructor(
    front: Socket,
    private readonly targetHost: string,
    private readonly targetPort: number,
    private readonly o: ImpairOptions,
  ) {
    this.front = front;
    this.random = rng(o.seed ?? 1);
    front.on('message', (msg, rinfo) => this.fromClient(msg, rinfo));
    front.on('error', () => {});
  }

  /** Starts a proxy on 127.0.0.1 forwarding to `udp://host:port` (`target`). */
  static async start(target: string, options: ImpairOptions = {}): Promise<UdpImpairProxy> {
    const m = /^udp:\/\/([^:]+):(\d+)$/.exec(target);
    if (!m) throw new Error(`target must be udp://host:port, got ${target}`);
    const front = createSocket({ type: 'udp4', recvBufferSize: 8 << 20, sendBufferSize: 8 << 20 });
    await new Promise<void>((resolve) => front.bind(0, '127.0.0.1', resolve));
    return new UdpImpairProxy(front, m[1]!, Number(m[2]), options);
  }

  /** The address clients dial. */
  get address(): string {
    return `udp://127.0.0.1:${this.front.address().port}`;
  }

  /**
   * Sends `msg` to the target from the upstream socket of the first client, i.e. from
   * the very address the target knows as that client's (a spoofed datagram).
   */
  inject(msg: Buffer): void {
    const c = this.clients.values().next().value;
    if (c === undefined) throw new Error('inject: no client has sent through the proxy yet');
    c.upstream.send(msg);
  }

  /** Stops forwarding and closes every socket. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.front.close();
    for (const c of this.clients.values()) c.upstream.close();
  }

  private fromClient(msg: Buffer, rinfo: RemoteInfo): void {
    const key = `${rinfo.address}|${rinfo.port}`;
    let c = this.clients.get(key);
    if (c === undefined) {
      const upstream = createSocket({ type: 'udp4', recvBufferSize: 8 << 20, sendBufferSize: 8 << 20 });
      upstream.on('error', () => {});
      upstream.connect(this.targetPort, this.targetHost);
      const pending: Buffer[] = [];
      let ready = false;
      upstream.once('connect', () => {
        ready = true;
        for (const p of pending.splice(0)) upstream.send(p);
      });
      const entry = {
        upstream,
        up: { n: 0, held: [], send: (m: Buffer) => (ready ? upstream.send(m) : pending.push(m)) } as Lane,
        down: { n: 0, held: [], send: (m: Buffer) => !this.closed && this.front.send(m, rinfo.port, rinfo.address) } as Lane,
      };
      upstream.on('message', (m) => this.impair(entry.down, 'down', m));
      this.clients.set(key, entry);
      c = entry;
    }
    this.impair(c.up, 'up', msg);
  }

  private decide(n: number, dir: Direction, msg: Buffer): Impairment {
    const o = this.o;
    if (n < (o.spare ?? 0)) return 'pass';
    if (o.schedule) return o.schedule(n, dir, msg);
    const r = this.random();
    let p = o.loss ?? 0;
    if (r < p) return 'drop';
    if (r < (p += o.duplicate ?? 0)) return 'duplicate';
    if (r < (p += o.reorder ?? 0)) return 'reorder';
    if (r < (p += o.delay ?? 0)) return 'delay';
    return 'pass';
  }

  private impair(lane: Lane, dir: Direction, msg: Buffer): void {
    if (this.closed) return;
    const n = lane.n++;
    if (this.blackhole) {
      this.counts.dropped++;
      return;
    }
    const what = this.decide(n, dir, msg);
    switch (what) {
      case 'drop':
        this.counts.dropped++;
        break;
      case 'duplicate':
        this.counts.duplicated++;
        this.forward(lane, msg);
        this.forward(lane, msg);
        break;
      case 'reorder': {
        this.counts.reordered++;
        lane.held.push({ msg, release: n + (this.o.reorderDepth ?? 3) });
        // Never strand a held datagram behind a quiet lane.
        const t = setTimeout(() => {
          this.timers.delete(t);
          this.releaseHeld(lane, Infinity);
        }, 2);
        this.timers.add(t);
        return;
      }
      case 'delay': {
        this.counts.delayed++;
        const t = setTimeout(() => {
          this.timers.delete(t);
          if (!this.closed) this.forward(lane, msg);
        }, this.o.delayMs ?? 5);
        this.timers.add(t);
        break;
      }
      default:
        this.forward(lane, msg);
    }
    this.releaseHeld(lane, n);
  }

  private forward(lane: Lane, msg: Buffer): void {
    this.counts.forwarded++;
    lane.send(msg);
  }

  private releaseHeld(lane: Lane, n: number): void {
    if (lane.held.length === 0 || this.closed) return;
    const keep: { msg: Buffer; release: number }[] = [];
    for (const h of lane.held) {
      if (h.release <= n) this.forward(lane, h.msg);
      else keep.push(h);
    }
    lane.held = keep;
  }
}
