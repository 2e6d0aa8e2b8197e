/**
 * Channel HELLO: the first frame each way on every channel. It carries the sender's
 * host id and the channel's class and index, so both ends agree on them explicitly
 * (the reference module inferred them from accept order).
 * @packageDocumentation
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
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
  /** Reply only: extra addresses the acceptor announces (multipath); absent when none. */
  advertised?: string[];
}

/** Most addresses one HELLO reply may advertise. */
export const MAX_ADVERTISED = 8;
/** Longest advertised address, bytes of UTF-8. */
export const MAX_ADVERTISED_LENGTH = 255;

/** Encodes an advertise block: u8 count, then per address u8 length and UTF-8 bytes. */
export function encodeAdvertised(addresses: readonly string[]): Buffer {
  if (addresses.length > MAX_ADVERTISED) throw new FrameError(ErrorCode.BAD_FRAME, `at most ${MAX_ADVERTISED} advertised addresses, got ${addresses.length}`);
  const parts = addresses.map((a) => Buffer.from(a, 'utf8'));
  for (const [i, b] of parts.entries()) {
    if (b.length === 0 || b.length > MAX_ADVERTISED_LENGTH) throw new FrameError(ErrorCode.BAD_FRAME, `advertised address ${JSON.stringify(addresses[i])} must be 1-${MAX_ADVERTISED_LENGTH} bytes`);
  }
  return Buffer.concat([Buffer.from([parts.length]), ...parts.flatMap((b) => [Buffer.from([b.length]), b])]);
}

/** Decodes an advertise block at `off` of `p`; returns the addresses and the offset after it. */
function decodeAdvertised(p: Buffer, off: number): { addresses: string[]; end: number } {
  if (off >= p.length) throw new FrameError(ErrorCode.BAD_FRAME, 'HELLO advertise block is missing its count');
  const count = p[off++]!;
  if (count === 0 || count > MAX_ADVERTISED) throw new FrameError(ErrorCode.BAD_FRAME, `HELLO advertises ${count} addresses, must be 1-${MAX_ADVERTISED}`);
  const addresses: string[] = [];
  for (let i = 0; i < count; i++) {
    const len = off < p.length ? p[off++]! : 0;
    if (len === 0 || off + len > p.length) throw new FrameError(ErrorCode.BAD_FRAME, `HELLO advertised address ${i} has a bad length ${len}`);
    addresses.push(p.toString('utf8', off, off + len));
    off += len;
  }
  return { addresses, end: off };
}

/** Bytes of the random nonce appended to every HELLO (authentication extension). */
export const NONCE_BYTES = 16;
/** Bytes of an HMAC-SHA256 tag. */
export const MAC_BYTES = 32;

/** Authentication extension of a HELLO: nonce, and in a keyed reply the acceptor's MAC. */
export interface HelloExtension {
  /** Fresh random bytes of the sender. */
  nonce: Buffer;
  /** Acceptor's HMAC over the transcript (reply only, when it holds a key). */
  mac?: Buffer;
}

/** A decoded HELLO: the fields plus the extension and the raw payload (for transcripts). */
export interface DecodedHello extends HelloInfo {
  nonce: Buffer | undefined;
  mac: Buffer | undefined;
  raw: Buffer;
  /** Bytes of `raw` that the acceptor's MAC covers (everything before the MAC). */
  signedLength: number;
}

/**
 * Encodes a HELLO frame: 24 bytes, plus the nonce when `ext` is given, then (reply
 * only, flag ADVERTISE) the advertise block of `info.advertised`, then the MAC.
 */
export function encodeHello(info: HelloInfo, reply: boolean, ext?: HelloExtension): Frame {
  const advert = reply && ext && info.advertised && info.advertised.length > 0 ? encodeAdvertised(info.advertised) : undefined;
  const p = Buffer.alloc(HELLO_SIZE + (ext ? NONCE_BYTES + (advert?.length ?? 0) + (ext.mac ? MAC_BYTES : 0) : 0));
  p.writeUInt32BE(HELLO_MAGIC, 0);
  p[4] = PROTOCOL_VERSION;
  p[5] = info.appClass === 'latency' ? 1 : 0;
  p.writeUInt16BE(info.index, 6);
  Buffer.from(info.hostId, 'hex').copy(p, 8);
  if (ext) {
    ext.nonce.copy(p, HELLO_SIZE, 0, NONCE_BYTES);
    advert?.copy(p, HELLO_SIZE + NONCE_BYTES);
    ext.mac?.copy(p, HELLO_SIZE + NONCE_BYTES + (advert?.length ?? 0), 0, MAC_BYTES);
  }
  const flags = (reply ? FrameFlag.REPLY : 0) | (advert ? FrameFlag.ADVERTISE : 0);
  return { type: FrameType.HELLO, flags, src: 0, dst: 0, seq: 0, ack: 0, payload: p };
}

/**
 * Decodes and validates a HELLO frame.
 * @throws FrameError (`NETCHANNEL_ERR_BAD_FRAME`, `NETCHANNEL_ERR_PROTOCOL`) or ChannelError
 * (`NETCHANNEL_ERR_HANDSHAKE`, version mismatch), naming the bad field.
 */
export function decodeHello(frame: Frame, expectReply: boolean): DecodedHello {
  if (frame.type !== FrameType.HELLO) throw new FrameError(ErrorCode.PROTOCOL, `expected HELLO as first frame, got frame type ${frame.type}`);
  if ((frame.flags & FrameFlag.AUTH) !== 0) throw new FrameError(ErrorCode.PROTOCOL, 'HELLO AUTH received before the HELLO exchange');
  const p = frame.payload;
  const advertises = (frame.flags & FrameFlag.ADVERTISE) !== 0;
  if (advertises && !expectReply) throw new FrameError(ErrorCode.PROTOCOL, 'HELLO ADVERTISE is only valid in a reply');
  let advertised: string[] | undefined;
  let signedLength = Math.min(p.length, HELLO_SIZE + NONCE_BYTES);
  if (advertises) {
    if (p.length < HELLO_SIZE + NONCE_BYTES) throw new FrameError(ErrorCode.BAD_FRAME, `HELLO ADVERTISE needs a nonce: payload is ${p.length} bytes`);
    const block = decodeAdvertised(p, HELLO_SIZE + NONCE_BYTES);
    advertised = block.addresses;
    signedLength = block.end;
    if (p.length !== block.end && p.length !== block.end + MAC_BYTES) throw new FrameError(ErrorCode.BAD_FRAME, `HELLO payload has ${p.length - block.end} bytes after its advertise block, expected 0 or ${MAC_BYTES}`);
  } else {
    const sizes = [HELLO_SIZE, HELLO_SIZE + NONCE_BYTES, ...(expectReply ? [HELLO_SIZE + NONCE_BYTES + MAC_BYTES] : [])];
    if (!sizes.includes(p.length)) throw new FrameError(ErrorCode.BAD_FRAME, `HELLO payload must be ${sizes.join(', ')} bytes, got ${p.length}`);
  }
  if (p.readUInt32BE(0) !== HELLO_MAGIC) throw new FrameError(ErrorCode.BAD_FRAME, `HELLO magic is 0x${p.readUInt32BE(0).toString(16)}, expected 0x${HELLO_MAGIC.toString(16)}`);
  if (p[4] !== PROTOCOL_VERSION) throw new ChannelError(ErrorCode.HANDSHAKE, `peer speaks protocol version ${p[4]}, this stack speaks ${PROTOCOL_VERSION}`);
  if (p[5]! > 1) throw new FrameError(ErrorCode.BAD_FRAME, `HELLO channel class ${p[5]} is unknown`);
  if (((frame.flags & FrameFlag.REPLY) !== 0) !== expectReply) {
    throw new FrameError(ErrorCode.PROTOCOL, `HELLO ${expectReply ? 'reply expected' : 'reply received before a HELLO was sent'}`);
  }
  return {
    hostId: p.subarray(8, 8 + HOST_ID_BYTES).toString('hex'),
    appClass: p[5] === 1 ? 'latency' : 'throughput',
    index: p.readUInt16BE(6),
    ...(advertised && { advertised }),
    nonce: p.length > HELLO_SIZE ? p.subarray(HELLO_SIZE, HELLO_SIZE + NONCE_BYTES) : undefined,
    mac: p.length > signedLength ? p.subarray(signedLength) : undefined,
    raw: p,
    signedLength,
  };
}

/** HMAC-SHA256 over a role label and the HELLO transcript. */
function transcriptMac(key: Buffer, role: 'accept' | 'dial', ...parts: Buffer[]): Buffer {
  const h = createHmac('sha256', key).update(`netchannel-hello-${role}`);
  for (const part of parts) h.update(part);
  return h.digest();
}

/** Constant-time comparison of two MACs. */
function sameMac(a: Buffer | undefined, b: Buffer): boolean {
  return a !== undefined && a.length === b.length && timingSafeEqual(a, b);
}

/** Waits for the next frame on a fresh channel (leaving later frames queued). */
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

/**
 * Dialer side: send our HELLO (with a nonce), await the reply; with a pre-shared key,
 * verify the acceptor's MAC and answer with ours (mutual authentication).
 * Destroys the channel on failure.
 */
export async function helloAsDialer(channel: Channel, local: HelloInfo, timeoutMs: number, key?: Buffer): Promise<HelloInfo> {
  try {
    const hello = encodeHello(local, false, { nonce: randomBytes(NONCE_BYTES) });
    channel.enqueue(hello);
    const reply = decodeHello(await firstFrame(channel, timeoutMs), true);
    if (reply.hostId === local.hostId) throw new ChannelError(ErrorCode.HANDSHAKE, `dialed ${channel.remoteAddress} and reached this stack itself (host id ${reply.hostId})`);
    if (key) {
      const expected = transcriptMac(key, 'accept', hello.payload, reply.raw.subarray(0, reply.signedLength));
      if (!reply.mac) throw new ChannelError(ErrorCode.AUTH, `peer at ${channel.remoteAddress} did not authenticate (no pre-shared key configured there?)`);
      if (!sameMac(reply.mac, expected)) throw new ChannelError(ErrorCode.AUTH, `peer at ${channel.remoteAddress} failed authentication (wrong pre-shared key)`);
      const proof = transcriptMac(key, 'dial', hello.payload, reply.raw);
      channel.enqueue({ type: FrameType.HELLO, flags: FrameFlag.AUTH, src: 0, dst: 0, seq: 0, ack: 0, payload: proof });
    } else if (reply.mac) {
      throw new ChannelError(ErrorCode.AUTH, `peer at ${channel.remoteAddress} requires a pre-shared key (options.auth.key)`);
    }
    return { hostId: reply.hostId, appClass: reply.appClass, index: reply.index, ...(reply.advertised && { advertised: reply.advertised }) };
  } catch (err) {
    channel.destroy(err as Error);
    throw err;
  }
}

/**
 * Acceptor side: await the dialer's HELLO, answer with ours (same class and index);
 * with a pre-shared key, include our MAC and require the dialer's before returning.
 * Destroys the channel on failure.
 */
export async function helloAsAcceptor(channel: Channel, localHostId: string, timeoutMs: number, key?: Buffer, advertise?: readonly string[]): Promise<HelloInfo> {
  try {
    const hello = decodeHello(await firstFrame(channel, timeoutMs), false);
    if (hello.hostId === localHostId) throw new ChannelError(ErrorCode.HANDSHAKE, `HELLO from ${channel.remoteAddress} claims this stack's own host id`);
    const info: HelloInfo = { hostId: localHostId, appClass: hello.appClass, index: hello.index, ...(advertise && advertise.length > 0 && { advertised: [...advertise] }) };
    if (!key) {
      channel.enqueue(encodeHello(info, true, { nonce: randomBytes(NONCE_BYTES) }));
      return { hostId: hello.hostId, appClass: hello.appClass, index: hello.index };
    }
    if (!hello.nonce) throw new ChannelError(ErrorCode.AUTH, `peer at ${channel.remoteAddress} sent no nonce: cannot authenticate`);
    const base = encodeHello(info, true, { nonce: randomBytes(NONCE_BYTES) }).payload;
    const mac = transcriptMac(key, 'accept', hello.raw, base);
    const reply = encodeHello(info, true, { nonce: base.subarray(HELLO_SIZE, HELLO_SIZE + NONCE_BYTES), mac });
    channel.enqueue(reply);
    const auth = await firstFrame(channel, timeoutMs).catch((err: Error) => {
      throw new ChannelError(ErrorCode.AUTH, `peer at ${channel.remoteAddress} did not authenticate: ${err.message}`, { cause: err });
    });
    if (auth.type !== FrameType.HELLO || auth.flags !== FrameFlag.AUTH || auth.payload.length !== MAC_BYTES) {
      throw new ChannelError(ErrorCode.AUTH, `peer at ${channel.remoteAddress} did not authenticate (expected HELLO AUTH, got frame type ${auth.type})`);
    }
    if (!sameMac(auth.payload, transcriptMac(key, 'dial', hello.raw, reply.payload))) {
      throw new ChannelError(ErrorCode.AUTH, `peer at ${channel.remoteAddress} failed authentication (wrong pre-shared key)`);
    }
    return { hostId: hello.hostId, appClass: hello.appClass, index: hello.index };
  } catch (err) {
    channel.destroy(err as Error);
    throw err;
  }
}
