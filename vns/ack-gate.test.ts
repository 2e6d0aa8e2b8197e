import { afterEach, describe, expect, it } from 'vitest';
import { createStack, type Stack, type StackOptions, type VirtualSocket } from '../index.js';
import { parseHostPort } from '../netdriver/address.js';
import { controlFrame, FrameFlag, FrameType, type Frame } from '../netdriver/frame.js';
import { event, within } from '../test/pair.js';
import { rawPeer, type RawPeer } from '../test/raw-peer.js';
import { AckGate, COPY_WRITES_BELOW } from './ack-gate.js';

describe('AckGate', () => {
  it('runs callbacks in order once acknowledged, immediately when already acknowledged, and with the error on drop', () => {
    const g = new AckGate();
    const log: string[] = [];
    g.wait(100, 0, () => log.push('a'));
    g.wait(200, 0, () => log.push('b'));
    g.wait(50, 60, () => log.push('now'));
    expect(log).toEqual(['now']);
    g.acked(150);
    expect(log).toEqual(['now', 'a']);
    expect(g.waiting).toBe(1);
    g.drop(new Error('gone'));
    g.wait(300, 0, (err) => log.push(`c:${err?.message ?? 'ok'}`));
    g.drop(null);
    expect(log).toEqual(['now', 'a', 'b', 'c:ok']);
    expect(g.waiting).toBe(0);
  });

  it('asks for a prompt acknowledgement on the segment that reaches each expected end', () => {
    const g = new AckGate();
    g.expect(100);
    g.expect(250);
    expect(g.reaches(60)).toBe(false);
    expect(g.reaches(120)).toBe(true);
    expect(g.reaches(200)).toBe(false);
    expect(g.reaches(400)).toBe(true);
    expect(g.reaches(500)).toBe(false);
  });

  it('serves a writer that always has one callback waiting (the queue compacts as it goes)', () => {
    const g = new AckGate();
    let done = 0;
    for (let i = 1; i <= 20_000; i++) {
      g.expect(i * 10);
      g.reaches(i * 10);
      g.wait(i * 10, (i - 1) * 10, () => done++);
      g.acked((i - 1) * 10);
      if (g.waiting !== 1) throw new Error(`waiting ${g.waiting} at ${i}`);
    }
    g.acked(1_000_000);
    expect(done).toBe(20_000);
    expect(g.waiting).toBe(0);
  });
});

const HOST = 'd4'.repeat(16);
let stacks: Stack[] = [];
const peers: RawPeer[] = [];
afterEach(() => {
  for (const p of peers.splice(0)) p.sock.destroy();
  for (const s of stacks) s.destroy();
  stacks = [];
});

/** A stack whose port-80 server hands its accepted socket out; a raw peer opens one socket (port 50001) to it. */
async function rawSocket(options: StackOptions = {}): Promise<{ peer: RawPeer; sock: VirtualSocket }> {
  // No control tick in the test's time: every CREDIT seen is one the mechanism sent.
  const server = await createStack({ scheduler: { interval: 60_000 }, ...options, listen: ['tcp://127.0.0.1:0'] });
  stacks.push(server);
  const accepted = new Promise<VirtualSocket>((resolve) => void server.listen(80).then((l) => l.once('connection', resolve)));
  const peer = await rawPeer(parseHostPort(server.addresses[0]!, 'tcp', false).port, HOST);
  peers.push(peer);
  peer.send(controlFrame(FrameType.SYNC, 50001, 80, 0, 8 << 20));
  const sock = await within(accepted, 5000, 'accepted socket');
  sock.on('error', () => {});
  return { peer, sock };
}

const dataFrames = (fs: Frame[]) => fs.filter((f) => f.type === FrameType.DATA);
const sentBytes = (fs: Frame[]) => dataFrames(fs).reduce((n, f) => n + f.payload.length, 0);
const ack = (seq: number): Frame => controlFrame(FrameType.CREDIT, 50001, 80, seq, seq + (8 << 20));
/** Lets pending I/O and immediates run (not a timing assumption: the peer has sent nothing). */
const settle = () => new Promise((r) => setTimeout(r, 20));

describe('ack-gated write callbacks (no copy of large writes)', () => {
  it(`a write of ${COPY_WRITES_BELOW / 1024} KiB or more is sent from the caller's Buffer, flagged ACK_NOW at its end, and called back only once acknowledged`, async () => {
    const { peer, sock } = await rawSocket();
    const size = 2 * COPY_WRITES_BELOW;
    const buf = Buffer.alloc(size, 7);
    let called = 0;
    sock.write(buf, () => called++);
    await peer.until((fs) => sentBytes(fs) === size, 5000, 'all DATA');
    const segs = dataFrames(peer.frames);
    expect(segs.at(-1)!.flags & FrameFlag.ACK_NOW).toBe(FrameFlag.ACK_NOW);
    expect(segs.slice(0, -1).every((f) => (f.flags & FrameFlag.ACK_NOW) === 0)).toBe(true);
    await settle();
    expect(called).toBe(0); // sent, but not acknowledged
    expect(sock.retainedBytes).toBe(size);
    peer.send(ack(size - 1)); // all but the last byte: not enough
    await settle();
    expect(called).toBe(0);
    peer.send(ack(size));
    await within(
      (async () => {
        while (called === 0) await new Promise((r) => setTimeout(r, 2));
      })(),
      5000,
      'write callback after the acknowledgement',
    );
    expect(called).toBe(1);
    expect(sock.retainedBytes).toBe(0);
  });

  it('flags the segment at the end of each gated write, also behind a string write and a full send buffer, and calls back in order', async () => {
    const { peer, sock } = await rawSocket({ sendBuffer: COPY_WRITES_BELOW });
    const order: string[] = [];
    let bothCalled: () => void = () => {};
    const both = new Promise<void>((resolve) => (bothCalled = resolve));
    sock.write('abc');
    sock.write(Buffer.alloc(COPY_WRITES_BELOW, 1), () => order.push('a'));
    // The send buffer is full with a's bytes: b waits in the Writable until a is acknowledged.
    sock.write(Buffer.alloc(COPY_WRITES_BELOW, 2), () => {
      order.push('b');
      bothCalled();
    });
    const ends = () => dataFrames(peer.frames).filter((f) => (f.flags & FrameFlag.ACK_NOW) !== 0).map((f) => f.seq + f.payload.length);
    await peer.until((fs) => sentBytes(fs) === 3 + COPY_WRITES_BELOW, 5000, 'a sent');
    expect(ends()).toEqual([3 + COPY_WRITES_BELOW]);
    peer.send(ack(3 + COPY_WRITES_BELOW));
    await peer.until((fs) => sentBytes(fs) === 3 + 2 * COPY_WRITES_BELOW, 5000, 'b sent');
    expect(ends()).toEqual([3 + COPY_WRITES_BELOW, 3 + 2 * COPY_WRITES_BELOW]);
    peer.send(ack(3 + 2 * COPY_WRITES_BELOW));
    await within(both, 5000, 'both callbacks');
    expect(order).toEqual(['a', 'b']);
  });

  it('a smaller write is copied and called back once sent, without an acknowledgement', async () => {
    const { peer, sock } = await rawSocket();
    const buf = Buffer.alloc(COPY_WRITES_BELOW - 1, 3);
    await within(new Promise<void>((r) => sock.write(buf, () => r())), 5000, 'callback of a small write');
    buf.fill(9); // reuse before any acknowledgement
    await peer.until((fs) => sentBytes(fs) === buf.length, 5000, 'all DATA');
    expect(dataFrames(peer.frames).every((f) => f.payload.every((b) => b === 3))).toBe(true);
    expect(dataFrames(peer.frames).every((f) => (f.flags & FrameFlag.ACK_NOW) === 0)).toBe(true);
  });

  it('with zeroCopyWrites the callback does not wait for the acknowledgement', async () => {
    const { peer, sock } = await rawSocket({ zeroCopyWrites: true });
    await within(new Promise<void>((r) => sock.write(Buffer.alloc(4 * COPY_WRITES_BELOW), () => r())), 5000, 'callback without acknowledgement');
    await peer.until((fs) => sentBytes(fs) === 4 * COPY_WRITES_BELOW, 5000, 'all DATA');
    expect(dataFrames(peer.frames).every((f) => (f.flags & FrameFlag.ACK_NOW) === 0)).toBe(true);
  });

  it('a waiting callback gets the error when the peer resets the socket, and NETCHANNEL_ERR_TIMEOUT when the linger timeout runs out', async () => {
    const { peer, sock } = await rawSocket({ lingerTimeout: 50 });
    const reset = new Promise<Error | null | undefined>((r) => sock.write(Buffer.alloc(COPY_WRITES_BELOW), r));
    await peer.until((fs) => sentBytes(fs) === COPY_WRITES_BELOW, 5000, 'all DATA');
    peer.send(controlFrame(FrameType.RST, 50001, 80, 0, 1));
    expect(await within(reset, 5000, 'callback after RST')).toMatchObject({ code: 'NETCHANNEL_ERR_CONNECTION_RESET' });

    const second = await rawSocket({ lingerTimeout: 50 });
    const lingered = new Promise<Error | null | undefined>((r) => second.sock.write(Buffer.alloc(COPY_WRITES_BELOW), r));
    await second.peer.until((fs) => sentBytes(fs) === COPY_WRITES_BELOW, 5000, 'all DATA');
    second.sock.destroy(); // FIN, then lingers for the acknowledgement that never comes
    const err = await within(lingered, 5000, 'callback after the linger timeout');
    expect(err).toMatchObject({ code: 'NETCHANNEL_ERR_TIMEOUT', message: expect.stringContaining('lingerTimeout') });
  });

  it('the receiver acknowledges an ACK_NOW segment as soon as everything up to it arrived in order (not before, not on other segments)', async () => {
    const { peer, sock } = await rawSocket();
    sock.resume();
    const seg = (seq: number, n: number, flags = 0): Frame => ({ ...controlFrame(FrameType.DATA, 50001, 80, seq, 0, flags), payload: Buffer.alloc(n, 1) });
    const credits = () => peer.frames.filter((f) => f.type === FrameType.CREDIT);
    peer.send(seg(0, 1000), seg(2000, 1000, FrameFlag.ACK_NOW)); // the flagged one is out of order
    peer.send(seg(1000, 1000)); // fills the gap
    await peer.until(() => credits().length > 0, 5000, 'CREDIT');
    expect(credits()[0]!.seq).toBe(3000);
    const ended = event(sock, 'data', 5000);
    peer.send(seg(3000, 10, FrameFlag.ACK_NOW), seg(3000, 10, FrameFlag.ACK_NOW)); // and its duplicate: acknowledged again
    await ended;
    await peer.until(() => credits().length >= 3, 5000, 'CREDIT for the segment and its duplicate');
    expect(credits().slice(1).map((f) => f.seq)).toEqual([3010, 3010]);
  });
});
