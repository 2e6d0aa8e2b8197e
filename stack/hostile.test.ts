import { afterEach, describe, expect, it } from 'vitest';
import { createStack, type Stack, type StackEvent, type StackOptions, type VirtualSocket } from '../index.js';
import { parseHostPort } from '../netdriver/address.js';
import { controlFrame, FrameType, ResetReason, type Frame } from '../netdriver/frame.js';
import { COPY_WRITES_BELOW } from '../vns/ack-gate.js';
import { MAX_GRANT } from '../vns/seq.js';
import { event, within } from '../test/pair.js';
import { helloBytes, rawConnection, rawPeer, type RawPeer } from '../test/raw-peer.js';

const A = 'a1'.repeat(16);
const B = 'b2'.repeat(16);
const C = 'c3'.repeat(16);
let stacks: Stack[] = [];
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
  // destroy, not close: a victim cannot drain what it holds for a peer that never acknowledges.
  for (const s of stacks) s.destroy();
  stacks = [];
});

async function stack(options: StackOptions = {}): Promise<Stack> {
  const s = await createStack(options);
  stacks.push(s);
  return s;
}

/** A victim stack with an echo service on port 80 (accepted sockets recorded) and a healthy client socket to it. */
async function victim(options: StackOptions = {}) {
  const server = await stack({ ...options, listen: ['tcp://127.0.0.1:0'] });
  const accepted: VirtualSocket[] = [];
  (await server.listen(80)).on('connection', (s: VirtualSocket) => {
    accepted.push(s);
    s.on('error', () => {});
    s.pipe(s);
  });
  const client = await stack({ channels: { throughput: 1, latency: 0 } });
  const good = await client.connect(server.addresses[0]!, 80);
  const events: StackEvent[] = [];
  server.events$.subscribe((e) => events.push(e));
  const port = parseHostPort(server.addresses[0]!, 'tcp', false).port;
  const attack = async (hostId: string): Promise<RawPeer> => {
    const p = await rawPeer(port, hostId);
    cleanups.push(() => p.sock.destroy());
    return p;
  };
  const limitHits = (limit: string) => events.filter((e) => e.type === 'limit-hit' && e.limit === limit).length;
  /** Opens a socket from `p` (SYNC from port `src` granting `grant`); resolves with the victim's side of it. */
  const open = async (p: RawPeer, src: number, grant = 1 << 20): Promise<VirtualSocket> => {
    const n = accepted.length;
    p.send(sync(src, 80, grant));
    await p.until((fs) => fs.some((f) => f.type === FrameType.SYNC_ACK && f.dst === src), 5000, 'SYNC_ACK');
    expect(accepted.length).toBe(n + 1);
    return accepted.at(-1)!;
  };
  return { server, client, good, events, port, accepted, attack, limitHits, open };
}

/** Polls `pred` every 5 ms until it holds; fails naming `what` after `ms`. */
function waitUntil(pred: () => boolean, what: string, ms = 5000): Promise<void> {
  return within(
    (async () => {
      while (!pred()) await new Promise((r) => setTimeout(r, 5));
    })(),
    ms,
    what,
  );
}

/** The healthy socket still echoes. */
async function stillWorks(good: VirtualSocket): Promise<void> {
  const got = new Promise<Buffer>((resolve) => good.once('data', resolve));
  good.write('ping');
  expect((await within(got, 5000, 'healthy socket echo')).toString()).toBe('ping');
}

const sync = (src: number, dst: number, grant: number): Frame => controlFrame(FrameType.SYNC, src, dst, 0, grant);
const data = (src: number, dst: number, seq: number, n: number): Frame => ({ ...controlFrame(FrameType.DATA, src, dst, seq), payload: Buffer.alloc(n, 1) });
const rst = (reason: number, dst?: number) => (fs: Frame[]) => fs.some((f) => f.type === FrameType.RST && f.ack === reason && (dst === undefined || f.dst === dst));
const count = (fs: Frame[], type: number, reason?: number) => fs.filter((f) => f.type === type && (reason === undefined || f.ack === reason)).length;

describe('send buffer: a peer that never acknowledges', () => {
  it('retention stays within sendBuffer (plus one write), the writer is paced, and other sockets are unaffected', async () => {
    const sendBuffer = 256 * 1024;
    const v = await victim({ window: 64 * 1024, sendBuffer, scheduler: { holExpansion: 0 } });
    const a = await v.attack(A);
    const echo = await v.open(a, 50000, MAX_GRANT); // the largest grant allowed: the echo may send 512 MiB
    // Send as much as the victim grants, never acknowledging anything it echoes.
    let sent = 0;
    let maxRetained = 0;
    const grant = (): number => Math.max(64 * 1024, ...a.frames.filter((f) => f.type === FrameType.CREDIT && f.dst === 50000).map((f) => f.ack));
    let idle = 0;
    while (sent < 8 << 20 && idle < 100) {
      const n = Math.min(16 * 1024, grant() - sent);
      if (n > 0) {
        a.send(data(50000, 80, sent, n));
        sent += n;
        idle = 0;
      } else idle++;
      await new Promise((r) => setTimeout(r, 2));
      maxRetained = Math.max(maxRetained, echo.retainedBytes);
    }
    expect(sent).toBeLessThan(8 << 20); // the victim stopped reading: it is paced, not buffering
    expect(maxRetained).toBeGreaterThan(sendBuffer / 2); // the bound was reached, not trivially met
    expect(maxRetained).toBeLessThanOrEqual(sendBuffer + 64 * 1024);
    expect(echo.destroyed).toBe(false);
    await stillWorks(v.good);
  }, 30_000);

  it('write() returns false beyond sendBuffer and the callback waits for an acknowledgement (delayed ack on the control tick)', async () => {
    // The receiver acknowledges every quarter window (1 MiB) or on its control tick (driven by hand here).
    const v = await victim({ scheduler: { interval: 60_000 } });
    const srv = await v.server.listen(81);
    const got = event<[VirtualSocket]>(srv, 'connection');
    const s = await v.client.connect(v.server.addresses[0]!, 81, { sendBuffer: 16 * 1024 });
    await got;
    let called = 0;
    const drained = event(s, 'drain', 5000);
    // Under COPY_WRITES_BELOW, so copied: its callback is paced by the send buffer only
    // (larger writes wait for their own acknowledgement, see vns/ack-gate.test.ts).
    const size = COPY_WRITES_BELOW - 1;
    expect(s.write(Buffer.alloc(size), () => called++)).toBe(false);
    await new Promise((r) => setTimeout(r, 100));
    expect(called).toBe(0); // everything is sent, but ~64 KiB unacknowledged is over the 16 KiB send buffer
    expect(s.retainedBytes).toBe(size);
    v.server.control.tick(); // the receiver's delayed acknowledgement
    await drained;
    expect(called).toBe(1);
    expect(s.retainedBytes).toBe(0);
    await expect(v.client.connect(v.server.addresses[0]!, 81, { sendBuffer: 10 })).rejects.toMatchObject({ code: 'NETCHANNEL_ERR_INVALID_ARG', message: expect.stringContaining('10') });
  });
});

describe('grants are capped at MAX_GRANT (the largest receive window)', () => {
  it('a SYNC granting more than MAX_GRANT, or 2^32-1, is refused with RST PROTOCOL; MAX_GRANT itself is accepted', async () => {
    const v = await victim();
    const a = await v.attack(A);
    a.send(sync(50001, 80, MAX_GRANT + 1), sync(50002, 80, 0xffffffff), sync(50003, 80, MAX_GRANT));
    await a.until(rst(ResetReason.PROTOCOL, 50002), 5000, 'RST PROTOCOL');
    await a.until((fs) => fs.some((f) => f.type === FrameType.SYNC_ACK && f.dst === 50003), 5000, 'SYNC_ACK');
    expect(a.frames.some((f) => f.type === FrameType.RST && f.dst === 50001 && f.ack === ResetReason.PROTOCOL)).toBe(true);
    expect(v.accepted).toHaveLength(2); // the healthy one and 50003
    await stillWorks(v.good);
  });

  it('a CREDIT granting more than MAX_GRANT past its acknowledgement resets that socket (RST PROTOCOL, NETCHANNEL_ERR_PROTOCOL)', async () => {
    const v = await victim();
    const a = await v.attack(A);
    const sock = await v.open(a, 50004, 4096);
    const err = event<[Error & { code: string }]>(sock, 'error');
    a.send(controlFrame(FrameType.CREDIT, 50004, 80, 0, MAX_GRANT + 1));
    expect((await err)[0].code).toBe('NETCHANNEL_ERR_PROTOCOL');
    await a.until(rst(ResetReason.PROTOCOL, 50004), 5000, 'RST PROTOCOL');
    await stillWorks(v.good);
  });
});

describe('handshake fairness', () => {
  it('slowloris: with 200 slow or silent HELLOs pending, a legitimate peer still connects within 1 s', async () => {
    const v = await victim();
    const slow = await Promise.all(Array.from({ length: 200 }, () => rawConnection(v.port)));
    const hello = helloBytes(C);
    let k = 0;
    const drip = setInterval(() => {
      k++;
      for (let i = 0; i < slow.length; i += 2) if (!slow[i]!.destroyed && k < hello.length) slow[i]!.write(hello.subarray(k - 1, k));
    }, 500);
    cleanups.push(() => {
      clearInterval(drip);
      for (const s of slow) s.destroy();
    });
    const t0 = performance.now();
    const legit = await stack();
    const sock = await legit.connect(v.server.addresses[0]!, 80);
    const ms = performance.now() - t0;
    expect(ms).toBeLessThan(1000);
    const echoed = new Promise<Buffer>((r) => sock.once('data', r));
    sock.write('hello');
    expect((await within(echoed, 2000, 'legit echo')).toString()).toBe('hello');
    expect(v.limitHits('maxPendingHandshakes') + v.limitHits('maxPendingHandshakesPerIp')).toBeGreaterThan(0);
    expect(v.events.some((e) => e.type === 'channel-rejected' && e.code === 'NETCHANNEL_ERR_LIMIT')).toBe(true);
    await stillWorks(v.good);
  }, 20_000);

  it('when every handshake slot (overall or of one IP) is taken, the oldest pending handshake is dropped, not the newcomer', async () => {
    for (const options of [{ maxPendingHandshakes: 2 }, { maxPendingHandshakesPerIp: 2 }]) {
      const v = await victim(options);
      const conns: Awaited<ReturnType<typeof rawConnection>>[] = [];
      for (let i = 0; i < 3; i++) {
        conns.push(await rawConnection(v.port));
        await new Promise((r) => setTimeout(r, 20)); // accepted in this order
      }
      cleanups.push(() => conns.forEach((c) => c.destroy()));
      await waitUntil(() => conns[0]!.closed, 'oldest dropped', 3000);
      await new Promise((r) => setTimeout(r, 50));
      expect(conns.map((c) => c.destroyed || c.closed)).toEqual([true, false, false]);
      const limit = 'maxPendingHandshakes' in options ? 'maxPendingHandshakes' : 'maxPendingHandshakesPerIp';
      expect(v.limitHits(limit)).toBe(1);
    }
  });

  it('a channel silent past handshakeFirstByteTimeout, or slow past helloTimeout, is dropped (limit-hit, NETCHANNEL_ERR_HANDSHAKE)', async () => {
    const v = await victim({ handshakeFirstByteTimeout: 100, helloTimeout: 400 });
    const silent = await rawConnection(v.port);
    const dribbler = await rawConnection(v.port);
    cleanups.push(() => {
      silent.destroy();
      dribbler.destroy();
    });
    const t0 = performance.now();
    dribbler.write(helloBytes(C).subarray(0, 3)); // a first byte in time, then nothing
    await within(new Promise((r) => silent.once('close', r)), 3000, 'silent channel dropped');
    const tSilent = performance.now() - t0;
    await within(new Promise((r) => dribbler.once('close', r)), 3000, 'slow channel dropped');
    const tSlow = performance.now() - t0;
    expect(tSilent).toBeGreaterThanOrEqual(90);
    expect(tSlow).toBeGreaterThanOrEqual(390);
    expect(v.limitHits('handshakeFirstByteTimeout')).toBe(1);
    expect(v.limitHits('helloTimeout')).toBe(1);
    expect(v.events.filter((e) => e.type === 'channel-rejected' && e.code === 'NETCHANNEL_ERR_HANDSHAKE')).toHaveLength(2);
    await stillWorks(v.good);
  });
});

describe('limits above the peer (host ids are free without auth)', () => {
  it('3 host ids from one IP cannot exceed maxSessionsPerIp nor maxSocketsPerIp', async () => {
    // The healthy client is a session and a socket from 127.0.0.1 too.
    const v = await victim({ maxSessionsPerIp: 3, maxSocketsPerIp: 6 });
    const a = await v.attack(A);
    const b = await v.attack(B);
    await expect(v.attack(C)).rejects.toThrow(/HELLO reply|closed/);
    await waitUntil(() => v.events.some((e) => e.type === 'channel-rejected' && e.code === 'NETCHANNEL_ERR_LIMIT' && e.peer === C), 'third host id refused');
    expect(v.limitHits('maxSessionsPerIp')).toBe(1);
    for (let i = 0; i < 3; i++) a.send(sync(50010 + i, 80, 4096));
    for (let i = 0; i < 3; i++) b.send(sync(50020 + i, 80, 4096));
    await b.until(rst(ResetReason.LIMIT), 5000, 'RST LIMIT');
    await a.until((fs) => count(fs, FrameType.SYNC_ACK) === 3, 5000, 'A accepted');
    expect(count(b.frames, FrameType.SYNC_ACK)).toBe(2);
    expect(count(b.frames, FrameType.RST, ResetReason.LIMIT)).toBe(1);
    expect(v.accepted).toHaveLength(6);
    expect(v.limitHits('maxSocketsPerIp')).toBe(1);
    await stillWorks(v.good);
  });

  it('maxPeers refuses a new host id; maxSockets counts every peer together (RST LIMIT, metric)', async () => {
    const v = await victim({ maxPeers: 3, maxSockets: 4 });
    const a = await v.attack(A);
    const b = await v.attack(B);
    await expect(v.attack(C)).rejects.toThrow(/HELLO reply|closed/);
    await waitUntil(() => v.limitHits('maxPeers') >= 1, 'maxPeers hit');
    for (let i = 0; i < 3; i++) a.send(sync(50030 + i, 80, 4096));
    await a.until((fs) => count(fs, FrameType.SYNC_ACK) + count(fs, FrameType.RST) === 3, 5000, 'A answered');
    for (let i = 0; i < 3; i++) b.send(sync(50040 + i, 80, 4096));
    await b.until((fs) => count(fs, FrameType.RST, ResetReason.LIMIT) === 3, 5000, 'B refused');
    expect(count(a.frames, FrameType.SYNC_ACK)).toBe(3);
    expect(v.accepted).toHaveLength(4);
    expect(await v.server.registry.getSingleMetricAsString('netchannel_limit_hits_total')).toMatch(/limit="maxSockets"} 3/);
    await stillWorks(v.good);
  });

  it('one-byte out-of-order segments are charged their overhead: a few hundred of them, not 64 Ki, reach a 64 KiB limit', async () => {
    const v = await victim({ maxReorderBytesPerPeer: 64 * 1024 });
    const a = await v.attack(A);
    const a1 = await v.open(a, 50070);
    const err = event<[Error & { code: string }]>(a1, 'error');
    // 1,000 held bytes, each its own segment (offsets 2, 4, 6, …; byte 0 is missing).
    a.send(...Array.from({ length: 1000 }, (_, i) => data(50070, 80, 2 + 2 * i, 1)));
    expect((await err)[0].code).toBe('NETCHANNEL_ERR_LIMIT');
    await a.until(rst(ResetReason.LIMIT, 50070), 5000, 'RST LIMIT');
    expect(v.limitHits('maxReorderBytesPerPeer')).toBe(1);
    await stillWorks(v.good);
  });

  it('maxReorderBytes across peers: the newest peer is refused on a tie; otherwise the peer holding the most is reset', async () => {
    const v = await victim({ maxReorderBytes: 100 * 1024 });
    const a = await v.attack(A);
    const b = await v.attack(B);
    const a1 = await v.open(a, 50050);
    const b1 = await v.open(b, 50060);
    a.send(data(50050, 80, 1, 60 * 1024)); // held: byte 0 is missing
    // Charged: its bytes plus 256 for the held segment (SEGMENT_OVERHEAD).
    await waitUntil(() => a1.reorderBytes === 60 * 1024 + 256, 'A holds 60 KiB out of order');
    const bErr = event<[Error & { code: string }]>(b1, 'error');
    b.send(data(50060, 80, 1, 60 * 1024)); // a tie at 60 KiB each: B, the newer peer, is refused
    expect((await bErr)[0].code).toBe('NETCHANNEL_ERR_LIMIT');
    await b.until(rst(ResetReason.LIMIT, 50060), 5000, 'RST LIMIT to B');
    expect(a1.destroyed).toBe(false);
    // Now A holds the most: a newcomer's charge under its share resets A's largest socket instead.
    const b2 = await v.open(b, 50061);
    const aErr = event<[Error & { code: string }]>(a1, 'error');
    b.send(data(50061, 80, 1, 50 * 1024));
    expect((await aErr)[0].code).toBe('NETCHANNEL_ERR_LIMIT');
    await a.until(rst(ResetReason.LIMIT, 50050), 5000, 'RST LIMIT to A');
    expect(b2.destroyed).toBe(false);
    expect(v.limitHits('maxReorderBytes')).toBe(2);
    await stillWorks(v.good);
  });

  it('memoryBudget: send retention to a peer that never acknowledges is reclaimed from that peer, not from others', async () => {
    const v = await victim({ memoryBudget: 1024 * 1024, sendBuffer: 1024 * 1024, window: 1024 * 1024 });
    const a = await v.attack(A);
    a.send(sync(50070, 80, MAX_GRANT), sync(50071, 80, MAX_GRANT));
    await a.until((fs) => count(fs, FrameType.SYNC_ACK) === 2, 5000, 'SYNC_ACKs');
    // Each echo retains what it sends back; together they pass the 1 MiB budget.
    for (let off = 0; off < 768 * 1024; off += 64 * 1024) a.send(data(50070, 80, off, 64 * 1024), data(50071, 80, off, 64 * 1024));
    await a.until(rst(ResetReason.LIMIT), 5000, 'RST LIMIT');
    expect(v.limitHits('memoryBudget')).toBeGreaterThanOrEqual(1);
    const budget = v.server.peers.reduce((n, p) => n + p.budgetBytes, 0);
    expect(budget).toBeLessThanOrEqual(1024 * 1024 + 64 * 1024);
    await stillWorks(v.good);
  });

  it('every new option is validated with NETCHANNEL_ERR_INVALID_ARG naming the value', async () => {
    const bad: Array<[keyof StackOptions, unknown]> = [
      ['sendBuffer', 10],
      ['maxPeers', 0],
      ['maxSessionsPerIp', -1],
      ['maxSockets', 1.5],
      ['maxSocketsPerIp', 'many'],
      ['maxReorderBytes', 1],
      ['memoryBudget', 1000],
      ['maxPendingHandshakesPerIp', 0],
      ['handshakeFirstByteTimeout', 0],
      ['helloTimeout', -5],
    ];
    for (const [name, value] of bad) {
      await expect(createStack({ [name]: value } as StackOptions)).rejects.toMatchObject({
        code: 'NETCHANNEL_ERR_INVALID_ARG',
        message: expect.stringContaining(`options.${name} must be`) && expect.stringContaining(JSON.stringify(value)),
      });
    }
  });
});

describe('doc and decoder agree', () => {
  it('a FIN beyond the granted offset (2^31-1) resets the socket with RST PROTOCOL instead of being recorded', async () => {
    const v = await victim();
    const a = await v.attack(A);
    const sock = await v.open(a, 50080, 4096);
    const err = event<[Error & { code: string }]>(sock, 'error');
    a.send(controlFrame(FrameType.FIN, 50080, 80, 0x7fffffff));
    expect((await err)[0].code).toBe('NETCHANNEL_ERR_PROTOCOL');
    await a.until(rst(ResetReason.PROTOCOL, 50080), 5000, 'RST PROTOCOL');
  });

  it('a SYNC to virtual port 0 is answered with RST PROTOCOL (not REFUSED)', async () => {
    const v = await victim();
    const a = await v.attack(A);
    a.send(sync(50090, 0, 4096));
    await a.until(rst(ResetReason.PROTOCOL, 50090), 5000, 'RST PROTOCOL');
    expect(count(a.frames, FrameType.RST, ResetReason.REFUSED)).toBe(0);
  });

  it('a BYE is answered with BYE at once, before the peer ends its transport', async () => {
    const v = await victim();
    const a = await v.attack(A);
    const ended = new Promise<void>((r) => a.sock.once('end', () => r()));
    a.send(controlFrame(FrameType.BYE, 0, 0));
    await a.until((fs) => fs.some((f) => f.type === FrameType.BYE), 1000, 'BYE answer');
    await within(ended, 1000, 'victim ends its side');
    a.sock.end();
    await within(a.closed, 2000, 'closed');
    await waitUntil(() => v.events.some((e) => e.type === 'channel-removed' && e.peer === A), 'channel removed', 2000);
    expect(v.events.find((e) => e.type === 'channel-removed' && e.peer === A)).toMatchObject({ reason: 'closed' });
    await stillWorks(v.good);
  });
});
