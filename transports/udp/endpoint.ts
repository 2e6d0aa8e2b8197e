/**
 * {@link UdpEndpoint}: one UDP socket and the connections it carries, demultiplexed by
 * the destination connection id of each datagram. A listener has one endpoint for all
 * its channels; a dialed channel has an endpoint of its own (a connected socket).
 *
 * Every datagram is decoded and checked here before any channel sees it: a malformed
 * or oversized datagram, one for an unknown connection id, one from an address other
 * than the connection's peer, or one whose source connection id is not the peer's is
 * dropped and counted ({@link UdpEndpointStats}, and on the channel of that source
 * address when there is one); it never reaches another channel.
 * @packageDocumentation
 */
import { randomBytes } from 'node:crypto';
import type { RemoteInfo, Socket } from 'node:dgram';
import { ErrorCode, FrameError } from '../../errors/index.js';
import { UdpChannel, type UdpChannelOptions, type UdpLink } from './udp-channel.js';
import { decodeDatagram, DatagramType, encodeRst, encodeSyn, RstReason, SYN_FLAG_LATENCY, type Datagram } from './wire.js';

/** Why the endpoint dropped a datagram before any channel took it. */
export type UdpEndpointDropReason = 'malformed' | 'oversized' | 'unknown_connection' | 'address' | 'connection_id' | 'refused' | 'unexpected';

/** Drop counters of an endpoint, by reason. */
export type UdpEndpointStats = Record<UdpEndpointDropReason, number>;

/** Per-connection settings the endpoint fills in for a channel it creates. */
export type ChannelTemplate = Omit<UdpChannelOptions, 'localCid' | 'peerCid' | 'datagramSize' | 'window' | 'peerWindow' | 'handshakeRtt' | 'localAddress' | 'remoteAddress' | 'latency' | 'copyBudget'>;

/** What the endpoint needs to create channels. */
export interface EndpointConfig {
  /** Local datagram size limit, bytes. */
  datagramSize: number;
  /** Receive window per channel, bytes. */
  receiveWindow: number;
  /** Most connections at once (listener). */
  maxConnections: number;
  /** Formats `host`, `port` as an address of the scheme. */
  format(host: string, port: number): string;
  /** Channel settings. */
  template: ChannelTemplate;
  /** Latency-class channels: copy budget, bytes, and RTO floor, ms (UdpOptions.latencyRedundancyBytes, latencyRtoMin). */
  latency: { redundancyBytes: number; rtoMin: number };
}

/** Most RSTs an endpoint sends per second in answer to unknown connection ids. */
const RST_PER_SECOND = 100;

interface Peer {
  address: string;
  port: number;
}

/** A UDP socket carrying connections. */
export class UdpEndpoint {
  readonly stats: UdpEndpointStats = { malformed: 0, oversized: 0, unknown_connection: 0, address: 0, connection_id: 0, refused: 0, unexpected: 0 };
  private readonly conns = new Map<number, { ch: UdpChannel; peer: Peer; key: string }>();
  /** Listener: `address|port|srcCid` → local cid (SYN retransmissions). */
  private readonly syns = new Map<string, number>();
  /** `address|port` → the channel of that source, for attributing drops. */
  private readonly byAddr = new Map<string, UdpChannel>();
  private readonly lingers = new Set<NodeJS.Timeout>();
  private accepting: boolean;
  private closing = false;
  private closed = false;
  private rstBudget = RST_PER_SECOND;
  private rstSecond = 0;
  /** Dialer: the pending handshake's handler. */
  onHandshake: ((d: Datagram, rinfo: RemoteInfo) => void) | undefined;

  constructor(
    readonly socket: Socket,
    private readonly config: EndpointConfig,
    private readonly onChannel: ((ch: UdpChannel) => void) | undefined,
    /** Dialer endpoints use a connected socket and close with their channel. */
    private readonly connected: boolean,
  ) {
    this.accepting = onChannel !== undefined;
    socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
  }

  /** Live connections (lingering ones included). */
  get size(): number {
    return this.conns.size;
  }

  /** A fresh connection id unused on this endpoint. */
  newCid(): number {
    for (;;) {
      const cid = randomBytes(4).readUInt32BE(0);
      if (cid !== 0 && !this.conns.has(cid)) return cid;
    }
  }

  /** Sends a datagram to `peer` (ignored once the socket is closed). */
  sendTo(buffers: Buffer | Buffer[], peer: Peer | undefined): void {
    if (this.closed) return;
    if (this.connected || peer === undefined) this.socket.send(buffers);
    else this.socket.send(buffers, peer.port, peer.address);
  }

  /** Creates a channel on this endpoint and starts demultiplexing its datagrams. */
  addChannel(localCid: number, peerCid: number, peer: Peer, datagramSize: number, peerWindow: number, handshakeRtt: number, latency: boolean): UdpChannel {
    const key = `${peer.address}|${peer.port}`;
    const endpoint = this;
    const link: UdpLink = {
      send: (buffers) => endpoint.sendTo(buffers, peer),
      detach: (ch, lingerMs) => endpoint.detach(ch, lingerMs),
    };
    const local = this.socket.address();
    const window = Math.max(4, Math.floor(this.config.receiveWindow / datagramSize));
    const { template: t, latency: l } = this.config;
    const ch = new UdpChannel(link, {
      ...t,
      rto: latency ? { ...t.rto, min: Math.min(t.rto.min, l.rtoMin) } : t.rto,
      copyBudget: latency ? l.redundancyBytes : 0,
      localAddress: this.config.format(local.address, local.port),
      remoteAddress: this.config.format(peer.address, peer.port),
      localCid,
      peerCid,
      datagramSize,
      window,
      peerWindow,
      handshakeRtt,
      latency,
    });
    this.conns.set(localCid, { ch, peer, key });
    this.byAddr.set(key, ch);
    return ch;
  }

  /** The receive window advertised in handshakes, datagrams. */
  windowFor(datagramSize: number): number {
    return Math.max(4, Math.floor(this.config.receiveWindow / datagramSize));
  }

  /** Stops accepting; the socket closes once the last connection is gone. */
  stopAccepting(): void {
    this.accepting = false;
    this.closing = true;
    this.maybeCloseSocket();
  }

  /** Closes the socket now: lingering connections are dropped, live ones fail. */
  shutdown(err: Error): void {
    this.accepting = false;
    this.closing = true;
    for (const t of this.lingers) clearTimeout(t);
    this.lingers.clear();
    for (const { ch } of [...this.conns.values()]) {
      if (ch.destroyed) {
        ch.farewell();
        this.remove(ch);
      } else ch.fail(err);
    }
    this.closeSocket();
  }

  /** The socket failed (e.g. ICMP port unreachable on a connected socket). */
  onSocketError(err: Error): void {
    for (const { ch } of [...this.conns.values()]) ch.fail(err, false);
  }

  private detach(ch: UdpChannel, lingerMs: number): void {
    if (lingerMs <= 0 || this.closed) {
      this.remove(ch);
      return;
    }
    const t = setTimeout(() => {
      this.lingers.delete(t);
      this.remove(ch);
    }, lingerMs);
    t.unref();
    this.lingers.add(t);
  }

  private remove(ch: UdpChannel): void {
    const e = this.conns.get(ch.localCid);
    if (e?.ch !== ch) return;
    this.conns.delete(ch.localCid);
    if (this.byAddr.get(e.key) === ch) this.byAddr.delete(e.key);
    this.syns.delete(`${e.key}|${ch.peerCid}`);
    this.maybeCloseSocket();
  }

  private maybeCloseSocket(): void {
    if ((this.closing || this.connected) && this.conns.size === 0 && this.onHandshake === undefined) this.closeSocket();
  }

  /** Closes the socket (idempotent). */
  closeSocket(): void {
    if (this.closed) return;
    this.closed = true;
    // Datagrams sent to an address go out after a (next-tick) lookup: let the last
    // ones (RSTs, final ACKs) leave before the handle closes.
    setImmediate(() => this.socket.close());
  }

  private onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    const key = `${rinfo.address}|${rinfo.port}`;
    let d: Datagram;
    try {
      d = decodeDatagram(msg, this.config.datagramSize);
    } catch (err) {
      const reason = err instanceof FrameError && err.code === ErrorCode.FRAME_TOO_LARGE ? 'oversized' : 'malformed';
      this.stats[reason]++;
      this.byAddr.get(key)?.drop('malformed');
      return;
    }
    if (d.type === DatagramType.SYN) {
      this.onSyn(d, rinfo, key);
      return;
    }
    const e = this.conns.get(d.dstCid);
    if (e === undefined) {
      if (this.onHandshake !== undefined && (d.type === DatagramType.SYN_ACK || d.type === DatagramType.RST)) {
        this.onHandshake(d, rinfo);
        return;
      }
      this.stats.unknown_connection++;
      this.byAddr.get(key)?.drop('connection_id');
      if (d.type !== DatagramType.RST) this.rst(d.srcCid, d.dstCid, RstReason.UNKNOWN, rinfo);
      return;
    }
    if (e.key !== key) {
      this.stats.address++;
      e.ch.drop('address');
      return;
    }
    if (d.srcCid !== e.ch.peerCid) {
      this.stats.connection_id++;
      e.ch.drop('connection_id');
      return;
    }
    e.ch.onDatagram(d, performance.now());
  }

  private onSyn(d: Datagram, rinfo: RemoteInfo, key: string): void {
    if (this.onChannel === undefined) {
      this.stats.unexpected++;
      return;
    }
    const known = this.syns.get(`${key}|${d.srcCid}`);
    if (known !== undefined) {
      const e = this.conns.get(known);
      e?.ch.synRetransmitted();
      if (e !== undefined && !e.ch.destroyed) this.sendTo(encodeSyn(DatagramType.SYN_ACK, d.srcCid, known, e.ch.datagramSize, this.windowFor(e.ch.datagramSize)), e.peer);
      return;
    }
    if (!this.accepting || this.conns.size >= this.config.maxConnections) {
      this.stats.refused++;
      this.rst(d.srcCid, 0, RstReason.REFUSED, rinfo);
      return;
    }
    const size = Math.min(this.config.datagramSize, d.datagramSize);
    const cid = this.newCid();
    const peer = { address: rinfo.address, port: rinfo.port };
    const ch = this.addChannel(cid, d.srcCid, peer, size, d.window, 0, (d.flags & SYN_FLAG_LATENCY) !== 0);
    this.syns.set(`${key}|${d.srcCid}`, cid);
    this.sendTo(encodeSyn(DatagramType.SYN_ACK, d.srcCid, cid, size, this.windowFor(size)), peer);
    this.onChannel(ch);
  }

  /** Sends an RST, at most {@link RST_PER_SECOND} per second (no amplification: it is 17 bytes). */
  private rst(dstCid: number, srcCid: number, reason: number, rinfo: RemoteInfo): void {
    const sec = Math.floor(performance.now() / 1000);
    if (sec !== this.rstSecond) {
      this.rstSecond = sec;
      this.rstBudget = RST_PER_SECOND;
    }
    if (this.rstBudget <= 0) return;
    this.rstBudget--;
    // srcCid 0 is invalid on the wire: an RST for an unknown connection names no local one.
    this.sendTo(encodeRst(dstCid, srcCid === 0 ? 0xffffffff : srcCid, reason), { address: rinfo.address, port: rinfo.port });
  }
}
