import { afterEach, describe, expect, it } from 'vitest';
import { createStack, type Stack, type VirtualSocket } from '../index.js';
import type { Channel } from '../netdriver/channel.js';
import { controlFrame, FrameType, ResetReason, type Frame } from '../netdriver/frame.js';
import net from 'node:net';
import { parseHostPort } from '../netdriver/address.js';
import { encodeFrame } from '../netdriver/codec.js';
import { encodeHello, helloAsDialer } from '../netdriver/hello.js';
import { MemoryNetwork, memory } from '../transports/memory/index.js';
import { event, readAll, within } from '../test/pair.js';

const PEER_ID = 'ab'.repeat(16);
let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

/** Dials the stack with a raw channel and completes the HELLO by hand. */
async function rawChannel(network: MemoryNetwork, address: string): Promise<Channel> {
  const driver = memory({ network })({ hostId: PEER_ID });
  const ch = await driver.dial(address);
  await helloAsDialer(ch, { hostId: PEER_ID, appClass: 'throughput', index: 0 }, 2000);
  return ch;
}

/** Resolves with the next frame matching `pred`. */
function nextFrame(ch: Channel, pred: (f: Frame) => boolean): Promise<Frame> {
  return within(
    new Promise<Frame>((resolve) => {
      const onReadable = (): void => {
        for (const f of ch.dequeue()) {
          if (pred(f)) {
            ch.off('readable', onReadable);
            resolve(f);
            return;
          }
        }
      };
      ch.on('readable', onReadable);
    }),
    5000,
    'frame',
  );
}

describe('virtual-socket protocol at the receiver', () => {
  it('resets a socket whose peer sends beyond its credit, and keeps the channel', async () => {
    const network = new MemoryNetwork();
    stack = await createStack({ transports: [memory({ network })], listen: ['memory://p'], window: 4096 });
    const server = await stack.listen(80);
    const accepted = event<[VirtualSocket]>(server, 'connection');
    const ch = await rawChannel(network, stack.addresses[0]!);
    const synAck = nextFrame(ch, (f) => f.type === FrameType.SYNC_ACK);
    ch.enqueue(controlFrame(FrameType.SYNC, 50000, 80, 0, 1 << 20));
    expect((await synAck).ack).toBe(4096); // the stack grants its window
    const [sock] = await accepted;
    const err = event<[Error & { code: string }]>(sock, 'error');
    const rst = nextFrame(ch, (f) => f.type === FrameType.RST);
    ch.enqueue({ type: FrameType.DATA, flags: 0, src: 50000, dst: 80, seq: 0, ack: 0, payload: Buffer.alloc(5000) });
    expect((await rst).ack).toBe(ResetReason.PROTOCOL);
    expect((await err)[0].code).toBe('NETCHANNEL_ERR_PROTOCOL');
    expect(ch.destroyed).toBe(false);
    // Data for a port nobody has is answered with RST, not a crash.
    const rst2 = nextFrame(ch, (f) => f.type === FrameType.RST && f.dst === 50001);
    ch.enqueue({ type: FrameType.DATA, flags: 0, src: 50001, dst: 80, seq: 0, ack: 0, payload: Buffer.alloc(10) });
    expect((await rst2).ack).toBe(ResetReason.UNKNOWN);
    ch.destroy();
  });

  it('ports: SYNC must come from 49152-65535 to 1-49151; ports outside 1-65535 are a protocol error', async () => {
    const network = new MemoryNetwork();
    stack = await createStack({ transports: [memory({ network })], listen: ['memory://ports'] });
    const server = await stack.listen(80);
    let accepted = 0;
    server.on('connection', () => accepted++);
    const ch = await rawChannel(network, stack.addresses[0]!);
    const cases: Array<[number, number]> = [
      [70000, 80], // src above 65535
      [1000, 80], // src not ephemeral
      [50000, 49152], // dst not a listening port
      [50000, 0x10050], // dst above 65535
    ];
    for (const [src, dst] of cases) {
      const rst = nextFrame(ch, (f) => f.type === FrameType.RST && f.dst === src);
      ch.enqueue(controlFrame(FrameType.SYNC, src, dst, 0, 4096));
      expect((await rst).ack).toBe(ResetReason.PROTOCOL);
    }
    const rstData = nextFrame(ch, (f) => f.type === FrameType.RST && f.dst === 0x20000);
    ch.enqueue({ type: FrameType.DATA, flags: 0, src: 0x20000, dst: 80, seq: 0, ack: 0, payload: Buffer.alloc(3) });
    expect((await rstData).ack).toBe(ResetReason.PROTOCOL);
    const ok = nextFrame(ch, (f) => f.type === FrameType.SYNC_ACK && f.dst === 65535);
    ch.enqueue(controlFrame(FrameType.SYNC, 65535, 80, 0, 4096));
    await ok;
    expect(accepted).toBe(1);
    ch.destroy();
  });

  it('a destroyed socket acknowledges the peer FIN when nothing was lost, and answers later data with RST', async () => {
    const network = new MemoryNetwork();
    stack = await createStack({ transports: [memory({ network })], listen: ['memory://linger'] });
    const server = await stack.listen(80);
    const accepted = event<[VirtualSocket]>(server, 'connection');
    const ch = await rawChannel(network, stack.addresses[0]!);
    ch.enqueue(controlFrame(FrameType.SYNC, 50000, 80, 0, 1 << 20));
    const [sock] = await accepted;
    sock.write('x');
    // Graceful destroy: a FIN after the data, no RST.
    const fin = nextFrame(ch, (f) => f.type === FrameType.FIN || f.type === FrameType.RST);
    sock.destroy();
    const f1 = await fin;
    expect(f1.type).toBe(FrameType.FIN);
    expect(f1.seq).toBe(1);
    // The peer's FIN (nothing sent before it) is acknowledged with FIN_SEEN…
    const seen = nextFrame(ch, (f) => f.type === FrameType.CREDIT);
    ch.enqueue(controlFrame(FrameType.FIN, 50000, 80, 0));
    expect((await seen).flags & 0x08).toBe(0x08);
    // …but data sent after our close is discarded and answered with RST.
    const rst = nextFrame(ch, (f) => f.type === FrameType.RST);
    ch.enqueue({ type: FrameType.DATA, flags: 0, src: 50000, dst: 80, seq: 0, ack: 0, payload: Buffer.from('late') });
    expect((await rst).ack).toBe(ResetReason.RESET);
    ch.destroy();
  });

  it('a malformed frame object closes only the channel it came on (memory transport)', async () => {
    const network = new MemoryNetwork();
    const transports = [memory({ network })];
    stack = await createStack({ transports, listen: ['memory://q'] });
    const client = await createStack({ transports, channels: { throughput: 2, latency: 0 } });
    try {
      const server = await stack.listen(80);
      server.on('connection', (s) => s.pipe(s));
      const good = await client.connect(stack.addresses[0]!, 80);
      const bad = await rawChannel(network, stack.addresses[0]!);
      const closed = within(new Promise((r) => bad.once('close', r)), 5000, 'bad channel closed');
      // A frame header with an unknown type (0x7f).
      bad.enqueue({ type: 0x7f as never, flags: 0, src: 1, dst: 2, seq: 0, ack: 0, payload: Buffer.alloc(0) });
      await closed;
      const session = [...stack.peers.values()].find((s) => s.remoteHostId === client.hostId)!;
      expect(session.device.channels).toHaveLength(2);
      const echoed = readAll(good);
      good.end('still here');
      expect((await within(echoed, 5000, 'echo')).toString()).toBe('still here');
    } finally {
      await client.close();
    }
  });
});

describe('malformed bytes on a TCP channel', () => {
  it('close that channel only; sockets on other channels keep working', async () => {
    stack = await createStack({ listen: ['tcp://127.0.0.1:0'] });
    const client = await createStack({ channels: { throughput: 2, latency: 0 } });
    try {
      const server = await stack.listen(80);
      server.on('connection', (s) => s.pipe(s));
      const good = await client.connect(stack.addresses[0]!, 80);
      const { port } = parseHostPort(stack.addresses[0]!, 'tcp', false);
      const raw = net.connect({ host: '127.0.0.1', port });
      await event(raw, 'connect');
      const hello = encodeFrame(encodeHello({ hostId: PEER_ID, appClass: 'throughput', index: 0 }, false));
      raw.write(hello);
      await event(raw, 'data'); // the stack's HELLO reply
      raw.on('error', () => {}); // the stack resets the connection: ECONNRESET is expected
      const closed = within(new Promise((r) => raw.once('close', r)), 5000, 'bad channel closed');
      raw.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\nthis is not a frame at all'));
      await closed;
      const echoed = readAll(good);
      good.end('unaffected');
      expect((await within(echoed, 5000, 'echo')).toString()).toBe('unaffected');
    } finally {
      await client.close();
    }
  });
});
