/**
 * Channel HELLO: the first frame each way on every channel. It carries the sender's
 * host id and the channel's class and index, so both ends agree on them explicitly
 * (the reference module inferred them from accept order).
 * @packageDocumentation
 */
import { ChannelError, ErrorCode, FrameError } from '../errors/index.js';
import type { AppClass, Channel } from './channel.js';
import { FrameFlag, FrameType, type Frame } from './frame.js';

/** Magic bytes at the start of a HELLO payload. */
export const HELLO_MAGIC = 0x4e434831; // 'NCH1'
/** HELLO payload size in bytes. */
export const HELLO_SIZE = 24;
/** Protocol version negotiated in the HELLO. */
export const PROTOCOL_VERSION = 1;
/** Length of a host id in bytes (hex string of twice that length). */
export const HOST_ID_BYTES = 16;

/** What a HELLO says. */
export interface HelloInfo {
  /** Host id of the sender, 32 hex characters. */
  hostId: string;
  /** Class of the channel. */
  appClass: AppClass;
  /** Index of the channel within its class at the dialer. */
  index: number;
}

/** Encodes a HELLO frame. */
export function encodeHello(info: HelloInfo, reply: boolean): Frame {
  const p = Buffer.alloc(HELLO_SIZE);
  p.writeUInt32BE(HELLO_MAGIC, 0);
  p[4] = PROTOCOL_VERSION;
  p[5] = info.appClass === 'latency' ? 1 : 0;
  p.writeUInt16BE(info.index, 6);
  Buffer.from(info.hostId, 'hex').copy(p, 8);
  return { type: FrameType.HELLO, flags: reply ? FrameFlag.REPLY : 0, src: 0, dst: 0, seq: 0, ack: 0, payload: p };
}

/**
 * Decodes and validates a HELLO frame.
 * @throws FrameError (`NETCHANNEL_ERR_BAD_FRAME`, `NETCHANNEL_ERR_PROTOCOL`) or ChannelError
 * (`NETCHANNEL_ERR_HANDSHAKE`, version mismatch), naming the bad field.
 */
export function decodeHello(frame: Frame, expectReply: boolean): HelloInfo {
  if (frame.type !== FrameType.HELLO) throw new FrameError(ErrorCode.PROTOCOL, `expected HELLO as first frame, got frame type ${frame.type}`);
  const p = frame.payload;
  if (p.length !== HELLO_SIZE) throw new FrameError(ErrorCode.BAD_FRAME, `HELLO payload must be ${HELLO_SIZE} bytes, got ${p.length}`);
  if (p.readUInt32BE(0) !== HELLO_MAGIC) throw new FrameError(ErrorCode.BAD_FRAME, `HELLO magic is 0x${p.readUInt32BE(0).toString(16)}, expected 0x${HELLO_MAGIC.toString(16)}`);
  if (p[4] !== PROTOCOL_VERSION) throw new ChannelError(ErrorCode.HANDSHAKE, `peer speaks protocol version ${p[4]}, this stack speaks ${PROTOCOL_VERSION}`);
  if (p[5]! > 1) throw new FrameError(ErrorCode.BAD_FRAME, `HELLO channel class ${p[5]} is unknown`);
  if (((frame.flags & FrameFlag.REPLY) !== 0) !== expectReply) {
    throw new FrameError(ErrorCode.PROTOCOL, `HELLO ${expectReply ? 'reply expected' : 'reply received before a HELLO was sent'}`);
  }
  return { hostId: p.subarray(8, 8 + HOST_ID_BYTES).toString('hex'), appClass: p[5] === 1 ? 'latency' : 'throughput', index: p.readUInt16BE(6) };
}

/** Waits for the first frame on a fresh channel (leaving later frames queued). */
function firstFrame(channel: Channel, timeoutMs: number): Promise<Frame> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      channel.off('readable', onReadable);
      channel.off('close', onClose);
    };
    const onReadable = (): void => {
      const [frame] = channel.dequeue(1);
      if (!frame) return;
      cleanup();
      resolve(frame);
    };
    const onClose = (err?: Error): void => {
      cleanup();
      reject(new ChannelError(ErrorCode.HANDSHAKE, `channel to ${channel.remoteAddress} closed during HELLO${err ? `: ${err.message}` : ''}`, { cause: err }));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new ChannelError(ErrorCode.HANDSHAKE, `no HELLO from ${channel.remoteAddress} within ${timeoutMs} ms`));
    }, timeoutMs);
    channel.on('readable', onReadable);
    channel.on('close', onClose);
    onReadable();
  });
}

/** Dialer side: send our HELLO, await the reply. Destroys the channel on failure. */
export async function helloAsDialer(channel: Channel, local: HelloInfo, timeoutMs: number): Promise<HelloInfo> {
  try {
    channel.enqueue(encodeHello(local, false));
    const peer = decodeHello(await firstFrame(channel, timeoutMs), true);
    if (peer.hostId === local.hostId) throw new ChannelError(ErrorCode.HANDSHAKE, `dialed ${channel.remoteAddress} and reached this stack itself (host id ${peer.hostId})`);
    return peer;
  } catch (err) {
    channel.destroy(err as Error);
    throw err;
  }
}

/** Acceptor side: await the dialer's HELLO, answer with ours (same class and index). */
export async function helloAsAcceptor(channel: Channel, localHostId: string, timeoutMs: number): Promise<HelloInfo> {
  try {
    const peer = decodeHello(await firstFrame(channel, timeoutMs), false);
    channel.enqueue(encodeHello({ hostId: localHostId, appClass: peer.appClass, index: peer.index }, true));
    return peer;
  } catch (err) {
    channel.destroy(err as Error);
    throw err;
  }
}

