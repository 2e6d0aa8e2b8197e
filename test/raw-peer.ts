/**
 * Test fixture: a hand-driven peer that speaks the wire format over raw TCP (as an
 * attacker written from docs/wire-format.md would), for the hostile-peer tests and
 * bench/hostile.ts.
 * @packageDocumentation
 */
import net from 'node:net';
import { encodeFrame, FrameDecoder } from '../netdriver/codec.js';
import { FrameType, type Frame } from '../netdriver/frame.js';
import { encodeHello } from '../netdriver/hello.js';

/** A raw channel after its HELLO: write frames, read what the stack answered. */
export interface RawPeer {
  sock: net.Socket;
  /** Every frame received after the HELLO reply (and the reply itself). */
  frames: Frame[];
  /** Resolves when the TCP connection closed. */
  closed: Promise<void>;
  /** Encodes and writes frames. */
  send(...frames: Frame[]): void;
  /** Waits (polling every 2 ms, at most `ms`) until `pred` holds for the frames received. */
  until(pred: (frames: Frame[]) => boolean, ms?: number, what?: string): Promise<void>;
}

/** Opens a raw TCP channel to `port` on 127.0.0.1 and completes the HELLO as `hostId`. */
export async function rawPeer(port: number, hostId: string, helloTimeoutMs = 5000): Promise<RawPeer> {
  const sock = net.connect({ host: '127.0.0.1', port });
  sock.on('error', () => {});
  const closed = new Promise<void>((r) => sock.once('close', () => r()));
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('close', () => reject(new Error('raw peer: connection closed before connect')));
  });
  const frames: Frame[] = [];
  const dec = new FrameDecoder({ maxPayload: 64 * 1024 * 1024 });
  sock.on('data', (d: Buffer) => {
    try {
      dec.push(d, frames);
    } catch {
      sock.destroy();
    }
  });
  const peer: RawPeer = {
    sock,
    frames,
    closed,
    send: (...fs) => {
      if (!sock.destroyed) sock.write(Buffer.concat(fs.map(encodeFrame)));
    },
    until: async (pred, ms = 5000, what = 'frames') => {
      const end = performance.now() + ms;
      while (!pred(frames)) {
        if (sock.destroyed || sock.closed) throw new Error(`raw peer: connection closed while waiting for ${what}`);
        if (performance.now() > end) throw new Error(`raw peer: timed out after ${ms} ms waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 2));
      }
    },
  };
  peer.send(encodeHello({ hostId, appClass: 'throughput', index: 0 }, false, { nonce: Buffer.alloc(16, 1) }));
  await peer.until((f) => f.some((x) => x.type === FrameType.HELLO), helloTimeoutMs, 'HELLO reply');
  return peer;
}

/** Opens a raw TCP connection that has not sent anything (for slow-HELLO attacks). */
export async function rawConnection(port: number): Promise<net.Socket> {
  const sock = net.connect({ host: '127.0.0.1', port });
  sock.on('error', () => {});
  await new Promise<void>((resolve) => {
    sock.once('connect', resolve);
    sock.once('close', () => resolve());
  });
  return sock;
}

/** The bytes of a dialer's first HELLO frame as `hostId` (to dribble them out slowly). */
export function helloBytes(hostId: string): Buffer {
  return encodeFrame(encodeHello({ hostId, appClass: 'throughput', index: 0 }, false, { nonce: Buffer.alloc(16, 2) }));
}
