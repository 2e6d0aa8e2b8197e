/**
 * The driver compliance suite: one function that registers vitest tests checking that a
 * {@link ChannelDriver} honours the {@link Channel} contract (dial/accept, ordered frames
 * both ways, frame sizes, backpressure, half-close, abort, idempotent close, many
 * channels, peer loss, counters, address validation). Every built-in transport runs it;
 * a third-party driver runs it the same way:
 *
 * ```ts
 * // my-transport.test.ts
 * import { channelDriverCompliance } from 'netchannel/compliance';
 * import { myTransport } from './index.js';
 *
 * channelDriverCompliance('my-transport', {
 *   setup: async () => ({
 *     driver: myTransport()({ hostId: '0'.repeat(32) }),
 *     listenAddress: 'mine://127.0.0.1:0',
 *   }),
 *   teardown: async () => {},
 * });
 * ```
 *
 * `vitest` is an optional peer dependency: import this module only from test files.
 * @packageDocumentation
 */
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../errors/index.js';
import type { Channel, ChannelEvents } from '../netdriver/channel.js';
import type { ChannelDriver, ChannelListener, ChannelOptions } from '../netdriver/driver.js';
import { controlFrame, EMPTY, FrameFlag, FrameType, HEADER_SIZE, ResetReason, type Frame } from '../netdriver/frame.js';

/** What {@link ComplianceHooks.setup} provides for one test. */
export interface ComplianceSetup {
  /** A fresh driver instance. */
  driver: ChannelDriver;
  /** Address to listen on; may ask for an ephemeral port (`:0`), the listener reports the real one. */
  listenAddress: string;
}

/** How the suite obtains and releases a driver under test. */
export interface ComplianceHooks {
  /** Called before every test. */
  setup(): Promise<ComplianceSetup>;
  /** Called after every test, once its channels and listener are closed. */
  teardown?(s: ComplianceSetup): Promise<void>;
  /** Optional per-driver channel options, passed to every dial and listen. */
  channelOptions?: ChannelOptions;
}

/** Upper bound for any single wait inside a test. */
const WAIT_MS = 5_000;
/** Hard cap per test (vitest timeout); tests finish far below it. */
const TEST_MS = 15_000;
/** Default `maxPayload` of {@link ChannelOptions}. */
const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

// ---------------------------------------------------------------------------------------
// helpers

/** Deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

function randomBytes(rand: () => number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let i = 0;
  for (; i + 4 <= n; i += 4) b.writeUInt32LE(rand(), i);
  for (; i < n; i++) b[i] = rand() & 0xff;
  return b;
}

/** Rejects with `message` after `ms` unless `promise` settles first. */
function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timeout after ${ms} ms: ${message}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Resolves on the next `event` of `ch`; rejects after `ms`, or when the channel closes
 * first (unless `event` is `'close'`).
 */
function nextEvent<E extends keyof ChannelEvents>(ch: Channel, event: E, what: string, ms = WAIT_MS): Promise<ChannelEvents[E]> {
  return new Promise<ChannelEvents[E]>((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      ch.off(event, onEvent);
      ch.off('close', onClose);
    };
    const onEvent = (...args: ChannelEvents[E]): void => {
      cleanup();
      resolve(args);
    };
    const onClose = (err?: Error): void => {
      cleanup();
      reject(new Error(`${what}: channel ${ch.id} closed before '${event}'${err ? ` (${err.message})` : ''}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timeout after ${ms} ms: ${what}: no '${event}' on channel ${ch.id}`));
    }, ms);
    ch.on(event, onEvent);
    if (event !== 'close') ch.on('close', onClose);
  });
}

/** Lets pending I/O callbacks and immediates run (a window for unwanted events, not synchronization). */
async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
  await new Promise<void>((r) => setTimeout(r, 10));
}

/**
 * Collects exactly `n` frames from `ch`: drains `dequeue()` on every `'readable'` (and
 * once at start), resolves when `n` frames arrived; rejects on timeout, or when the
 * channel ends or closes with fewer.
 */
function collect(ch: Channel, n: number, what: string, ms = WAIT_MS): Promise<Frame[]> {
  return new Promise<Frame[]>((resolve, reject) => {
    const out: Frame[] = [];
    let draining = false;
    let finished = false;
    let ended: string | undefined;
    const cleanup = (): void => {
      finished = true;
      clearTimeout(timer);
      ch.off('readable', drain);
      ch.off('end', onEnd);
      ch.off('close', onClose);
    };
    const fail = (reason: string): void => {
      cleanup();
      reject(new Error(`${what}: ${reason} after ${out.length} of ${n} frames on channel ${ch.id}`));
    };
    function drain(): void {
      if (draining || finished) return;
      draining = true;
      try {
        // Bounded: each round takes at least one frame, and at most n + 1 are ever wanted.
        for (let round = 0; round <= n + 1; round++) {
          const batch = ch.dequeue();
          if (batch.length === 0) break;
          for (const f of batch) out.push(f);
          if (out.length >= n) break;
        }
      } finally {
        draining = false;
      }
      if (out.length >= n) {
        cleanup();
        resolve(out);
      } else if (ended !== undefined) {
        fail(ended);
      }
    }
    const onEnd = (): void => {
      ended = "'end'";
      drain();
    };
    const onClose = (err?: Error): void => {
      ended = `'close'${err ? ` (${err.message})` : ''}`;
      drain();
    };
    const timer = setTimeout(() => fail(`timeout after ${ms} ms`), ms);
    ch.on('readable', drain);
    ch.on('end', onEnd);
    ch.on('close', onClose);
    drain();
  });
}

/** Enqueues `frames` in batches, waiting for `'writable'` whenever `enqueue` returns false. */
async function sendAll(ch: Channel, frames: readonly Frame[], what: string, batch = 32): Promise<void> {
  for (let i = 0; i < frames.length; i += batch) {
    const ok = ch.enqueue(frames.slice(i, i + batch));
    if (!ok && i + batch < frames.length) await nextEvent(ch, 'writable', `${what}: waiting for 'writable' after enqueue returned false`);
  }
}

function digest(b: Buffer): string {
  return createHash('sha1').update(b).digest('hex').slice(0, 16);
}

/** A comparable summary of a frame (payload by length and digest). */
function summary(f: Frame): Record<string, unknown> {
  return { type: f.type, flags: f.flags, src: f.src, dst: f.dst, seq: f.seq, ack: f.ack, length: f.payload.length, payload: digest(f.payload) };
}

function sameFrame(a: Frame, b: Frame): boolean {
  return (
    a.type === b.type &&
    a.flags === b.flags &&
    a.src === b.src &&
    a.dst === b.dst &&
    a.seq === b.seq &&
    a.ack === b.ack &&
    Buffer.isBuffer(a.payload) &&
    a.payload.equals(b.payload)
  );
}

/** Asserts `got` equals `want` frame by frame, reporting the first difference. */
function expectFrames(got: readonly Frame[], want: readonly Frame[], what: string): void {
  expect(got.length, `${what}: frame count`).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (!sameFrame(got[i]!, want[i]!)) expect(summary(got[i]!), `${what}: frame #${i} differs`).toEqual(summary(want[i]!));
  }
}

/** Asserts that `fn` throws (or its promise rejects) with `code`. */
async function expectCode(fn: () => unknown, code: string, what: string): Promise<void> {
  let error: unknown;
  try {
    await fn();
  } catch (err) {
    error = err;
  }
  expect(error, `${what}: expected an error with code ${code}`).toBeInstanceOf(Error);
  expect((error as { code?: unknown }).code, `${what}: error code (message: ${(error as Error).message})`).toBe(code);
}

/** `count` DATA frames with random header fields, distinct seq and payload sizes 0..maxSize. */
function dataFrames(seed: number, count: number, maxSize: number, seqBase = 0): Frame[] {
  const rand = prng(seed);
  const frames: Frame[] = [];
  for (let i = 0; i < count; i++) {
    const size = rand() % (maxSize + 1);
    frames.push({
      type: FrameType.DATA,
      flags: rand() & (FrameFlag.LATENCY | FrameFlag.REPLY),
      src: rand(),
      dst: rand(),
      seq: (seqBase + i) >>> 0,
      ack: rand(),
      payload: randomBytes(rand, size),
    });
  }
  return frames;
}

/** Control frames of every non-HELLO type, cycling, with u32 extremes in their fields. */
function controlFrames(seed: number, count: number): Frame[] {
  const rand = prng(seed);
  const frames: Frame[] = [];
  for (let i = 0; i < count; i++) {
    switch (i % 7) {
      case 0:
        frames.push(controlFrame(FrameType.SYNC, rand(), 0xffffffff, i, rand(), FrameFlag.LATENCY));
        break;
      case 1:
        frames.push(controlFrame(FrameType.SYNC_ACK, 0xffffffff, rand(), 0, 0x80000000));
        break;
      case 2:
        frames.push(controlFrame(FrameType.FIN, 0x10000, 0xffff, 0xffffffff, 0));
        break;
      case 3:
        frames.push(controlFrame(FrameType.CREDIT, rand(), rand(), rand(), rand()));
        break;
      case 4:
        frames.push(controlFrame(FrameType.RST, 1, 2, 0, ResetReason.REFUSED));
        break;
      case 5:
        frames.push({ type: FrameType.PING, flags: 0, src: 0, dst: 0, seq: i, ack: 0, payload: randomBytes(rand, 1 + (rand() % 64)) });
        break;
      default:
        frames.push({ type: FrameType.PONG, flags: 0, src: 0, dst: 0, seq: i, ack: 0, payload: randomBytes(rand, 8) });
    }
  }
  return frames;
}

/** Interleaves one control frame after every `every` data frames. */
function interleave(data: readonly Frame[], control: readonly Frame[], every: number): Frame[] {
  const out: Frame[] = [];
  let c = 0;
  data.forEach((f, i) => {
    out.push(f);
    if ((i + 1) % every === 0 && c < control.length) out.push(control[c++]!);
  });
  while (c < control.length) out.push(control[c++]!);
  return out;
}

function wireSize(frames: readonly Frame[]): number {
  let n = 0;
  for (const f of frames) n += HEADER_SIZE + f.payload.length;
  return n;
}

/** Close bookkeeping attached to a channel as soon as the suite sees it. */
interface CloseRecord {
  count: number;
  errors: (Error | undefined)[];
  closed: Promise<Error | undefined>;
}

/** Accepted channels in arrival order, with timed waits. */
class AcceptQueue {
  private readonly items: Channel[] = [];
  private readonly waiters: ((c: Channel) => void)[] = [];

  push(c: Channel): void {
    const w = this.waiters.shift();
    if (w) w(c);
    else this.items.push(c);
  }

  next(what: string): Promise<Channel> {
    const c = this.items.shift();
    if (c) return Promise.resolve(c);
    let waiter!: (c: Channel) => void;
    const p = new Promise<Channel>((resolve) => {
      waiter = resolve;
      this.waiters.push(resolve);
    });
    return withTimeout(p, WAIT_MS, `${what}: no channel accepted`).catch((err: unknown) => {
      const i = this.waiters.indexOf(waiter);
      if (i >= 0) this.waiters.splice(i, 1);
      throw err;
    });
  }
}

/** Per-test state: one driver, one listener, every channel seen, released in afterEach. */
class Harness {
  readonly setup: ComplianceSetup;
  readonly base: ChannelOptions;
  listener: ChannelListener | undefined;
  readonly accepted = new AcceptQueue();
  readonly channels: Channel[] = [];
  private readonly records = new Map<Channel, CloseRecord>();

  constructor(setup: ComplianceSetup, base: ChannelOptions) {
    this.setup = setup;
    this.base = base;
  }

  get driver(): ChannelDriver {
    return this.setup.driver;
  }

  /** Starts tracking a channel (close events counted from now on). */
  track(ch: Channel): Channel {
    if (this.records.has(ch)) return ch;
    let resolveClosed!: (err: Error | undefined) => void;
    const rec: CloseRecord = { count: 0, errors: [], closed: new Promise((r) => (resolveClosed = r)) };
    ch.on('close', (err?: Error) => {
      rec.count++;
      rec.errors.push(err);
      resolveClosed(err);
    });
    this.records.set(ch, rec);
    this.channels.push(ch);
    return ch;
  }

  record(ch: Channel): CloseRecord {
    const rec = this.records.get(ch);
    if (!rec) throw new Error(`channel ${ch.id} is not tracked`);
    return rec;
  }

  /** Waits for the channel's (first) 'close', returning its error argument. */
  closed(ch: Channel, what: string): Promise<Error | undefined> {
    return withTimeout(this.record(ch).closed, WAIT_MS, `${what}: channel ${ch.id} did not emit 'close'`);
  }

  async listen(options: ChannelOptions = this.base): Promise<ChannelListener> {
    if (this.listener) throw new Error('harness already listens');
    this.listener = await this.driver.listen(this.setup.listenAddress, (ch) => this.accepted.push(this.track(ch)), options);
    return this.listener;
  }

  /** Dials the listener (listening first if needed) and pairs the dialer with the accepted end. */
  async pair(options: ChannelOptions = this.base): Promise<{ a: Channel; b: Channel }> {
    const listener = this.listener ?? (await this.listen(options));
    const a = this.track(await withTimeout(this.driver.dial(listener.address, options), WAIT_MS, `dial ${listener.address}`));
    const b = await this.accepted.next(`accept for dial ${listener.address}`);
    return { a, b };
  }

  /** Destroys every channel, closes the listener, runs teardown; fails if anything hangs. */
  async cleanup(teardown: ComplianceHooks['teardown']): Promise<void> {
    const problems: string[] = [];
    try {
      for (const ch of this.channels) ch.destroy();
      const results = await Promise.allSettled(this.channels.map((ch) => this.closed(ch, 'afterEach destroy()')));
      for (const r of results) if (r.status === 'rejected') problems.push(String(r.reason));
      if (this.listener) {
        await withTimeout(this.listener.close(), WAIT_MS, 'afterEach listener.close()').catch((err: unknown) => problems.push(String(err)));
      }
    } finally {
      await teardown?.(this.setup);
    }
    if (problems.length > 0) throw new Error(`cleanup failed:\n${problems.join('\n')}`);
  }
}

// ---------------------------------------------------------------------------------------
// the suite

/**
 * Registers the compliance tests for one driver in a
 * `describe('channel driver compliance: <name>')` block.
 */
export function channelDriverCompliance(name: string, hooks: ComplianceHooks): void {
  describe(`channel driver compliance: ${name}`, () => {
    const base: ChannelOptions = { ...hooks.channelOptions };
    let h!: Harness;
    let current: Harness | undefined;

    beforeEach(async () => {
      current = undefined;
      h = current = new Harness(await hooks.setup(), base);
    });

    afterEach(async () => {
      const done = current;
      current = undefined;
      await done?.cleanup(hooks.teardown?.bind(hooks));
    });

    it('dials and accepts a channel', async () => {
      const listener = await h.listen();
      expect(listener.address, 'listener.address').toMatch(new RegExp(`^${h.driver.scheme}://`));
      expect(() => h.driver.validate(listener.address), 'validate(listener.address)').not.toThrow();
      const { a, b } = await h.pair();
      for (const [label, ch] of [
        ['dialer', a],
        ['acceptor', b],
      ] as const) {
        expect(ch.scheme, `${label} scheme`).toBe(h.driver.scheme);
        expect(ch.destroyed, `${label} destroyed`).toBe(false);
        expect(typeof ch.localAddress === 'string' && ch.localAddress.length > 0, `${label} localAddress ${JSON.stringify(ch.localAddress)}`).toBe(true);
        expect(typeof ch.remoteAddress === 'string' && ch.remoteAddress.length > 0, `${label} remoteAddress ${JSON.stringify(ch.remoteAddress)}`).toBe(true);
        expect(Number.isInteger(ch.id), `${label} id`).toBe(true);
        expect(ch.txHighWaterMark, `${label} txHighWaterMark`).toBeGreaterThan(0);
        for (const k of ['txQueuedBytes', 'rxQueuedBytes', 'bytesSent', 'bytesReceived', 'framesSent', 'framesReceived'] as const) {
          expect(ch[k], `${label} ${k} of a fresh channel`).toBe(0);
        }
      }
      expect(a.id, 'dialer and acceptor ids').not.toBe(b.id);
      await settle();
      expect(h.record(a).count + h.record(b).count, 'no close while idle').toBe(0);
    }, TEST_MS);

    it('delivers 2,000 data frames and control frames in order, both directions', async () => {
      const { a, b } = await h.pair();
      const aToB = interleave(dataFrames(1, 2000, 5000, 0), controlFrames(11, 200), 10);
      const bToA = interleave(dataFrames(2, 2000, 5000, 1_000_000), controlFrames(22, 200), 10);
      const gotB = collect(b, aToB.length, 'a→b');
      const gotA = collect(a, bToA.length, 'b→a');
      await Promise.all([sendAll(a, aToB, 'a→b'), sendAll(b, bToA, 'b→a')]);
      const [atB, atA] = await Promise.all([gotB, gotA]);
      expectFrames(atB, aToB, 'a→b');
      expectFrames(atA, bToA, 'b→a');
    }, TEST_MS);

    it('carries a maxPayload (1 MiB) frame and 0- and 1-byte frames', async () => {
      const max = base.maxPayload ?? DEFAULT_MAX_PAYLOAD;
      const { a, b } = await h.pair();
      const rand = prng(3);
      const frames: Frame[] = [
        { type: FrameType.DATA, flags: 0, src: 1, dst: 2, seq: 0, ack: 0, payload: EMPTY },
        { type: FrameType.DATA, flags: 0, src: 1, dst: 2, seq: 1, ack: 7, payload: randomBytes(rand, max) },
        { type: FrameType.DATA, flags: 0, src: 1, dst: 2, seq: 2, ack: 0, payload: Buffer.from([0xa5]) },
        { type: FrameType.DATA, flags: 0, src: 1, dst: 2, seq: 3, ack: 0, payload: Buffer.alloc(0) },
        { type: FrameType.DATA, flags: 0, src: 1, dst: 2, seq: 4, ack: 0, payload: randomBytes(rand, max) },
        { type: FrameType.DATA, flags: 0, src: 1, dst: 2, seq: 5, ack: 0, payload: Buffer.from([0x00]) },
      ];
      const gotB = collect(b, frames.length, 'a→b');
      const gotA = collect(a, frames.length, 'b→a');
      a.enqueue(frames);
      b.enqueue(frames);
      expectFrames(await gotB, frames, 'a→b');
      expectFrames(await gotA, frames, 'b→a');
    }, TEST_MS);

    it('honours backpressure: enqueue returns false, writable follows, nothing is lost', async () => {
      const tx = 64 * 1024;
      const rx = 256 * 1024;
      const opts: ChannelOptions = { ...base, txHighWaterMark: tx, rxHighWaterMark: rx };
      const { a, b } = await h.pair(opts);
      expect(a.txHighWaterMark, 'txHighWaterMark from ChannelOptions').toBe(tx);
      const size = 16 * 1024;
      const limit = 64 * 1024 * 1024;
      const frame = (seq: number): Frame => {
        const payload = Buffer.alloc(size, seq & 0xff);
        payload.writeUInt32BE(seq, 0);
        return { type: FrameType.DATA, flags: 0, src: 5, dst: 6, seq, ack: 0, payload };
      };
      // The receiver does not dequeue. Yield to the event loop between small batches so
      // the transport really moves data and the receive side fills up.
      let sent = 0;
      let returnedFalse = false;
      let queuedAtFalse = 0;
      while (sent * size < limit && !returnedFalse) {
        for (let k = 0; k < 4 && !returnedFalse; k++) {
          if (!a.enqueue(frame(sent++))) {
            returnedFalse = true;
            queuedAtFalse = a.txQueuedBytes;
          }
        }
        if (!returnedFalse) await new Promise<void>((r) => setImmediate(r));
      }
      expect(returnedFalse, `enqueue never returned false within ${limit} bytes`).toBe(true);
      expect(queuedAtFalse, 'txQueuedBytes when enqueue returned false').toBeGreaterThanOrEqual(tx);
      const writable = nextEvent(a, 'writable', "sender after the receiver drained");
      await settle();
      expect(b.rxQueuedBytes, 'receive queue bounded by rxHighWaterMark (+1 MiB slack)').toBeLessThanOrEqual(rx + 1024 * 1024);

      const extra = 8;
      const got = collect(b, sent + extra, 'backpressured stream');
      await writable;
      for (let k = 0; k < extra; k++) a.enqueue(frame(sent + k));
      const frames = await got;
      expect(frames.length).toBe(sent + extra);
      frames.forEach((f, i) => {
        if (f.seq !== i || f.payload.length !== size || f.payload.readUInt32BE(0) !== i || f.payload[size - 1] !== (i & 0xff)) {
          expect(summary(f), `frame #${i} after backpressure`).toEqual(summary(frame(i)));
        }
      });
      expect(b.rxQueuedBytes, 'rxQueuedBytes after dequeue').toBe(0);
    }, TEST_MS);

    it('half-closes: end() delivers queued frames then end, the other way stays open', async () => {
      const { a, b } = await h.pair();
      const fromA = dataFrames(5, 100, 3000);
      const bEnded = nextEvent(b, 'end', 'b after a.end()');
      const gotB = collect(b, fromA.length, 'a→b before end');
      a.enqueue(fromA);
      a.end();
      a.end();
      await expectCode(() => a.enqueue(controlFrame(FrameType.FIN, 0, 0)), ErrorCode.CLOSED, 'enqueue after end()');
      expectFrames(await gotB, fromA, 'a→b before end');
      await bEnded;
      expect(b.dequeue(), 'dequeue after end').toEqual([]);

      const fromB = dataFrames(6, 100, 3000);
      const gotA = collect(a, fromB.length, 'b→a after a.end()');
      await sendAll(b, fromB, 'b→a after a.end()');
      expectFrames(await gotA, fromB, 'b→a after a.end()');
      expect(h.record(a).count, 'a closed before b ended').toBe(0);
      expect(h.record(b).count, 'b closed before it ended').toBe(0);

      const aEnded = nextEvent(a, 'end', 'a after b.end()');
      b.end();
      await aEnded;
      const [errA, errB] = await Promise.all([h.closed(a, 'a after both ends'), h.closed(b, 'b after both ends')]);
      expect(errA, 'close error of a').toBeUndefined();
      expect(errB, 'close error of b').toBeUndefined();
      expect(a.destroyed, 'a.destroyed after close').toBe(true);
      expect(b.destroyed, 'b.destroyed after close').toBe(true);
    }, TEST_MS);

    it('aborts: destroy() closes both ends', async () => {
      const { a, b } = await h.pair();
      const warm = dataFrames(7, 10, 100);
      const got = collect(b, warm.length, 'warm-up');
      a.enqueue(warm);
      expectFrames(await got, warm, 'warm-up');
      a.destroy();
      expect(a.destroyed, 'a.destroyed right after destroy()').toBe(true);
      await expectCode(() => a.enqueue(controlFrame(FrameType.PING, 0, 0)), ErrorCode.CLOSED, 'enqueue after destroy()');
      a.destroy();
      await h.closed(a, 'a after a.destroy()');
      await h.closed(b, 'b after peer destroy()');
      expect(b.destroyed, 'b.destroyed after close').toBe(true);
      await expectCode(() => b.enqueue(controlFrame(FrameType.PING, 0, 0)), ErrorCode.CLOSED, 'enqueue on the closed peer');
      await settle();
      expect(h.record(a).count, "'close' count of a").toBe(1);
      expect(h.record(b).count, "'close' count of b").toBe(1);
    }, TEST_MS);

    it('closes idempotently: close() twice, destroy() after close()', async () => {
      const { a, b } = await h.pair();
      const p1 = a.close();
      const p2 = a.close();
      const p3 = b.close();
      await withTimeout(Promise.all([p1, p2, p3]), WAIT_MS, 'close() of both ends');
      await withTimeout(a.close(), WAIT_MS, 'close() after closed');
      await withTimeout(b.close(), WAIT_MS, 'close() after closed');
      expect(() => a.destroy()).not.toThrow();
      expect(() => b.destroy(new Error('late'))).not.toThrow();
      a.end();
      await settle();
      expect(h.record(a).count, "'close' count of a").toBe(1);
      expect(h.record(b).count, "'close' count of b").toBe(1);
      expect(h.record(a).errors[0], 'graceful close error of a').toBeUndefined();
      expect(h.record(b).errors[0], 'graceful close error of b').toBeUndefined();
      await expectCode(() => a.enqueue(controlFrame(FrameType.PING, 0, 0)), ErrorCode.CLOSED, 'enqueue after close()');
    }, TEST_MS);

    it('runs 50 channels at once, each carrying its own frames', async () => {
      const listener = await h.listen();
      const n = 50;
      const perChannel = 20;
      const dialers = await withTimeout(
        Promise.all(Array.from({ length: n }, () => h.driver.dial(listener.address, base).then((c) => h.track(c)))),
        WAIT_MS,
        `${n} concurrent dials`,
      );
      const acceptors: Channel[] = [];
      for (let i = 0; i < n; i++) acceptors.push(await h.accepted.next(`accept #${i} of ${n}`));
      const tagged = (tag: number, seed: number): Frame[] =>
        dataFrames(seed, perChannel, 2000).map((f, k) => ({ ...f, src: tag, seq: tag * 1000 + k }));
      // dialer i → its acceptor, then the acceptor echoes the tag it saw back.
      const inbound = acceptors.map((c, i) => collect(c, perChannel, `acceptor #${i}`));
      dialers.forEach((c, i) => c.enqueue(tagged(i, 100 + i)));
      const seen = new Set<number>();
      const received = await Promise.all(inbound);
      received.forEach((frames, i) => {
        const tag = frames[0]!.src;
        expect(tag >= 0 && tag < n, `acceptor #${i} tag ${tag}`).toBe(true);
        expect(seen.has(tag), `tag ${tag} received by two channels`).toBe(false);
        seen.add(tag);
        expectFrames(frames, tagged(tag, 100 + tag), `acceptor #${i} (tag ${tag})`);
      });
      const echoes = dialers.map((c, i) => collect(c, perChannel, `dialer #${i} echo`));
      received.forEach((frames, i) => acceptors[i]!.enqueue(tagged(frames[0]!.src, 900)));
      const back = await Promise.all(echoes);
      back.forEach((frames, i) => expectFrames(frames, tagged(i, 900), `dialer #${i} echo`));
    }, TEST_MS);

    it('notices a peer that disappears; dialing a closed listener fails', async () => {
      const { a, b } = await h.pair();
      const listener = h.listener!;
      b.destroy();
      await withTimeout(listener.close(), WAIT_MS, 'listener.close()');
      await h.closed(a, 'dialer after the acceptor was destroyed');
      expect(a.destroyed, 'dialer destroyed after close').toBe(true);
      await expectCode(() => withTimeout(h.driver.dial(listener.address, base), WAIT_MS, 'dial closed listener'), ErrorCode.DIAL_FAILED, 'dial after listener.close()');
      await withTimeout(listener.close(), WAIT_MS, 'second listener.close()');
    }, TEST_MS);

    it('counts bytes and frames on both ends', async () => {
      const { a, b } = await h.pair();
      const frames = [...dataFrames(9, 200, 4000), ...controlFrames(99, 14), { ...controlFrame(FrameType.DATA, 0, 0), payload: EMPTY }];
      const wire = wireSize(frames);
      let payloadBytes = 0;
      for (const f of frames) payloadBytes += f.payload.length;
      const arrived = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timeout: b.framesReceived is ${b.framesReceived}, want ${frames.length}`)), WAIT_MS);
        const check = (): void => {
          if (b.framesReceived >= frames.length) {
            clearTimeout(timer);
            b.off('readable', check);
            resolve();
          }
        };
        b.on('readable', check);
      });
      expect(a.enqueue(frames), 'enqueue below the default high-water mark').toBe(true);
      expect(a.framesSent, 'a.framesSent').toBe(frames.length);
      expect(a.bytesSent, 'a.bytesSent (24-byte header + payload per frame)').toBe(wire);
      await arrived; // not dequeued yet
      expect(b.framesReceived, 'b.framesReceived').toBe(frames.length);
      expect(b.bytesReceived, 'b.bytesReceived').toBe(wire);
      expect(b.rxQueuedBytes, 'b.rxQueuedBytes before dequeue').toBeGreaterThanOrEqual(payloadBytes);
      expect(b.rxQueuedBytes, 'b.rxQueuedBytes before dequeue').toBeLessThanOrEqual(wire);
      const got = collect(b, frames.length, 'counted frames');
      expectFrames(await got, frames, 'counted frames');
      expect(b.rxQueuedBytes, 'b.rxQueuedBytes after dequeue').toBe(0);
      expect(b.framesSent, 'b.framesSent').toBe(0);
      expect(b.bytesSent, 'b.bytesSent').toBe(0);
      expect(a.framesReceived, 'a.framesReceived').toBe(0);
      expect(a.bytesReceived, 'a.bytesReceived').toBe(0);
      // and back
      const reply = dataFrames(10, 50, 1000);
      const gotA = collect(a, reply.length, 'reply');
      b.enqueue(reply);
      await gotA;
      expect(b.framesSent, 'b.framesSent').toBe(reply.length);
      expect(b.bytesSent, 'b.bytesSent').toBe(wireSize(reply));
      expect(a.framesReceived, 'a.framesReceived').toBe(reply.length);
      expect(a.bytesReceived, 'a.bytesReceived').toBe(wireSize(reply));
      expect(a.rxQueuedBytes, 'a.rxQueuedBytes after dequeue').toBe(0);
    }, TEST_MS);

    it('rejects malformed addresses with NETCHANNEL_ERR_INVALID_ADDRESS', async () => {
      const d = h.driver;
      const other = d.scheme === 'nc-compliance-other' ? 'nc-compliance-x' : 'nc-compliance-other';
      for (const bad of ['nonsense', '', `${other}://127.0.0.1:1`]) {
        await expectCode(() => d.validate(bad), ErrorCode.INVALID_ADDRESS, `validate(${JSON.stringify(bad)})`);
        await expectCode(() => d.dial(bad, base), ErrorCode.INVALID_ADDRESS, `dial(${JSON.stringify(bad)})`);
        await expectCode(
          async () => {
            const l = await d.listen(bad, (c) => c.destroy(), base);
            await l.close(); // should not get here; do not leak it
          },
          ErrorCode.INVALID_ADDRESS,
          `listen(${JSON.stringify(bad)})`,
        );
      }
    }, TEST_MS);
  });
}
