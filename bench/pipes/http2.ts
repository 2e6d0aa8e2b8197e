/**
 * node:http2 (h2c on loopback): one session; every pipe is a POST stream whose request
 * body and response body form the two directions.
 *
 * Flow-control windows are raised to netchannel's defaults (4 MiB per stream) and the
 * connection window to 32 MiB: with HTTP/2's 64 KiB default, HTTP/2 would mostly
 * measure window updates.
 * @packageDocumentation
 */
import http2 from 'node:http2';
import net from 'node:net';
import { once } from 'node:events';
import { closeServer, listenLoopback, track } from '../lib/loopback.js';
import { duplexPipe, type Dialer, type Listener, type Pipe } from './pipe.js';

const STREAM_WINDOW = 4 * 1024 * 1024;
const SESSION_WINDOW = 32 * 1024 * 1024;
const SETTINGS: http2.Settings = { initialWindowSize: STREAM_WINDOW, maxConcurrentStreams: 10_000 };

/** Listens on 127.0.0.1; every stream is answered with 200 and becomes a pipe. */
export async function listenHttp2(onPipe: (p: Pipe) => void): Promise<Listener> {
  const sessions = new Set<http2.ServerHttp2Session>();
  const server = http2.createServer({ settings: SETTINGS });
  server.on('connection', (s: net.Socket) => s.setNoDelay(true));
  server.on('session', (s) => {
    track(sessions, s);
    s.on('error', () => {});
    s.setLocalWindowSize(SESSION_WINDOW);
  });
  server.on('stream', (stream) => {
    stream.respond({ ':status': 200 });
    stream.once('end', () => stream.end()); // half-close like a socket without allowHalfOpen
    onPipe(duplexPipe(stream));
  });
  const port = await listenLoopback(server);
  return {
    target: { kind: 'http2', port },
    close: () => closeServer(server, sessions, (s) => s.destroy()),
  };
}

/** Connects one session; each pipe is a new stream on it. */
export async function dialHttp2(port: number): Promise<Dialer> {
  const session = http2.connect(`http://127.0.0.1:${port}`, {
    settings: SETTINGS,
    createConnection: () => net.connect({ host: '127.0.0.1', port, noDelay: true }),
  });
  session.on('error', () => {});
  await once(session, 'connect');
  session.setLocalWindowSize(SESSION_WINDOW);
  return {
    open: async () => duplexPipe(session.request({ ':method': 'POST', ':path': '/' }, { endStream: false })),
    close: async () => {
      session.destroy();
    },
  };
}
