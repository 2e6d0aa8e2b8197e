/**
 * NetDevice: the remote host seen as a multi-queue device. It holds every channel to
 * one peer host (grouped by the host id from each channel's HELLO), knows each
 * channel's class and index, pumps received frames upward and answers PINGs.
 * @packageDocumentation
 */
import { EventEmitter } from 'node:events';
import { ErrorCode, FrameError } from '../errors/index.js';
import type { AppClass, Channel } from './channel.js';
import { FrameType, type Frame } from './frame.js';

/** A channel as the scheduler sees it: class, index and occupancy. */
export interface ChannelView {
  /** Process-unique channel id. */
  readonly id: number;
  /** Index within its class, as negotiated in the HELLO. */
  readonly index: number;
  /** Channel class. */
  readonly appClass: AppClass;
  /** Bytes queued for transmission. */
  readonly txQueuedBytes: number;
  /** The channel's transmit high-water mark. */
  readonly txHighWaterMark: number;
  /** Total bytes sent so far (for rate estimates). */
  readonly bytesSent: number;
}

/** A channel registered in a device. */
export class DeviceChannel implements ChannelView {
  /** False once the channel ended or closed: no new frames go on it. */
  usable = true;

  constructor(
    /** The underlying channel. */
    readonly channel: Channel,
    /** Class negotiated in the HELLO. */
    readonly appClass: AppClass,
    /** Index negotiated in the HELLO. */
    readonly index: number,
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
}

/** Events of a {@link NetDevice}. */
export interface NetDeviceEvents {
  /** A channel joined the device. */
  'channel-added': [DeviceChannel];
  /** A channel left; `err` is set when it failed rather than closed gracefully. */
  'channel-removed': [DeviceChannel, Error | undefined];
  /** Some channel has transmit room again. */
  writable: [];
  /** The last channel is gone. */
  down: [Error | undefined];
}

/** All channels to one peer host. */
export class NetDevice extends EventEmitter<NetDeviceEvents> {
  /** Every live channel, in the order they joined. */
  readonly channels: DeviceChannel[] = [];
  private readonly byClass = new Map<AppClass, DeviceChannel[]>([
    ['latency', []],
    ['throughput', []],
  ]);
  /** Receives every non-HELLO, non-PING frame; set by the virtual-socket layer. */
  onFrame: (frame: Frame, from: DeviceChannel) => void = () => {};

  constructor(
    /** Host id of the peer (hex). */
    readonly peerHostId: string,
  ) {
    super();
  }

  /** Usable channels of one class, in index order. Empty when the class has none. */
  channelsOf(appClass: AppClass): readonly DeviceChannel[] {
    return this.byClass.get(appClass)!;
  }

  /** Registers a HELLO-negotiated channel and starts pumping its frames. */
  add(channel: Channel, appClass: AppClass, index: number): DeviceChannel {
    const dc = new DeviceChannel(channel, appClass, index);
    this.channels.push(dc);
    this.reindex();
    channel.on('readable', () => this.pump(dc));
    channel.on('writable', () => this.emit('writable'));
    channel.on('end', () => {
      this.retire(dc);
      channel.end();
    });
    channel.once('close', (err) => this.remove(dc, err));
    this.emit('channel-added', dc);
    this.pump(dc);
    return dc;
  }

  /** Gracefully ends every channel (queued frames are flushed first). */
  async close(): Promise<void> {
    for (const dc of this.channels) dc.usable = false;
    this.reindex();
    await Promise.all(this.channels.map((dc) => dc.channel.close()));
  }

  /** Aborts every channel. */
  destroy(err?: Error): void {
    for (const dc of [...this.channels]) dc.channel.destroy(err);
  }

  private pump(dc: DeviceChannel): void {
    const frames = dc.channel.dequeue();
    for (const f of frames) {
      if (f.type === FrameType.PING) {
        if (dc.usable) dc.channel.enqueue({ ...f, type: FrameType.PONG });
      } else if (f.type === FrameType.HELLO) {
        dc.channel.destroy(new FrameError(ErrorCode.PROTOCOL, `unexpected HELLO on established channel ${dc.id}`));
        return;
      } else if (!(f.type >= FrameType.DATA && f.type <= FrameType.PONG)) {
        // Drivers that carry Frame objects (not bytes) skip the codec: check here too.
        dc.channel.destroy(new FrameError(ErrorCode.BAD_FRAME, `unknown frame type ${f.type} on channel ${dc.id}`));
        return;
      } else if (f.type !== FrameType.PONG) {
        this.onFrame(f, dc);
        if (dc.channel.destroyed) return;
      }
    }
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

  private reindex(): void {
    for (const cls of this.byClass.keys()) {
      this.byClass.set(
        cls,
        this.channels.filter((c) => c.usable && c.appClass === cls).sort((a, b) => a.index - b.index),
      );
    }
  }
}
