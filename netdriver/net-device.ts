/**
 * NetDevice: the remote host seen as a multi-queue device. It holds every channel to
 * one peer host (grouped by the host id from each channel's HELLO), knows each
 * channel's class and index, pumps received frames upward and answers PINGs.
 * @packageDocumentation
 */
import { EventEmitter } from 'node:events';
import { ChannelError, ErrorCode, FrameError } from '../errors/index.js';
import type { AppClass, Channel } from './channel.js';
import { ACK_DELAY_MS, ACK_EVERY_BYTES, ChannelFeedback } from './feedback.js';
import { controlFrame, FrameType, HEADER_SIZE, type Frame } from './frame.js';
import { LatenessDetector } from './lateness.js';
import { traceNow, type SegmentTrace } from './segment-trace.js';

/** Where a device delivers the frames it receives: the layer above (a peer session). */
export interface FrameSink {
  /** One received DATA/control frame for the virtual-socket layer. */
  onFrame(frame: Frame, from: DeviceChannel): void;
}

/**
 * The receive scheduler between devices and their sinks (shared by a stack's
 * devices). It calls {@link DeviceChannel.receive} for each frame, in its own order.
 */
export interface RxScheduler {
  /** Frames from a latency channel: deliver now. */
  urgent(frames: Frame[], from: DeviceChannel): void;
  /** Frames from a throughput channel: deliver in bounded slices. */
  bulk(frames: Frame[], from: DeviceChannel): void;
  /** True while bulk frames pile up; throughput channels are not read then. */
  readonly congested: boolean;
  /** Runs `fn` after every bulk frame received so far was delivered. */
  fence(from: DeviceChannel, fn: () => void): void;
  /** Calls `device.resumeRx()` once the bulk queue has room again. */
  whenDrained(device: NetDevice): void;
}

/**
 * Bytes a frame adds to the channel-level acknowledgement count: the payload of DATA
 * (which a channel may split into several frames), header plus payload of the control
 * frames both devices see one for one (SYNC … PONG), nothing for HELLO, BYE and ACK.
 */
function ackedSize(f: Frame): number {
  switch (f.type) {
    case FrameType.DATA:
      return f.payload.length;
    case FrameType.HELLO:
    case FrameType.BYE:
    case FrameType.ACK:
      return 0;
    default:
      return HEADER_SIZE + f.payload.length;
  }
}

/** Bytes taken from each throughput channel per round when reading resumes after congestion. */
const RESUME_PULL_BYTES = 64 * 1024;

/** Delivers everything at once (no receive scheduler). */
const directRx: RxScheduler = {
  urgent: (frames, from) => {
    for (const f of frames) from.receive(f);
  },
  bulk: (frames, from) => {
    for (const f of frames) from.receive(f);
  },
  congested: false,
  fence: (_from, fn) => fn(),
  whenDrained: () => {},
};

/** A channel registered in a device; a policy sees it as a `ChannelView`. */
export class DeviceChannel {
  /** False once the channel ended or closed: no new frames go on it. */
  usable = true;
  /** The peer announced a graceful close (BYE). */
  byeReceived = false;
  /** We announced a graceful close (BYE). */
  byeSent = false;
  /** `performance.now()` when a frame last arrived (keepalive). */
  lastRxAt = performance.now();
  /** `performance.now()` when the last keepalive PING was sent. */
  lastPingAt = 0;
  /** Bytes per second sent over the last control tick (set by the control loop). */
  throughput = 0;
  /** `bytesSent` at the last control tick. */
  lastBytesSent = 0;
  /** Segments the scheduler placed on this channel. */
  decisions = 0;
  /** Fraction of recent control ticks with bytes queued (EWMA, 0–1). */
  busyRatio = 0;
  /** Measured feedback: acknowledgements, RTT, delivery rate, staleness. */
  readonly feedback = new ChannelFeedback();

  constructor(
    /** The device the channel belongs to. */
    readonly device: NetDevice,
    /** The underlying channel. */
    readonly channel: Channel,
    /** Class negotiated in the HELLO. */
    readonly appClass: AppClass,
    /** Index negotiated in the HELLO. */
    readonly index: number,
    /** Address of the peer this channel was dialed at (its path); undefined for accepted channels. */
    readonly path?: string,
  ) {}

  get id(): number {
    return this.channel.id;
  }
  get txQueuedBytes(): number {
    return this.channel.txQueuedBytes;
  }
  get txHighWaterMark(): number {
    return this.channel.txHighWaterMark;
  }
  get bytesSent(): number {
    return this.channel.bytesSent;
  }
  /** Smoothed round-trip time, seconds (PING/PONG, queueing included); 0 before the first sample. */
  get srtt(): number {
    return this.feedback.rtt.srtt;
  }
  /** Smallest recent RTT sample, seconds (the path without queueing); 0 before the first sample. */
  get minRtt(): number {
    return this.feedback.rtt.minRtt;
  }
  /** Delivery rate acknowledged by the peer, bytes per second; 0 while unknown. */
  get deliveryRate(): number {
    return this.feedback.delivery.rate;
  }
  /** DATA payload bytes handed to the channel and not yet acknowledged by the peer. */
  get inflightBytes(): number {
    return this.feedback.inflightBytes;
  }
  /** `performance.now()` (ms) of the last acknowledgement progress. */
  get lastProgressAt(): number {
    return this.feedback.lastProgressAt;
  }
  /** True while the channel holds unacknowledged data and makes no progress. */
  get stale(): boolean {
    return this.feedback.stale;
  }
  /** True while bytes received on the channel await our ACK (the next frame sent on it carries one). */
  get ackPending(): boolean {
    return this.feedback.rxData !== this.feedback.rxReported;
  }

  /** Hands one received frame to the device's sink (called by the receive scheduler). */
  receive(frame: Frame): void {
    this.device.sink.onFrame(frame, this);
  }
}

/** Events of a {@link NetDevice}. */
export interface NetDeviceEvents {
  /** A channel joined the device. */
  'channel-added': [DeviceChannel];
  /** A channel left; `err` is set when it failed rather than closed gracefully. */
  'channel-removed': [DeviceChannel, Error | undefined];
  /** Some channel has transmit room again. */
  writable: [];
  /** A channel's ACK acknowledged more of what was sent on it (less in flight). */
  acked: [];
  /** The last channel is gone. */
  down: [Error | undefined];
  /** A channel holding unacknowledged data made no progress for too long; it is skipped. */
  'channel-stale': [DeviceChannel, number];
  /** A stale channel made progress again; it is used again. */
  'channel-recovered': [DeviceChannel];
  /** Other channels of the class overtook this one (see `lateness.ts`): it is skipped until it catches up; how long its oldest byte waited, ms. */
  'channel-late': [DeviceChannel, number];
}

/** All channels to one peer host. */
export class NetDevice extends EventEmitter<NetDeviceEvents> {
  /** Every live channel, in the order they joined. */
  readonly channels: DeviceChannel[] = [];
  private readonly byClass = new Map<AppClass, DeviceChannel[]>([
    ['latency', []],
    ['throughput', []],
  ]);
  constructor(
    /** Host id of the peer (hex). */
    readonly peerHostId: string,
    /** Receives every non-HELLO, non-PING frame: the virtual-socket layer. */
    readonly sink: FrameSink,
    /** Receive scheduler (strict priority for latency channels). */
    private readonly rx: RxScheduler = directRx,
    /** The stack's latency trace, or null when it is off. */
    private readonly trace: SegmentTrace | null = null,
  ) {
    super();
  }

  /** Usable channels of one class, in index order. Empty when the class has none. */
  channelsOf(appClass: AppClass): readonly DeviceChannel[] {
    return this.byClass.get(appClass)!;
  }

  /** Registers a HELLO-negotiated channel and starts pumping its frames. */
  add(channel: Channel, appClass: AppClass, index: number, path?: string): DeviceChannel {
    const dc = new DeviceChannel(this, channel, appClass, index, path);
    this.channels.push(dc);
    this.reindex();
    channel.on('readable', () => this.pump(dc));
    channel.on('writable', () => this.emit('writable'));
    // End and close are handled after the frames that arrived before them. An end
    // without a BYE means the transport was cut: frames may be lost, so it is a failure.
    channel.on('end', () =>
      this.rx.fence(dc, () => {
        if (!dc.byeReceived) {
          channel.destroy(new ChannelError(ErrorCode.CLOSED, `channel ${dc.id} to ${this.peerHostId.slice(0, 8)} ended without BYE (connection cut)`));
          return;
        }
        this.closeChannel(dc);
      }),
    );
    channel.once('close', (err) =>
      this.rx.fence(dc, () => {
        const failure = err ?? (dc.byeReceived && dc.byeSent ? undefined : new ChannelError(ErrorCode.CLOSED, `channel ${dc.id} closed without BYE`));
        this.remove(dc, failure);
      }),
    );
    this.emit('channel-added', dc);
    this.pump(dc);
    return dc;
  }

  /** Gracefully ends every channel (queued frames are flushed first). */
  async close(): Promise<void> {
    for (const dc of this.channels) dc.usable = false;
    this.reindex();
    await Promise.all(this.channels.map((dc) => this.closeChannel(dc)));
  }

  /**
   * Graceful close of one channel: no new frames are scheduled on it, queued ones are
   * flushed, then BYE and end. The peer answers with its own BYE. No frame is lost.
   */
  closeChannel(dc: DeviceChannel): Promise<void> {
    this.retire(dc);
    if (!dc.byeSent && !dc.channel.destroyed) {
      dc.byeSent = true;
      try {
        dc.channel.enqueue(controlFrame(FrameType.BYE, 0, 0));
      } catch {
        // already ended locally: close() below still settles
      }
    }
    return dc.channel.close();
  }

  /**
   * Keepalive (called by the control loop): PING a channel that has been silent for
   * `intervalMs`; destroy one silent for `timeoutMs` (a dead or stuck peer).
   */
  keepalive(now: number, intervalMs: number, timeoutMs: number): void {
    for (const dc of this.channels) {
      if (dc.channel.destroyed) continue;
      const idle = now - dc.lastRxAt;
      if (idle >= timeoutMs) {
        dc.channel.destroy(new ChannelError(ErrorCode.TIMEOUT, `channel ${dc.id} silent for ${Math.round(idle)} ms (keepalive timeout ${timeoutMs} ms)`));
      } else if (idle >= intervalMs && now - dc.lastPingAt >= intervalMs && !dc.byeSent) {
        dc.lastPingAt = now;
        this.send(dc, { ...controlFrame(FrameType.PING, 0, 0), payload: dc.feedback.probe(now) });
      }
    }
  }

  /**
   * Transmits `frame` on `dc` (one of this device's channels, chosen by the scheduler).
   * Control frames may exceed the high-water mark; DATA is only sent where the policy
   * saw room. A pending channel-level ACK goes along in the same write.
   */
  transmit(dc: DeviceChannel, frame: Frame): void {
    dc.feedback.onSent(ackedSize(frame));
    if (this.trace === null) dc.channel.enqueue(frame);
    else dc.channel.enqueue(frame, this.trace.transmitting(frame));
    if (dc.ackPending) this.sendAck(dc);
  }

  /**
   * Feedback step (called by the control loop every tick): acknowledges what each
   * channel received, probes RTT on channels in use, samples delivery rates, and
   * marks channels stale that hold unacknowledged data without progress for
   * `max(4 × srtt, staleAfterMs)`.
   */
  feedbackTick(now: number, staleAfterMs: number): void {
    this.lateness.tick();
    const stale: Array<[DeviceChannel, number]> = [];
    for (const dc of this.channels) {
      if (dc.channel.destroyed || dc.byeSent) continue;
      const fb = dc.feedback;
      if (fb.rxData !== fb.rxReported) this.sendAck(dc);
      // One probe outstanding at a time: every tick while data is in flight, else every second.
      const lost = fb.pingAt >= 0 && now - fb.pingAt > 1000;
      if ((fb.pingAt < 0 || lost) && (fb.inflightBytes > 0 || now - fb.probedAt >= 1000)) {
        this.send(dc, { ...controlFrame(FrameType.PING, 0, 0), payload: fb.probe(now) });
      }
      fb.sample(now);
      const silent = fb.silentFor(now);
      if (!fb.stale && silent > Math.max(4000 * fb.rtt.srtt, staleAfterMs)) {
        fb.stale = true;
        stale.push([dc, silent]);
      }
    }
    if (stale.length === 0) return;
    this.reindex(); // first, so that what is reinjected avoids the stale channels
    for (const [dc, silent] of stale) this.emit('channel-stale', dc, silent);
  }

  /** Aborts every channel. */
  destroy(err?: Error): void {
    if (this.ackTimer !== null) clearTimeout(this.ackTimer);
    if (this.lateTimer !== null) clearTimeout(this.lateTimer);
    this.ackTimer = this.lateTimer = null;
    for (const dc of [...this.channels]) dc.channel.destroy(err);
  }

  /** Pulls frames from throughput channels again after the receive queue drained. */
  resumeRx(): void {
    // Round-robin, in small pulls: the channels hold segments of the same sockets, and
    // taking one channel's whole backlog first would hand them up out of order.
    let pulled = true;
    while (pulled) {
      pulled = false;
      for (const dc of this.channels) {
        if (dc.appClass === 'throughput' && dc.channel.rxQueuedBytes > 0 && this.pump(dc, RESUME_PULL_BYTES)) pulled = true;
      }
    }
  }

  /** Hands `dc`'s received frames (up to `maxBytes`) to the receive scheduler; false when none were taken. */
  private pump(dc: DeviceChannel, maxBytes = Infinity): boolean {
    const bulk = dc.appClass === 'throughput';
    if (bulk && this.rx.congested) {
      this.rx.whenDrained(this); // resumeRx() pulls again
      return false;
    }
    const frames = dc.channel.dequeue(maxBytes);
    if (frames.length === 0) return false;
    const now = (dc.lastRxAt = performance.now());
    const fb = dc.feedback;
    let keep = 0;
    let bye = false;
    let progress = false;
    const trace = this.trace;
    const traceAt = trace === null ? 0 : traceNow();
    const traceBulk = bulk && trace !== null && trace.bulkReads;
    for (const f of frames) {
      if (f.type === FrameType.DATA) {
        if (traceBulk) trace.read(f, traceAt);
        fb.rxData += f.payload.length;
        frames[keep++] = f;
        continue;
      }
      fb.rxData += ackedSize(f);
      if (f.type === FrameType.ACK) {
        if (fb.onAck(f.seq, now)) {
          progress = true;
          if (fb.stale) this.recovered(dc);
          const lateFor = fb.caughtUp(now);
          if (lateFor >= 0) this.caughtUp(dc, lateFor);
        }
      } else if (f.type === FrameType.PONG) {
        fb.onPong(f.payload, now);
      } else if (f.type === FrameType.PING) {
        this.send(dc, { ...f, type: FrameType.PONG });
      } else if (f.type === FrameType.HELLO) {
        dc.channel.destroy(new FrameError(ErrorCode.PROTOCOL, `unexpected HELLO on established channel ${dc.id}`));
        return false;
      } else if (f.type === FrameType.BYE) {
        bye = !dc.byeReceived;
        dc.byeReceived = true;
      } else {
        frames[keep++] = f;
      }
    }
    frames.length = keep;
    if (progress) {
      this.checkLate(now);
      this.emit('acked');
    }
    if (fb.rxData - fb.rxReported >= ACK_EVERY_BYTES) this.sendAck(dc);
    else if (fb.rxData !== fb.rxReported && this.ackTimer === null) this.ackTimer = setTimeout(this.flushAcks, ACK_DELAY_MS).unref();
    if (bulk) this.rx.bulk(frames, dc);
    else if (trace === null) this.rx.urgent(frames, dc);
    else {
      trace.urgent(traceAt); // handed up before urgent() returns
      this.rx.urgent(frames, dc);
      trace.urgentDone();
    }
    // Answer a BYE at once (once the frames before it are delivered), not at the end of the transport.
    if (bye) this.rx.fence(dc, () => void this.closeChannel(dc));
    return true;
  }

  private ackTimer: NodeJS.Timeout | null = null;

  /** Acknowledges every channel's unreported DATA bytes (the delayed-ACK timer). */
  private readonly flushAcks = (): void => {
    this.ackTimer = null;
    for (const dc of this.channels) if (dc.feedback.rxData !== dc.feedback.rxReported) this.sendAck(dc);
  };

  /** Acknowledges the DATA bytes received on `dc` (channel-level ACK, for the peer's scheduler). */
  private sendAck(dc: DeviceChannel): void {
    dc.feedback.rxReported = dc.feedback.rxData;
    this.send(dc, controlFrame(FrameType.ACK, 0, 0, dc.feedback.rxData >>> 0));
  }

  /** Sends a device-level control frame on `dc` unless the channel is closing. */
  private send(dc: DeviceChannel, frame: Frame): void {
    if (dc.byeSent || dc.channel.destroyed) return;
    try {
      dc.feedback.onSent(ackedSize(frame));
      dc.channel.enqueue(frame);
    } catch {
      // ended locally: nothing to report
    }
  }

  private readonly lateness = new LatenessDetector();
  private lateTimer: NodeJS.Timeout | null = null;
  private lateTimerAt = Infinity;
  private readonly found: DeviceChannel[] = [];
  private readonly lateTick = (): void => {
    this.lateTimer = null;
    this.lateTimerAt = Infinity;
    this.checkLate(performance.now());
  };

  /**
   * Marks the channels that others of their class overtook as late (see
   * `lateness.ts`): they are skipped, and `channel-late` makes the sockets reinject
   * what they hold. Re-checks on a timer when one may become late without an ACK.
   */
  private checkLate(now: number): void {
    const found = this.found;
    const next = this.lateness.find(this.channels, now, found);
    if (found.length > 0) {
      for (const dc of found) dc.feedback.markLate(now, this.lateness.othersAcked(dc, this.channels));
      this.reindex(); // first, so that what is reinjected avoids the late channels
      for (const dc of found) this.emit('channel-late', dc, now - dc.feedback.clock.oldestUnackedAt);
      found.length = 0;
    }
    if (next >= this.lateTimerAt) return;
    if (this.lateTimer !== null) clearTimeout(this.lateTimer);
    this.lateTimerAt = next;
    this.lateTimer = setTimeout(this.lateTick, Math.max(1, next - now)).unref();
  }

  /** A late channel acknowledged everything it held when found late: use it again. */
  private caughtUp(dc: DeviceChannel, lateForMs: number): void {
    const fb = dc.feedback;
    this.lateness.caughtUp(lateForMs, fb.deliveredSinceLate, this.lateness.othersAcked(dc, this.channels) - fb.lateOthersAcked);
    this.reindex();
    this.emit('writable');
  }

  /** A stale channel made progress: use it again. */
  private recovered(dc: DeviceChannel): void {
    dc.feedback.stale = false;
    dc.feedback.late = false; // in use again at once; it is found late again if it stays behind
    this.reindex();
    this.emit('channel-recovered', dc);
    this.emit('writable');
  }

  /** Stops scheduling onto a channel without removing it (it ended or is closing). */
  retire(dc: DeviceChannel): void {
    if (!dc.usable) return;
    dc.usable = false;
    this.reindex();
  }

  private remove(dc: DeviceChannel, err: Error | undefined): void {
    const i = this.channels.indexOf(dc);
    if (i < 0) return;
    this.channels.splice(i, 1);
    dc.usable = false;
    this.reindex();
    this.emit('channel-removed', dc, err);
    if (this.channels.length === 0) this.emit('down', err);
  }

  /** Usable channels per class, in index order; stale and late ones are left out unless all are. */
  private reindex(): void {
    for (const cls of this.byClass.keys()) {
      const usable = this.channels.filter((c) => c.usable && c.appClass === cls).sort((a, b) => a.index - b.index);
      const fresh = usable.filter((c) => !c.feedback.stale && !c.feedback.late);
      this.byClass.set(cls, fresh.length > 0 ? fresh : usable);
    }
  }
}
