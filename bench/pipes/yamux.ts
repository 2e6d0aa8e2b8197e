/**
 * @libp2p/yamux over one TCP connection: every pipe is a yamux stream. The muxer needs
 * a libp2p `MessageStream`; {@link SocketConnection} adapts a net.Socket (as
 * @libp2p/tcp does). Default yamux settings (256 KiB initial stream window, grows to
 * 16 MiB), keep-alive off.
 * @packageDocumentation
 */
import '../lib/polyfill.js';
import type net from 'node:net';
import { once } from 'node:events';
import { yamux } from '@libp2p/yamux';
import { AbstractMultiaddrConnection, type SendResult } from '@libp2p/utils';
import { defaultLogger } from '@libp2p/logger';
import { multiaddr } from '@multiformats/multiaddr';
import type { Stream, StreamMuxer } from '@libp2p/interface';
import type { Uint8ArrayList } from 'uint8arraylist';
import { connectTcp, listenTcp } from '../lib/loopback.js';
import type { Dialer, Listener, Pipe } from './pipe.js';

/** A net.Socket as a libp2p multiaddr connection. */
class SocketConnection extends AbstractMultiaddrConnection {
  constructor(
    private readonly socket: net.Socket,
    direction: 'inbound' | 'outbound',
  ) {
    super({ remoteAddr: multiaddr(`/ip4/127.0.0.1/tcp/${socket.remotePort ?? 0}`), direction, log: defaultLogger().forComponent('bench:yamux'), inactivityTimeout: 0 });
    socket.on('data', (buf) => this.onData(buf));
    socket.on('error', (err) => this.abort(err));
    socket.once('close', () => this.onTransportClosed());
    socket.on('drain', () => this.safeDispatchEvent('drain'));
  }

  sendData(data: Uint8ArrayList): SendResult {
    // One writev for the frame header and payload (and any queued frames), not a
    // syscall and a TCP segment each.
    let sentBytes = 0;
    let canSendMore = true;
    this.socket.cork();
    for (const buf of data) {
      sentBytes += buf.byteLength;
      canSendMore = this.socket.write(buf);
      if (!canSendMore) break;
    }
    this.socket.uncork();
    return { sentBytes, canSendMore };
  }

  async sendClose(): Promise<void> {
    if (this.socket.destroyed) return;
    this.socket.end();
    await once(this.socket, 'close');
  }

  sendReset(): void {
    this.socket.resetAndDestroy();
  }

  sendPause(): void {
    this.socket.pause();
  }

  sendResume(): void {
    this.socket.resume();
  }
}

function muxer(socket: net.Socket, direction: 'inbound' | 'outbound'): StreamMuxer {
  socket.setNoDelay(true);
  return yamux({ enableKeepAlive: false })().createStreamMuxer(new SocketConnection(socket, direction));
}

/**
 * Waits for the stream's next 'drain' event. Not `stream.onDrain()`: in @libp2p/utils
 * 7.4.1 its promise is never reset after the first drain, so every later call resolves
 * at once and a writer honouring backpressure spins and buffers without bound.
 */
function drained(s: Stream): Promise<void> {
  if (!s.writableNeedsDrain) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onDrain = (): void => {
      s.removeEventListener('close', onClose);
      resolve();
    };
    const onClose = (): void => {
      s.removeEventListener('drain', onDrain);
      reject(new Error('yamux stream closed while waiting for drain'));
    };
    s.addEventListener('drain', onDrain, { once: true });
    s.addEventListener('close', onClose, { once: true });
  });
}

/** {@link Pipe} over a yamux stream; the remote's close-write closes ours (socket-like). */
function streamPipe(s: Stream): Pipe {
  const closed = new Promise<void>((resolve) => {
    if (s.status === 'closed' || s.status === 'aborted' || s.status === 'reset') resolve();
    else s.addEventListener('close', () => resolve(), { once: true });
  });
  s.addEventListener('remoteCloseWrite', () => void s.close().catch(() => {}), { once: true });
  return {
    write: (buf) => s.send(buf),
    drained: () => drained(s),
    onData: (cb) => s.addEventListener('message', (e) => cb(e.data)),
    close: async () => {
      await s.close();
      await closed;
    },
    destroy: () => s.abort(new Error('destroyed by the benchmark')),
  };
}

/** Listens on 127.0.0.1; one muxer per connection, every inbound stream a pipe. */
export async function listenYamux(onPipe: (p: Pipe) => void): Promise<Listener> {
  const server = await listenTcp((socket) => muxer(socket, 'inbound').addEventListener('stream', (e) => onPipe(streamPipe(e.detail))));
  return {
    target: { kind: 'yamux', port: server.port },
    close: () => server.close((s) => s.destroy()),
  };
}

/** One TCP connection and muxer; each pipe a new outbound stream. */
export async function dialYamux(port: number): Promise<Dialer> {
  const socket = await connectTcp(port);
  const m = muxer(socket, 'outbound');
  return {
    open: async () => streamPipe(await m.createStream()),
    close: async () => {
      socket.destroy();
    },
  };
}
