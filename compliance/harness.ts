/**
 * Shared machinery of the compliance suite: timed waits on channel events, frame
 * collection and sending with backpressure, frame comparison, error-code assertions,
 * and the per-test {@link Harness} (one driver, one listener, every channel seen,
 * released after the test).
 * @packageDocumentation
 */
import { createHash } from 'node:crypto';
import { expect } from 'vitest';
import type { Channel, ChannelEvents } from '../netdriver/channel.js';
import type { ChannelDriver, ChannelListener, ChannelOptions } from '../netdriver/driver.js';
import type { Frame } from '../netdriver/frame.js';
import type { ComplianceHooks, ComplianceSetup } from './hooks.js';

/** Upper bound for any single wait inside a test. */
export const WAIT_MS = 5_000;
/** Hard cap per test (vitest timeout); tests finish far below it. */
export const TEST_MS = 15_000;
/** Default `maxPayload` of {@link ChannelOptions}. */
export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

/** Rejects with `message` after `ms` unless `promise` settles first. */
export function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
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
export function nextEvent<E extends keyof ChannelEvents>(ch: Channel, event: E, what: string, ms = WAIT_MS): Promise<ChannelEvents[E]> {
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
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
  await new Promise<void>((r) => setTimeout(r, 10));
}

/**
 * Collects exactly `n` frames from `ch`: drains `dequeue()` on every `'readable'` (and
 * once at start), resolves when `n` frames arrived; rejects on timeout, or when the
 * channel ends or closes with fewer.
 */
export function collect(ch: Channel, n: number, what: string, ms = WAIT_MS): Promise<Frame[]> {
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
export async function sendAll(ch: Channel, frames: readonly Frame[], what: string, batch = 32): Promise<void> {
  for (let i = 0; i < frames.length; i += batch) {
    const ok = ch.enqueue(frames.slice(i, i + batch));
    if (!ok && i + batch < frames.length) await nextEvent(ch, 'writable', `${what}: waiting for 'writable' after enqueue returned false`);
  }
}

export function digest(b: Buffer): string {
  return createHash('sha1').update(b).digest('hex').slice(0, 16);
}

/** A comparable summary of a frame (payload by length and digest). */
export function summary(f: Frame): Record<string, unknown> {
  return { type: f.type, flags: f.flags, src: f.src, dst: f.dst, seq: f.seq, ack: f.ack, length: f.payload.length, payload: digest(f.payload) };
}

export function sameFrame(a: Frame, b: Frame): boolean {
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
export function expectFrames(got: readonly Frame[], want: readonly Frame[], what: string): void {
  expect(got.length, `${what}: frame count`).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (!sameFrame(got[i]!, want[i]!)) expect(summary(got[i]!), `${what}: frame #${i} differs`).toEqual(summary(want[i]!));
  }
}

/** Asserts that `fn` throws (or its promise rejects) with `code`. */
export async function expectCode(fn: () => unknown, code: string, what: string): Promise<void> {
  let error: unknown;
  try {
    await fn();
  } catch (err) {
    error = err;
  }
  expect(error, `${what}: expected an error with code ${code}`).toBeInstanceOf(Error);
  expect((error as { code?: unknown }).code, `${what}: error code (message: ${(error as Error).message})`).toBe(code);
}

/** Close bookkeeping attached to a channel as soon as the suite sees it. */
export interface CloseRecord {
  count: number;
  errors: (Error | undefined)[];
  closed: Promise<Error | undefined>;
}

/** Accepted channels in arrival order, with timed waits. */
export class AcceptQueue {
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
export class Harness {
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

/** What a group of compliance tests sees: the current test's harness and the suite's channel options. */
export interface SuiteContext {
  /** The harness of the running test (a fresh one per test). */
  readonly h: Harness;
  /** `ComplianceHooks.channelOptions`, passed to every dial and listen. */
  readonly base: ChannelOptions;
}
