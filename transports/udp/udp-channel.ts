/**
 * {@link UdpChannel}: one udp:// connection as a {@link Channel}. Frames are encoded with
 * the stream codec into one byte stream per direction; the {@link Sender} cuts it into
 * numbered DATA datagrams and the {@link Receiver} puts it back in order, so the
 * {@link FrameDecoder} on the far side sees exactly what a stream channel's decoder sees.
 * Written only against the public driver contract.
 * @packageDocumentation
 */
import { ChannelError, ErrorCode, FrameError } from '../../errors/index.js';
import { BaseChannel, type BaseChannelOptions } from '../../netdriver/base-channel.js';
import { encodeHeader, FrameDecoder } from '../../netdriver/codec.js';
import { HEADER_SIZE, type Frame } from '../../netdriver/frame.js';
import type { RtoBounds } from './congestion.js';
import { Receiver } from './receiver.js';
import { Sender } from './sender.js';
import { DatagramType, encodeAck, encodeDataHeader, encodePing, encodeRst, FLAG_COPY, RstReason, UDP_HEADER_SIZE, type Datagram } from './wire.js';

/** Why a datagram addressed to a channel was dropped (the `reason` of its drop counters). */
export type UdpDropReason = 'duplicate' | 'window' | 'invalid_ack' | 'address' | 'connection_id' | 'malformed';

/** Every {@link UdpDropReason}, for bounded metric labels. */
export const UDP_DROP_REASONS: readonly UdpDropReason[] = ['duplicate', 'window', 'invalid_ack', 'address', 'connection_id', 'malformed'];

/** How a channel reaches its endpoint (the UDP socket it shares). */
export interface UdpLink {
  /** Sends one datagram (given as buffers) to the channel's peer. */
  send(buffers: Buffer | Buffer[]): void;
  /** Removes the channel from demultiplexing, after `lingerMs` (re-acks a late FIN meanwhile). */
  detach(channel: UdpChannel, lingerMs: number): void;
}

/** Options of {@link UdpChannel}. */
export interface UdpChannelOptions extends BaseChannelOptions {
  /** Largest DATA payload the frame decoder accepts. @default 1048576 */
  maxPayload?: number;
  /** FrameDecoder `splitData`. @default false */
  splitData?: boolean;
  /** This side's connection id. */
  localCid: number;
  /** The peer's connection id. */
  peerCid: number;
  /** Negotiated datagram size, bytes (header included). */
  datagramSize: number;
  /** Our receive window, datagrams. */
  window: number;
  /** The peer's receive window from the handshake, datagrams. */
  peerWindow: number;
  /** RTO bounds. */
  rto: RtoBounds;
  /** First RTT sample (the handshake), ms; 0 when unknown. */
  handshakeRtt: number;
  /** Silence before a PING, ms. */
  keepaliveInterval: number;
  /** Silence from the peer before the channel fails, ms. */
  keepaliveTimeout: number;
  /** How long a gracefully closed connection keeps answering a late FIN, ms. */
  lingerTimeout: number;
  /** Latency class: shorter probe timeout (the endpoint also lowers `rto.min` and sets `copyBudget`). */
  latency: boolean;
  /** A datagram sent while at most this many bytes are unacknowledged gets a redundant copy; 0 = never. */
  copyBudget: number;
}

/** A {@link Channel} over one udp:// connection. */
export class UdpChannel extends BaseChannel {
  readonly localCid: number;
  readonly peerCid: number;
  readonly datagramSize: number;
  /** Drops of datagrams addressed to this channel, by reason. */
  readonly drops: Record<UdpDropReason, number> = { duplicate: 0, window: 0, invalid_ack: 0, address: 0, connection_id: 0, malformed: 0 };
  datagramsReceived = 0;
  acksSent = 0;
  /** Redundant copies that arrived first (their original was lost or late). */
  copiesUsed = 0;
  /** Redundant copies that arrived after their original (discarded, not counted as drops). */
  copiesDiscarded = 0;
  /** The channel is of the latency class (see {@link UdpChannelOptions.latency}). */
  readonly latency: boolean;
  private readonly link: UdpLink;
  private readonly sender: Sender;
  private readonly receiver: Receiver;
  private readonly decoder: FrameDecoder;
  private readonly o: UdpChannelOptions;
  private readonly lowWater: number;
  private rxBatch: Frame[] = [];
  private rxBatchBytes = 0;
  private rxFlushQueued = false;
  private pumpQueued = false;
  private copiesQueued = false;
  private ackQueued = false;
  private lastHeard: number;
  private lastSent: number;
  private rtoDeadline = 0;
  /** Tail-loss-probe deadline; 0 = not armed, -1 = fired for this flight. */
  private tlpDeadline = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerDue = Infinity;
  /** Closed gracefully; lingering to re-ack a late FIN. */
  private lingering = false;
  /** Accepting side: time of the SYN_ACK, for an RTT sample from the first answer (0 = none). */
  private synAckAt = 0;

  private readonly flushRx = (): void => {
    this.rxFlushQueued = false;
    if (this.rxBatch.length === 0 && this.rxBatchBytes === 0) return;
    const frames = this.rxBatch;
    const bytes = this.rxBatchBytes;
    this.rxBatch = [];
    this.rxBatchBytes = 0;
    this.onFrames(frames, bytes);
  };

  private readonly runPump = (): void => {
    this.pumpQueued = false;
    this.pump();
  };

  private readonly runCopies = (): void => {
    this.copiesQueued = false;
    if (!this.destroyed) this.sender.sendCopies();
  };

  private readonly runAck = (): void => {
    this.ackQueued = false;
    if (!this.destroyed || this.lingering) this.sendAck();
  };

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.timerDue = Infinity;
    this.tick();
  };

  constructor(link: UdpLink, options: UdpChannelOptions) {
    super(options);
    this.o = options;
    this.link = link;
    this.localCid = options.localCid;
    this.peerCid = options.peerCid;
    this.datagramSize = options.datagramSize;
    this.lowWater = this.txHighWaterMark / 2;
    this.decoder = new FrameDecoder({ ...(options.maxPayload !== undefined && { maxPayload: options.maxPayload }), splitData: options.splitData ?? false });
    const maxCwnd = 1 << 16;
    this.latency = options.latency;
    this.sender = new Sender(options.datagramSize - UDP_HEADER_SIZE, options.peerWindow, options.rto, maxCwnd, (seq, data, fin, copy) => {
      this.lastSent = performance.now();
      const h = encodeDataHeader(this.peerCid, this.localCid, seq, fin, copy);
      this.link.send(data.length > 0 ? [h, data] : h);
    }, options.copyBudget);
    if (options.handshakeRtt > 0) this.sender.rtt.sample(options.handshakeRtt);
    else this.synAckAt = performance.now();
    this.receiver = new Receiver(options.window, (data, fin) => this.deliver(data, fin));
    this.lastHeard = this.lastSent = performance.now();
    this.arm(this.lastSent + Math.min(options.keepaliveInterval, options.keepaliveTimeout));
  }

  /** Stream bytes queued or in flight (not yet acknowledged by the peer). */
  get txQueuedBytes(): number {
    return this.sender.queuedBytes + this.sender.unackedBytes;
  }

  /** Transport counters and gauges (see docs/metrics.md); keys ending in `_total` are counters. */
  transportStats(): Readonly<Record<string, number>> {
    const s = this.sender;
    const out: Record<string, number> = {
      srtt_ms: s.rtt.srtt,
      rttvar_ms: s.rtt.rttvar,
      rto_ms: s.rtt.rto,
      cwnd_datagrams: s.cc.cwnd,
      inflight_datagrams: s.inflight,
      datagrams_sent_total: s.stats.datagramsSent,
      datagrams_received_total: this.datagramsReceived,
      retransmits_total: s.stats.retransmits,
      loss_probes_total: s.stats.probes,
      rto_expirations_total: s.stats.timeouts,
      congestion_events_total: s.cc.reductions,
      acks_sent_total: this.acksSent,
      redundant_sent_total: s.stats.copies,
      redundant_used_total: this.copiesUsed,
      redundant_discarded_total: this.copiesDiscarded,
    };
    for (const r of UDP_DROP_REASONS) out[`dropped_${r}_total`] = this.drops[r];
    return out;
  }

  /** Counts a dropped datagram against this channel. */
  drop(reason: UdpDropReason): void {
    this.drops[reason]++;
  }

  /** The dialer retransmitted its SYN: the first answer no longer times the SYN_ACK (Karn). */
  synRetransmitted(): void {
    this.synAckAt = 0;
  }

  /** A validated datagram from the peer's address and connection id. */
  onDatagram(d: Datagram, now: number): void {
    this.lastHeard = now;
    if (this.synAckAt !== 0) {
      if (this.sender.rtt.srtt === 0) this.sender.rtt.sample(now - this.synAckAt);
      this.synAckAt = 0;
    }
    this.datagramsReceived++;
    if (this.lingering) {
      if (d.type === DatagramType.DATA || d.type === DatagramType.PING) this.sendAck();
      return;
    }
    if (this.destroyed) return;
    switch (d.type) {
      case DatagramType.DATA: {
        const verdict = this.receiver.accept(d.seq, d.payload, (d.flags & 1) !== 0);
        const copy = (d.flags & FLAG_COPY) !== 0;
        // A copy behind its original is expected, not a drop; the original queued the ACK.
        if (copy && verdict === 'duplicate') this.copiesDiscarded++;
        else if (verdict !== 'ok') this.drop(verdict);
        else if (copy) this.copiesUsed++;
        if (!copy || verdict !== 'duplicate') this.queueAck();
        break;
      }
      case DatagramType.ACK:
        this.onAck(d, now);
        break;
      case DatagramType.PING:
        this.sendAck();
        break;
      case DatagramType.RST:
        if (d.reason === RstReason.CLOSED && this.receiver.finDelivered && this.sender.finAcked === false && this.sender.hasFinSent) {
          // The peer closed after delivering our FIN: our final ACK from it was lost.
          this.stop();
          this.link.detach(this, 0);
          this.onTransportClose();
          break;
        }
        this.fail(new ChannelError(ErrorCode.CLOSED, `udp channel ${this.id} to ${this.remoteAddress}: reset by the peer (reason ${d.reason})`), false);
        break;
      default:
        // A retransmitted SYN_ACK (our ACKs answer it) or a SYN the endpoint did not take.
        this.queueAck();
    }
  }

  /**
   * The endpoint is closing while this gracefully closed connection lingers: repeat the
   * final ACK and say goodbye (RST closed), so the peer need not wait for a lost ACK.
   */
  farewell(): void {
    if (!this.lingering) return;
    this.sendAck();
    this.link.send(encodeRst(this.peerCid, this.localCid, RstReason.CLOSED));
  }

  /** The endpoint's socket failed: the channel fails with `err`. */
  fail(err: Error, sendRst = true): void {
    if (this.destroyed) return;
    if (!sendRst) this.rstSent = true;
    this.destroy(err);
  }

  protected _send(frames: readonly Frame[]): void {
    for (const f of frames) {
      this.sender.write(encodeHeader(f, Buffer.allocUnsafe(HEADER_SIZE)));
      this.sender.write(f.payload);
    }
    this.queuePump();
  }

  protected _end(): void {
    this.sender.finish();
    this.queuePump();
  }

  private rstSent = false;

  protected _destroy(err?: Error): void {
    if (!this.rstSent) {
      this.rstSent = true;
      const reason = err instanceof FrameError ? RstReason.PROTOCOL : err instanceof ChannelError && err.code === ErrorCode.TIMEOUT ? RstReason.TIMEOUT : RstReason.ABORT;
      this.link.send(encodeRst(this.peerCid, this.localCid, reason));
    }
    this.stop();
    this.link.detach(this, 0);
    this.onTransportClose(err);
  }

  protected _pauseRx(): void {
    this.receiver.pause();
  }

  protected _resumeRx(): void {
    if (this.receiver.resume()) this.sendAck();
  }

  private stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDue = Infinity;
    this.sender.clear();
    this.receiver.clear();
    this.rxBatch = [];
    this.rxBatchBytes = 0;
  }

  private deliver(data: Buffer, fin: boolean): void {
    if (this.destroyed) return;
    if (data.length > 0) {
      try {
        this.decoder.push(data, this.rxBatch);
      } catch (err) {
        this.destroy(err as Error);
        return;
      }
      this.rxBatchBytes += data.length;
      if (!this.rxFlushQueued) {
        this.rxFlushQueued = true;
        queueMicrotask(this.flushRx);
      }
    }
    if (fin) {
      if (this.decoder.bufferedBytes !== 0) {
        this.destroy(new FrameError(ErrorCode.BAD_FRAME, `udp channel ${this.id} from ${this.remoteAddress}: stream ended inside a frame (${this.decoder.bufferedBytes} bytes pending)`));
        return;
      }
      this.flushRx();
      this.onTransportEnd();
      this.maybeClose();
    }
  }

  private onAck(d: Datagram, now: number): void {
    const s = this.sender;
    const result = s.onAck(d.cum, d.window, d.sack, now);
    if (result === 'invalid') {
      this.drop('invalid_ack');
      return;
    }
    if (result === 'progress') this.rtoDeadline = this.tlpDeadline = 0;
    this.pump();
    if (this.destroyed) return;
    if (this.txQueuedBytes <= this.lowWater) this.onTxDrained();
    this.maybeClose();
  }

  private queuePump(): void {
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    queueMicrotask(this.runPump);
  }

  private pump(): void {
    if (this.destroyed) return;
    const now = performance.now();
    this.sender.pump(now);
    const s = this.sender;
    if (s.hasCopies && !this.copiesQueued) {
      // The copy goes out on the next turn: after this turn's other sends, apart from its original.
      this.copiesQueued = true;
      setImmediate(this.runCopies);
    }
    if (s.inflight > 0 || s.windowBlocked) {
      if (this.rtoDeadline === 0) this.rtoDeadline = now + s.rtt.rto;
      this.arm(this.rtoDeadline);
      if (s.inflight > 0 && this.tlpDeadline === 0) {
        // Probe timeout: 2·srtt plus room for the peer's per-turn ack (less for the latency
        // class: its flights are small and copied), below the RTO.
        const room = this.latency ? 0.5 : 2;
        this.tlpDeadline = now + Math.min(s.rtt.rto, s.rtt.srtt > 0 ? 2 * s.rtt.srtt + room : s.rtt.rto);
        this.arm(this.tlpDeadline);
      }
    } else {
      this.rtoDeadline = 0;
    }
  }

  private queueAck(): void {
    if (this.ackQueued) return;
    this.ackQueued = true;
    setImmediate(this.runAck);
  }

  private sendAck(): void {
    const r = this.receiver;
    this.acksSent++;
    this.lastSent = performance.now();
    this.link.send(encodeAck(this.peerCid, this.localCid, r.rcvNext, r.edge, r.sack));
  }

  private maybeClose(): void {
    if (this.destroyed || !this.sender.finAcked || !this.receiver.finDelivered) return;
    this.lingering = true;
    this.sendAck(); // acknowledge the peer's FIN now: the endpoint may close before an immediate runs
    this.stop();
    this.link.detach(this, this.o.lingerTimeout);
    this.onTransportClose();
  }

  /** Timer work: keepalive timeout, tail loss probe, RTO / window probe, keepalive PING. */
  private tick(): void {
    if (this.destroyed) return;
    const now = performance.now();
    const o = this.o;
    if (now - this.lastHeard >= o.keepaliveTimeout) {
      this.destroy(new ChannelError(ErrorCode.TIMEOUT, `udp channel ${this.id} to ${this.remoteAddress}: no datagram from the peer for ${Math.round(now - this.lastHeard)} ms (keepaliveTimeout ${o.keepaliveTimeout} ms)`));
      return;
    }
    const s = this.sender;
    if (this.tlpDeadline > 0 && now >= this.tlpDeadline) {
      this.tlpDeadline = -1;
      if (s.probe()) this.pump();
      if (this.destroyed) return;
    }
    if (this.rtoDeadline !== 0 && now >= this.rtoDeadline) {
      this.rtoDeadline = 0;
      if (s.inflight > 0) {
        s.onTimeout();
      } else if (s.windowBlocked) {
        this.lastSent = now;
        this.link.send(encodePing(this.peerCid, this.localCid)); // window probe: the ACK carries the edge
        s.rtt.expire();
      }
      this.pump();
      if (this.destroyed) return;
    }
    if (now - this.lastSent >= o.keepaliveInterval) {
      this.lastSent = now;
      this.link.send(encodePing(this.peerCid, this.localCid));
    }
    const next = Math.min(
      this.lastSent + o.keepaliveInterval,
      this.lastHeard + o.keepaliveTimeout,
      this.rtoDeadline === 0 ? Infinity : this.rtoDeadline,
      this.tlpDeadline > 0 ? this.tlpDeadline : Infinity,
    );
    this.arm(next);
  }

  /** Makes sure the timer fires no later than `due`. */
  private arm(due: number): void {
    if (this.destroyed || due >= this.timerDue) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerDue = due;
    this.timer = setTimeout(this.onTimer, Math.max(1, Math.ceil(due - performance.now())));
    this.timer.unref?.();
  }
}
