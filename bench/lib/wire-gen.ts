/**
 * A load generator that speaks the wire format (docs/wire-format.md) over plain node:net,
 * for receiver-bound benchmarks (bench/scaling.ts): it costs a small fraction of a core,
 * so the stack under test, in another process, is the bottleneck.
 *
 * It dials `channels` TCP connections (round-robin over the given addresses, so an
 * acceptor with a listener per channel worker gets its channels spread), completes each
 * HELLO as one host id, opens `sockets` virtual sockets with SYNC and then blasts DATA
 * frames of `frameBytes` from pre-encoded batch buffers: one payload pattern, only the
 * 24-byte headers are rewritten, and a batch is reused after its write callback. It
 * honours CREDIT exactly (never a byte past the grant; a socket with less than one frame
 * of credit waits), answers PING with PONG, and reports the bytes it receives per channel
 * in ACK frames. With `echo`, it also receives the stack's DATA back (in any order, over
 * any channel, duplicates allowed), acknowledges it with CREDIT and grants `window`.
 *
 * `finish()` stops sending, sends FIN on every socket and waits for every CREDIT with
 * FIN_SEEN (and, with `echo`, for the stack's FIN, acknowledged with FIN_SEEN), then BYE.
 * @packageDocumentation
 */
import net from 'node:net';
import { encodeFrame, encodeHeader, FrameDecoder } from '../../netdriver/codec.js';
import { controlFrame, FIRST_EPHEMERAL_PORT, FrameFlag, FrameType, HEADER_SIZE, type Frame } from '../../netdriver/frame.js';
import { encodeHello } from '../../netdriver/hello.js';
import { seqDiff } from '../../vns/seq.js';

/** Options of {@link WireGenerator.start}. */
export interface WireGenOptions {
  /** Acceptor addresses (TCP host and port, or a unix socket path); channels are dialed round-robin over them. */
  addresses: readonly ({ host: string; port: number } | { path: string })[];
  /** TCP connections (throughput channels). */
  channels: number;
  /** Virtual sockets to open. */
  sockets: number;
  /** Payload bytes per DATA frame. */
  frameBytes: number;
  /** Virtual port the stack listens on. */
  port: number;
  /** Also receive the stack's echo (RPC shape). @default false */
  echo?: boolean;
  /** Our receive window for the echo. @default 4 MiB */
  window?: number;
  /** Host id, 32 hex characters. @default a fixed id */
  hostId?: string;
  /** Stop sending after this many payload bytes (then call `finish()`). @default Infinity */
  maxBytes?: number;
}

/** Counters of a run. */
export interface WireGenStats {
  /** Payload bytes sent. */
  sent: number;
  /** In-order echoed payload bytes received. */
  echoed: number;
  /** RST frames received (a correct run has none): the sum of {@link resetReasons}. */
  readonly resets: number;
  /** RST frames by reason code (docs/wire-format.md §5). */
  resetReasons: Record<number, number>;
  /** Frames the decoder rejected or that made no sense (a correct run has none). */
  errors: string[];
}

interface Sock {
  src: number;
  sndNxt: number;
  grant: number;
  open: boolean;
  finSeen: boolean;
  /** Offsets are absolute byte counts (the wire carries them modulo 2^32). Echo: next in-order byte, out-of-order ranges [start, end), last grant sent, the peer's FIN offset (-1 before). */
  rcvNxt: number;
  held: Array<[number, number]>;
  granted: number;
  peerFin: number;
  peerFinAcked: boolean;
}

interface Chan {
  sock: net.Socket;
  /** Batch buffers not in a pending write. */
  free: Buffer[];
  /** Bytes received that count for ACK (§8a), and the count last acknowledged. */
  rx: number;
  acked: number;
  /** Round-robin position among this channel's sockets. */
  next: number;
}

const BATCH_BYTES = 256 * 1024;
const BATCHES_PER_CHANNEL = 6;
const ACK_EVERY = 256 * 1024;

/** A running generator; see the module comment. */
export class WireGenerator {
  readonly stats: WireGenStats = {
    sent: 0,
    echoed: 0,
    get resets() {
      return Object.values(this.resetReasons).reduce((a, b) => a + b, 0);
    },
    resetReasons: {},
    errors: [],
  };
  private readonly chans: Chan[] = [];
  private readonly socks: Sock[] = [];
  private readonly bySrc = new Map<number, Sock>();
  private readonly framesPerBatch: number;
  private readonly stride: number;
  private sending = true;
  private pumpQueued = false;
  private waiters: Array<() => void> = [];

  private constructor(private readonly o: Required<WireGenOptions>) {
    this.stride = HEADER_SIZE + o.frameBytes;
    this.framesPerBatch = Math.max(1, Math.floor(BATCH_BYTES / this.stride));
  }

  /** Dials, completes the HELLOs, opens the sockets (SYNC → SYNC_ACK) and starts sending. */
  static async start(options: WireGenOptions): Promise<WireGenerator> {
    const g = new WireGenerator({ echo: false, window: 4 * 1024 * 1024, hostId: '6e6377676e6377676e6377676e637767', maxBytes: Infinity, ...options });
    await Promise.all(Array.from({ length: options.channels }, (_, i) => g.dial(i)));
    for (let i = 0; i < options.sockets; i++) {
      const s: Sock = { src: FIRST_EPHEMERAL_PORT + i, sndNxt: 0, grant: 0, open: false, finSeen: false, rcvNxt: 0, held: [], granted: g.o.window, peerFin: -1, peerFinAcked: false };
      g.socks.push(s);
      g.bySrc.set(s.src, s);
      g.control(controlFrame(FrameType.SYNC, s.src, options.port, 0, g.o.window));
    }
    await g.until(() => g.socks.every((s) => s.open), 10_000, 'SYNC_ACKs');
    g.pump();
    return g;
  }

  /**
   * Stops sending (with a finite `maxBytes`, once that much is sent), closes every
   * socket with FIN and waits until the stack has seen it.
   */
  async finish(timeoutMs = 20_000): Promise<WireGenStats> {
    if (Number.isFinite(this.o.maxBytes)) await this.until(() => this.stats.sent >= this.o.maxBytes, timeoutMs, `${this.o.maxBytes} bytes sent`);
    this.sending = false;
    for (const s of this.socks) this.control(controlFrame(FrameType.FIN, s.src, this.o.port, s.sndNxt >>> 0));
    await this.until(() => this.socks.every((s) => s.finSeen && (!this.o.echo || s.peerFinAcked)), timeoutMs, 'FIN_SEEN');
    for (const c of this.chans) {
      c.sock.write(encodeFrame(controlFrame(FrameType.BYE, 0, 0)));
      c.sock.end();
    }
    return this.stats;
  }

  /** Destroys every connection. */
  close(): void {
    this.sending = false;
    for (const c of this.chans) c.sock.destroy();
  }

  /** A batch of DATA frames, headers encoded (src and seq are rewritten per use). */
  private batchBuffer(): Buffer {
    const b = Buffer.alloc(this.framesPerBatch * this.stride, 0x5a);
    const payload = b.subarray(0, this.o.frameBytes);
    for (let i = 0; i < this.framesPerBatch; i++) encodeHeader({ type: FrameType.DATA, flags: 0, src: 0, dst: this.o.port, seq: 0, ack: 0, payload }, b, i * this.stride);
    return b;
  }

  private async dial(index: number): Promise<void> {
    const addr = this.o.addresses[index % this.o.addresses.length]!;
    const sock = 'path' in addr ? net.connect({ path: addr.path }) : net.connect({ host: addr.host, port: addr.port, noDelay: true });
    const chan: Chan = { sock, free: [], rx: 0, acked: 0, next: 0 };
    for (let b = 0; b < BATCHES_PER_CHANNEL; b++) chan.free.push(this.batchBuffer());
    const dec = new FrameDecoder({ maxPayload: 16 * 1024 * 1024 });
    const out: Frame[] = [];
    let hello = false;
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.on('data', (d: Buffer) => {
        try {
          dec.push(d, out);
        } catch (err) {
          this.stats.errors.push(`decoder: ${(err as Error).message}`);
          sock.destroy();
          return;
        }
        for (const f of out) {
          if (!hello) {
            if (f.type !== FrameType.HELLO) this.stats.errors.push(`first frame of type ${f.type}, not HELLO`);
            hello = true;
            resolve();
          } else this.onFrame(chan, f);
        }
        out.length = 0;
        if (chan.rx - chan.acked >= ACK_EVERY) this.ack(chan);
        this.wake();
      });
      sock.write(encodeFrame(encodeHello({ hostId: this.o.hostId, appClass: 'throughput', index }, false, { nonce: Buffer.alloc(16, index + 1) })));
    });
    sock.removeAllListeners('error');
    sock.on('error', (err) => this.stats.errors.push(`channel ${index}: ${err.message}`));
    sock.on('drain', () => this.pump());
    this.chans.push(chan);
  }

  private onFrame(chan: Chan, f: Frame): void {
    if (f.type === FrameType.ACK || f.type === FrameType.BYE) return;
    chan.rx += f.type === FrameType.DATA ? f.payload.length : HEADER_SIZE + f.payload.length;
    const s = this.bySrc.get(f.dst);
    switch (f.type) {
      case FrameType.PING:
        chan.sock.write(encodeFrame({ ...f, type: FrameType.PONG }));
        return;
      case FrameType.PONG:
        return;
      case FrameType.RST:
        this.stats.resetReasons[f.ack] = (this.stats.resetReasons[f.ack] ?? 0) + 1;
        if (s) s.open = false;
        return;
      case FrameType.SYNC_ACK:
        if (s && !s.open) [s.open, s.grant] = [true, f.ack];
        return;
      case FrameType.CREDIT:
        if (!s) return;
        s.grant = Math.max(s.grant, s.sndNxt + seqDiff(f.ack, s.sndNxt >>> 0));
        if ((f.flags & FrameFlag.FIN_SEEN) !== 0 && f.seq === s.sndNxt >>> 0) s.finSeen = true;
        this.pump();
        return;
      case FrameType.DATA:
        if (s && this.o.echo) this.onData(s, f.seq, f.payload.length);
        else this.stats.errors.push(`DATA for ${s ? 'a socket without echo' : `unknown port ${f.dst}`}`);
        return;
      case FrameType.FIN:
        // the stack ends its side too (allowHalfOpen false, as net): acknowledge it
        if (s) {
          s.peerFin = s.rcvNxt + seqDiff(f.seq, s.rcvNxt >>> 0);
          if (s.rcvNxt === s.peerFin) this.credit(s);
        } else this.stats.errors.push(`FIN for unknown port ${f.dst}`);
        return;
      default:
        this.stats.errors.push(`unexpected frame type ${f.type}`);
    }
  }

  /** Echo: merges [seq, seq+n) into what was received, advances rcvNxt, grants more. */
  private onData(s: Sock, seq: number, n: number): void {
    const start = s.rcvNxt + seqDiff(seq, s.rcvNxt >>> 0);
    const end = start + n;
    if (end <= s.rcvNxt || n === 0) return;
    if (end > s.granted) this.stats.errors.push(`echo beyond our grant on port ${s.src}`);
    s.held.push([start, end]);
    s.held.sort((a, b) => a[0] - b[0]);
    let nxt = s.rcvNxt;
    let k = 0;
    for (; k < s.held.length && s.held[k]![0] <= nxt; k++) nxt = Math.max(nxt, s.held[k]![1]);
    s.held.splice(0, k);
    if (nxt === s.rcvNxt) return;
    this.stats.echoed += nxt - s.rcvNxt;
    s.rcvNxt = nxt;
    if (s.rcvNxt === s.peerFin || s.rcvNxt + this.o.window - s.granted >= this.o.window >>> 2) this.credit(s);
  }

  private credit(s: Sock): void {
    const fin = s.peerFin >= 0 && s.rcvNxt === s.peerFin;
    if (fin) s.peerFinAcked = true;
    else s.granted = s.rcvNxt + this.o.window;
    this.control(controlFrame(FrameType.CREDIT, s.src, this.o.port, s.rcvNxt >>> 0, (fin ? s.rcvNxt : s.granted) >>> 0, fin ? FrameFlag.FIN_SEEN : 0));
  }

  private ack(chan: Chan): void {
    chan.acked = chan.rx;
    chan.sock.write(encodeFrame(controlFrame(FrameType.ACK, 0, 0, chan.rx >>> 0)));
  }

  /** A control frame on the channel with the least queued bytes. */
  private control(f: Frame): void {
    const c = this.chans.reduce((a, b) => (b.sock.writableLength < a.sock.writableLength ? b : a));
    c.sock.write(encodeFrame(f));
  }

  /**
   * Fills free batches with frames of sockets that have a frame of credit. Socket i
   * travels on channel i mod channels (round-robin among a channel's sockets), so the
   * receiver reorders nothing: striping one socket over channels whose kernel buffers
   * drain at different speeds would measure the reorder limits, not the receive path.
   */
  private pump(): void {
    if (!this.sending || this.socks.length === 0) return;
    const F = this.o.frameBytes;
    const nc = this.chans.length;
    for (let ci = 0; ci < nc; ci++) {
      const c = this.chans[ci]!;
      const mine = Math.ceil((this.socks.length - ci) / nc);
      while (c.free.length > 0 && mine > 0) {
        const batch = c.free[c.free.length - 1]!;
        let n = 0;
        for (let tried = 0; n < this.framesPerBatch && tried < mine && this.stats.sent < this.o.maxBytes; ) {
          const s = this.socks[ci + nc * c.next]!;
          c.next = (c.next + 1) % mine;
          if (s.open && s.grant - s.sndNxt >= F) {
            const at = n * this.stride; // only src and seq change; the rest was encoded once
            batch.writeUInt32BE(s.src, at + 4);
            batch.writeUInt32BE(s.sndNxt >>> 0, at + 12);
            s.sndNxt += F;
            this.stats.sent += F;
            n++;
            tried = 0;
          } else tried++;
        }
        if (n === 0) break;
        c.free.pop();
        c.sock.write(batch.subarray(0, n * this.stride), () => {
          c.free.push(batch);
          this.schedulePump();
        });
      }
    }
  }

  private schedulePump(): void {
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    setImmediate(() => {
      this.pumpQueued = false;
      this.pump();
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private async until(pred: () => boolean, ms: number, what: string): Promise<void> {
    const deadline = performance.now() + ms;
    while (!pred()) {
      if (this.stats.errors.length > 0) throw new Error(`wire generator: ${this.stats.errors[0]} (while waiting for ${what})`);
      if (this.stats.resets > 0) throw new Error(`wire generator: the stack reset ${this.stats.resets} socket(s) (while waiting for ${what})`);
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`wire generator: timed out after ${ms} ms waiting for ${what}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 50));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }
}
