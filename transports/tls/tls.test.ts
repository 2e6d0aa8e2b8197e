import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { channelDriverCompliance } from '../../compliance/index.js';
import { createStack, type Stack, type VirtualSocket } from '../../index.js';
import { FrameType, type Channel, type ChannelListener, type Frame } from '../../netdriver/index.js';
import { tls, type TlsOptions } from './index.js';

const fixture = (name: string): Buffer => readFileSync(new URL(`../../test/tls-certs/${name}`, import.meta.url));
const ca = fixture('ca.crt');
const server: TlsOptions = { key: fixture('server.key'), cert: fixture('server.crt'), ca };
const client: TlsOptions = { key: fixture('client.key'), cert: fixture('client.crt'), ca };
const components = { hostId: '0'.repeat(32) };

// One driver both listens (server certificate) and dials (trusting the CA).
channelDriverCompliance('tls', {
  setup: async () => ({ driver: tls(server)(components), listenAddress: 'tls://127.0.0.1:0' }),
});

// ---------------------------------------------------------------------------------------

describe('tls transport: certificates', () => {
  let listener: ChannelListener | undefined;
  const channels: Channel[] = [];
  const accepted: Channel[] = [];

  afterEach(async () => {
    for (const c of [...channels.splice(0), ...accepted.splice(0)]) c.destroy();
    await listener?.close();
    listener = undefined;
  });

  async function listen(options: TlsOptions): Promise<string> {
    listener = await tls(options)(components).listen('tls://127.0.0.1:0', (c) => accepted.push(c));
    return listener.address;
  }

  async function roundTrip(a: Channel): Promise<void> {
    const frame: Frame = { type: FrameType.DATA, flags: 0, src: 1, dst: 2, seq: 3, ack: 4, payload: Buffer.from('over tls') };
    const got = new Promise<Frame[]>((resolve) => a.once('readable', () => resolve(a.dequeue())));
    const b = await waitAccepted();
    b.on('readable', () => b.enqueue(b.dequeue()));
    a.enqueue(frame);
    expect((await got)[0]!.payload.toString()).toBe('over tls');
  }

  async function waitAccepted(): Promise<Channel> {
    for (let i = 0; i < 500 && accepted.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    const c = accepted[0];
    if (!c) throw new Error('no channel accepted');
    return c;
  }

  it('mutual TLS: a client with a certificate from the trusted CA is accepted', async () => {
    const address = await listen({ ...server, requestCert: true });
    const a = await tls(client)(components).dial(address);
    channels.push(a);
    await roundTrip(a);
  });

  it('mutual TLS: a client without a certificate is refused (dial fails with NETCHANNEL_ERR_DIAL_FAILED)', async () => {
    const address = await listen({ ...server, requestCert: true });
    await expect(tls({ ca })(components).dial(address)).rejects.toMatchObject({ code: 'NETCHANNEL_ERR_DIAL_FAILED' });
    await new Promise((r) => setTimeout(r, 50));
    expect(accepted).toHaveLength(0);
  });

  it('mutual TLS: a client whose certificate comes from an unrelated CA is refused', async () => {
    const address = await listen({ ...server, requestCert: true });
    const other: TlsOptions = { key: fixture('other-client.key'), cert: fixture('other-client.crt'), ca };
    await expect(tls(other)(components).dial(address)).rejects.toMatchObject({ code: 'NETCHANNEL_ERR_DIAL_FAILED' });
    await new Promise((r) => setTimeout(r, 50));
    expect(accepted).toHaveLength(0);
  });

  it('without requestCert, a client needs no certificate', async () => {
    const address = await listen(server);
    const a = await tls({ ca })(components).dial(address);
    channels.push(a);
    await roundTrip(a);
  });

  it('a client trusting an unrelated CA fails the dial with NETCHANNEL_ERR_DIAL_FAILED', async () => {
    const address = await listen(server);
    await expect(tls({ ca: fixture('other-ca.crt') })(components).dial(address)).rejects.toMatchObject({
      code: 'NETCHANNEL_ERR_DIAL_FAILED',
      message: expect.stringMatching(/certificate/i),
    });
    // ...unless it opts out of verification.
    const a = await tls({ ca: fixture('other-ca.crt'), rejectUnauthorized: false })(components).dial(address);
    channels.push(a);
    await roundTrip(a);
  });

  it('checks the server name: the certificate is for 127.0.0.1/localhost, not example.com', async () => {
    const address = await listen(server);
    await expect(tls({ ca, servername: 'example.com' })(components).dial(address)).rejects.toMatchObject({ code: 'NETCHANNEL_ERR_DIAL_FAILED' });
    const a = await tls({ ca })(components).dial(address.replace('127.0.0.1', 'localhost'));
    channels.push(a);
    await roundTrip(a);
  });

  it('aborted dials fail with NETCHANNEL_ERR_DIAL_FAILED; listener.close() keeps accepted channels open', async () => {
    const address = await listen(server);
    const ac = new AbortController();
    ac.abort();
    await expect(tls({ ca })(components).dial(address, { signal: ac.signal })).rejects.toMatchObject({ code: 'NETCHANNEL_ERR_DIAL_FAILED' });
    const late = new AbortController();
    const dialing = tls({ ca })(components).dial(address, { signal: late.signal });
    late.abort();
    await expect(dialing).rejects.toMatchObject({ code: 'NETCHANNEL_ERR_DIAL_FAILED', message: expect.stringMatching(/aborted/) });
    const a = await tls({ ca })(components).dial(address);
    channels.push(a);
    const b = await waitAccepted();
    await listener!.close();
    const got = new Promise<Frame[]>((resolve) => b.once('readable', () => resolve(b.dequeue())));
    a.enqueue({ type: FrameType.DATA, flags: 0, src: 1, dst: 2, seq: 0, ack: 0, payload: Buffer.from('after close') });
    expect((await got)[0]!.payload.toString()).toBe('after close');
    await expect(tls({ ca })(components).dial(address)).rejects.toMatchObject({ code: 'NETCHANNEL_ERR_DIAL_FAILED' });
  });

  it('validates options and needs key/cert to listen', async () => {
    expect(() => tls({ requestCert: 'yes' as never })).toThrow(expect.objectContaining({ code: 'NETCHANNEL_ERR_INVALID_ARG', message: expect.stringMatching(/options\.requestCert/) }));
    expect(() => tls({ key: fixture('server.key') })).toThrow(expect.objectContaining({ code: 'NETCHANNEL_ERR_INVALID_ARG' }));
    expect(() => tls({ servername: '127.0.0.1' })).toThrow(expect.objectContaining({ code: 'NETCHANNEL_ERR_INVALID_ARG' }));
    expect(() => tls({ ca: 42 as never })).toThrow(expect.objectContaining({ code: 'NETCHANNEL_ERR_INVALID_ARG' }));
    await expect(tls({ ca })(components).listen('tls://127.0.0.1:0', () => {})).rejects.toMatchObject({ code: 'NETCHANNEL_ERR_INVALID_ARG' });
  });
});

describe('tls transport end to end', () => {
  let stacks: Stack[] = [];
  afterEach(async () => {
    await Promise.all(stacks.map((s) => s.close()));
    stacks = [];
  });

  it('two stacks talk over mutual TLS with 2 channels, echoing 2 MB byte for byte', async () => {
    const a = await createStack({ transports: [tls({ ...server, requestCert: true })], listen: ['tls://127.0.0.1:0'] });
    stacks.push(a);
    const b = await createStack({ transports: [tls(client)], channels: { throughput: 2, latency: 0 } });
    stacks.push(b);
    const vs = await a.listen(7);
    vs.on('connection', (s: VirtualSocket) => s.pipe(s));
    const data = randomBytes(2 * 1024 * 1024);
    const sock = await b.connect(a.addresses[0]!, 7);
    const parts: Buffer[] = [];
    const done = (async () => {
      for await (const c of sock) parts.push(c as Buffer);
    })();
    sock.end(data);
    await done;
    expect(Buffer.concat(parts).equals(data)).toBe(true);
    const session = [...b.peers.values()][0]!;
    expect(session.device.channels.map((dc) => dc.channel.scheme)).toEqual(['tls', 'tls']);
  }, 30_000);
});
