/**
 * Hostile-peer bench (not run in CI): the attacks of the "Hostile peers" issue against a
 * victim stack in a child process, with the victim's RSS before, at peak and after GC.
 *   node --expose-gc dist/bench/hostile.js [--burst 20000] [--only never-ack,reorder,…] [--settle 2500 (ms idle before the after-GC sample)] [--victim-options '{"memoryBudget":67108864}'] [--no-baseline]
 * The victim runs with default options unless `--victim-options` (JSON) says otherwise.
 * Attacks, one after another (each attacker leaves with BYE, then the victim is GC'd):
 *   never-ack   a peer grants 512 MiB (MAX_GRANT) and never acknowledges; it sends 128 MiB to echo
 *   reorder     4 fresh host ids each send up to 157.5 MiB of out-of-order DATA
 *   sync-flood  10,000 SYNCs from one host id
 *   slowloris   200 connections dribbling a HELLO, and a legitimate connect timed during it
 *   burst       a legitimate client opens and closes `--burst` sockets (64 KiB echoed each)
 * Then (unless `--no-baseline`), in a fresh child, node:net baselines for what Node and the
 * allocator leave behind on their own: the reorder flood's 630 MiB into a node:net server that
 * keeps the newest 32 MiB (the reorder cap), and the burst against a node:net echo server.
 * @packageDocumentation
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import net, { type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { parseArgs } from 'node:util';
import { createStack, type StackOptions, type VirtualSocket } from '../index.js';
import { parseHostPort } from '../netdriver/address.js';
import { controlFrame, FrameType, type Frame } from '../netdriver/frame.js';
import { helloBytes, rawConnection, rawPeer, type RawPeer } from '../test/raw-peer.js';
import { MAX_GRANT } from '../vns/seq.js';

const { values } = parseArgs({ options: { victim: { type: 'boolean', default: false }, 'net-victim': { type: 'boolean', default: false }, 'no-baseline': { type: 'boolean', default: false }, burst: { type: 'string', default: '20000' }, only: { type: 'string', default: '' }, settle: { type: 'string', default: '2500' }, 'victim-options': { type: 'string', default: '{}' } } });
const MiB = 2 ** 20;
const gc = (): void => (globalThis as { gc?: () => void }).gc?.();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

type Req = { type: 'rss'; settleMs: number } | { type: 'reset-peak' };
type Rep = { type: 'ready'; address: string; holdPort: number } | { type: 'rss'; rss: number; peak: number; peakBuffers: number; heap: number; heapTotal: number; buffers: number; sockets: number; peers: number; limitHits: number };

if (values.victim || values['net-victim']) {
  // ---- the victim: a stack with an echo service on port 80, or (baseline) a node:net echo server
  let address: string;
  let sockets = (): number => 0;
  let peers = (): number => 0;
  let limitHits = 0;
  let holdPort = 0;
  if (values.victim) {
    const options = JSON.parse(values['victim-options']) as StackOptions;
    const server = await createStack({ ...options, listen: ['tcp://127.0.0.1:0'] });
    (await server.listen(80)).on('connection', (s: VirtualSocket) => s.on('error', () => {}).pipe(s));
    server.events$.subscribe((e) => void (e.type === 'limit-hit' && limitHits++));
    sockets = () => server.peers.reduce((n, s) => n + s.sockets.size, 0);
    peers = () => server.peers.length;
    address = server.addresses[0]!;
  } else {
    const srv = net.createServer((s) => s.on('error', () => {}).pipe(s));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    address = `tcp://127.0.0.1:${(srv.address() as AddressInfo).port}`;
    // A second server that keeps the newest 32 MiB it received (what the
    // stack's maxReorderBytes lets a flood make it hold) and drops the rest
    const hold = net.createServer((s) => {
      let held: Buffer[] = [];
      let bytes = 0;
      s.on('error', () => {});
      s.on('data', (d: Buffer) => {
        held.push(d);
        for (bytes += d.length; bytes > 32 * MiB; ) bytes -= held.shift()!.length;
      });
      s.on('end', () => {
        [held, bytes] = [[], 0];
        s.end();
      });
    });
    await new Promise<void>((r) => hold.listen(0, '127.0.0.1', r));
    holdPort = (hold.address() as AddressInfo).port;
  }
  let peak = 0;
  let peakBuffers = 0;
  setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 5).unref();
  setInterval(() => (peakBuffers = Math.max(peakBuffers, process.memoryUsage().arrayBuffers)), 25).unref();
  process.on('message', (m: Req) => {
    void (async () => {
      if (m.type === 'reset-peak') [peak, peakBuffers] = [process.memoryUsage.rss(), 0];
      if (m.type !== 'rss') return;
      peak = Math.max(peak, process.memoryUsage.rss());
      const [p, pb] = [peak, peakBuffers];
      await sleep(m.settleMs); // lets idle slabs be trimmed
      gc();
      await sleep(50);
      gc();
      const mu = process.memoryUsage();
      process.send!({ type: 'rss', rss: mu.rss, peak: p, peakBuffers: pb, heap: mu.heapUsed, heapTotal: mu.heapTotal, buffers: mu.arrayBuffers, sockets: sockets(), peers: peers(), limitHits } satisfies Rep);
    })();
  });
  process.on('disconnect', () => process.exit(0));
  process.send!({ type: 'ready', address, holdPort } satisfies Rep);
} else {
  await main();
}

type RssRep = Extract<Rep, { type: 'rss' }>;

/** Forks a victim (`--victim` or `--net-victim`) and returns its address and RSS probe. */
async function startVictim(flag: '--victim' | '--net-victim'): Promise<{ child: ChildProcess; address: string; port: number; holdPort: number; next: () => Promise<Rep>; measure: (settleMs?: number) => Promise<RssRep> }> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), [flag, '--victim-options', values['victim-options']], { execArgv: ['--expose-gc'] });
  const replies: Rep[] = [];
  let wake: (() => void) | null = null;
  child.on('message', (m: Rep) => {
    replies.push(m);
    wake?.();
  });
  const next = async (): Promise<Rep> => {
    while (replies.length === 0) await new Promise<void>((r) => (wake = r));
    return replies.shift()!;
  };
  const ready = (await next()) as Extract<Rep, { type: 'ready' }>;
  const measure = async (settleMs = Number(values.settle)): Promise<RssRep> => {
    child.send({ type: 'rss', settleMs } satisfies Req);
    return (await next()) as RssRep;
  };
  return { child, address: ready.address, port: parseHostPort(ready.address, 'tcp', false).port, holdPort: ready.holdPort, next, measure };
}

/** `--burst` connections, 256 at a time, each echoing 64 KiB through `open`'s socket. */
async function burstOf(count: number, open: () => Promise<Duplex>): Promise<number> {
  const payload = Buffer.alloc(64 * 1024, 9);
  let done = 0;
  const t0 = performance.now();
  while (done < count) {
    const n = Math.min(256, count - done);
    await Promise.all(
      Array.from({ length: n }, async () => {
        const s = await open();
        let got = 0;
        s.on('data', (d: Buffer) => (got += d.length));
        s.end(payload);
        await once(s, 'end');
        if (got !== payload.length) throw new Error(`echo returned ${got} bytes`);
        s.destroy();
      }),
    );
    done += n;
  }
  return (performance.now() - t0) / 1000;
}

async function main(): Promise<void> {
  const { child, address, port, next, measure } = await startVictim('--victim');
  const fmt = (b: number): string => `${(b / MiB).toFixed(1)} MiB`;
  const signed = (b: number): string => `${b >= 0 ? '+' : '−'}${fmt(Math.abs(b))}`;
  const base = await measure(100);
  console.log(`victim options: ${values['victim-options']}; MALLOC_ARENA_MAX=${process.env.MALLOC_ARENA_MAX ?? '-'}; baseline RSS after GC ${fmt(base.rss)} (JS heap ${fmt(base.heap)}, buffers ${fmt(base.buffers)})`);
  let worstPeak = base.rss;
  const bye = async (peers: RawPeer[]): Promise<void> => {
    for (const p of peers) {
      p.send(controlFrame(FrameType.BYE, 0, 0));
      p.sock.end();
    }
    await Promise.all(peers.map((p) => Promise.race([p.closed, sleep(3000)])));
  };
  const only = values.only === '' ? null : new Set(values.only.split(','));
  const attack = async (name: string, run: () => Promise<string>): Promise<void> => {
    if (only !== null && !only.has(name)) return;
    child.send({ type: 'reset-peak' } satisfies Req);
    const before = await measure(100);
    const t0 = performance.now();
    const note = await run();
    const after = await measure();
    worstPeak = Math.max(worstPeak, after.peak);
    console.log(
      `${name.padEnd(11)} ${((performance.now() - t0) / 1000).toFixed(1).padStart(5)} s  RSS before ${fmt(before.rss)}, peak ${fmt(after.peak)} (${signed(after.peak - base.rss)} over baseline; Buffers at most ${fmt(after.peakBuffers)}), after GC ${fmt(after.rss)} (${signed(after.rss - base.rss)}; ${signed(after.rss - before.rss)} vs before; JS heap ${fmt(after.heap)} of ${fmt(after.heapTotal)}, buffers ${fmt(after.buffers)}); victim: ${after.peers} peers, ${after.sockets} sockets, ${after.limitHits} limit hits so far; ${note}`,
    );
  };

  await attack('never-ack', async () => {
    const a = await rawPeer(port, 'a0'.repeat(16));
    a.send(controlFrame(FrameType.SYNC, 50000, 80, 0, MAX_GRANT));
    await a.until((fs) => fs.some((f) => f.type === FrameType.SYNC_ACK), 5000, 'SYNC_ACK');
    let sent = 0;
    let grant = 4 * MiB;
    let stalled = 0;
    const chunk = Buffer.alloc(64 * 1024, 7);
    let seen = 0;
    while (sent < 128 * MiB && stalled < 200) {
      for (; seen < a.frames.length; seen++) if (a.frames[seen]!.type === FrameType.CREDIT) grant = Math.max(grant, a.frames[seen]!.ack);
      if (grant - sent >= chunk.length) {
        a.send({ ...controlFrame(FrameType.DATA, 50000, 80, sent), payload: chunk });
        sent += chunk.length;
        stalled = 0;
        if (a.sock.writableLength > 4 * MiB) await once(a.sock, 'drain');
      } else {
        stalled++;
        await sleep(5);
      }
    }
    const echoed = a.frames.filter((f) => f.type === FrameType.DATA).reduce((n, f) => n + f.payload.length, 0);
    await bye([a]);
    return `sent ${fmt(sent)} of 128 MiB before the victim stopped granting; it echoed ${fmt(echoed)} unacknowledged`;
  });

  await attack('reorder', async () => {
    const peers: RawPeer[] = [];
    let sent = 0;
    let resets = 0;
    for (let h = 0; h < 4; h++) {
      const p = await rawPeer(port, `b${h}`.repeat(16));
      peers.push(p);
      // 157.5 MiB of out-of-order data: 40 sockets × (4 MiB window − 64 KiB), byte 0 withheld.
      for (let s = 0; s < 40; s++) {
        const src = 50000 + s;
        p.send(controlFrame(FrameType.SYNC, src, 80, 0, 1 << 20));
        for (let off = 1; off + 64 * 1024 < 4 * MiB; off += 64 * 1024) {
          p.send({ ...controlFrame(FrameType.DATA, src, 80, off), payload: Buffer.alloc(64 * 1024, 1) });
          sent += 64 * 1024;
          if (p.sock.writableLength > 8 * MiB) await once(p.sock, 'drain');
        }
      }
    }
    await sleep(500);
    for (const p of peers) resets += p.frames.filter((f) => f.type === FrameType.RST).length;
    await bye(peers);
    return `sent ${fmt(sent)} out of order from 4 host ids; ${resets} RST answers (LIMIT resets, then UNKNOWN for DATA to reset sockets)`;
  });

  await attack('sync-flood', async () => {
    const start = await measure(100);
    const p = await rawPeer(port, 'c0'.repeat(16));
    const frames: Frame[] = [];
    for (let i = 0; i < 10_000; i++) frames.push(controlFrame(FrameType.SYNC, 50000 + i, 80, 0, 1 << 20));
    p.send(...frames);
    await p.until((fs) => fs.filter((f) => f.type === FrameType.SYNC_ACK || f.type === FrameType.RST).length >= 10_000, 20_000, 'answers');
    const acks = p.frames.filter((f) => f.type === FrameType.SYNC_ACK).length;
    child.send({ type: 'rss', settleMs: 0 } satisfies Req); // peak while the sockets exist
    const during = (await next()) as Extract<Rep, { type: 'rss' }>;
    await bye([p]);
    return `10000 SYNCs: ${acks} accepted, ${10_000 - acks} refused; ${during.sockets} sockets: ${signed(during.rss - start.rss)} RSS, ${signed(during.heap - start.heap)} JS heap (${((during.heap - start.heap) / Math.max(1, during.sockets) / 1024).toFixed(1)} KiB heap each)`;
  });

  await attack('slowloris', async () => {
    const slow = await Promise.all(Array.from({ length: 200 }, () => rawConnection(port)));
    const hello = helloBytes('d0'.repeat(16));
    let k = 0;
    const drip = setInterval(() => {
      k++;
      for (const s of slow) if (!s.destroyed && k <= hello.length) s.write(hello.subarray(k - 1, k));
    }, 500);
    await sleep(200);
    const legit = await createStack();
    const t0 = performance.now();
    let outcome: string;
    try {
      const sock = await legit.connect(address, 80);
      outcome = `legitimate connect took ${(performance.now() - t0).toFixed(0)} ms`;
      sock.destroy();
    } catch (err) {
      outcome = `legitimate connect FAILED: ${(err as Error).message}`;
    }
    await sleep(1000);
    const open = slow.filter((s) => !s.destroyed && !s.closed).length;
    clearInterval(drip);
    for (const s of slow) s.destroy();
    await legit.close();
    return `${outcome}; ${open} of 200 slow connections still open after 1.2 s`;
  });

  const burst = Number(values.burst);
  await attack('burst', async () => {
    const client = await createStack({ channels: { throughput: 2, latency: 0 } });
    const secs = await burstOf(burst, () => client.connect(address, 80));
    await client.close();
    return `${burst} sockets opened, echoed 64 KiB and closed in ${secs.toFixed(1)} s`;
  });

  const end = await measure();
  console.log(`overall: baseline ${fmt(base.rss)}, worst peak ${fmt(worstPeak)} (${signed(worstPeak - base.rss)}), final after GC ${fmt(end.rss)} (${signed(end.rss - base.rss)})`);
  child.disconnect();
  child.kill();
  if (!values['no-baseline']) {
    // Baselines, each in a fresh child: what Node and the allocator leave behind on their own.
    const phase = async (name: string, run: (v: { port: number; holdPort: number }) => Promise<string>): Promise<void> => {
      const v = await startVictim('--net-victim');
      v.child.send({ type: 'reset-peak' } satisfies Req);
      const b = await v.measure(100);
      const note = await run(v);
      const a = await v.measure();
      console.log(`baseline ${name}: RSS ${fmt(b.rss)} before, peak ${signed(a.peak - b.rss)}, after GC ${signed(a.rss - b.rss)} (JS heap ${fmt(a.heap)} of ${fmt(a.heapTotal)}); ${note}`);
      v.child.disconnect();
      v.child.kill();
    };
    if (only === null || only.has('reorder')) {
      await phase('flood', async (v) => {
        const chunk = Buffer.alloc(64 * 1024 + 24, 1);
        await Promise.all(
          Array.from({ length: 4 }, async () => {
            const s = net.connect(v.holdPort, '127.0.0.1');
            await once(s, 'connect');
            for (let i = 0; i < 157.5 * 16; i++) if (!s.write(chunk)) await once(s, 'drain');
            s.end();
            await once(s, 'close');
          }),
        );
        return 'a node:net server that keeps the newest 32 MiB of what it reads (the reorder cap), flooded with the same 630 MiB from 4 connections';
      });
    }
    if (only === null || only.has('burst')) {
      await phase('burst', async (v) => {
        const secs = await burstOf(burst, async () => {
          const s = net.connect(v.port, '127.0.0.1');
          await once(s, 'connect');
          return s;
        });
        return `the same burst against a node:net echo server (${secs.toFixed(1)} s)`;
      });
    }
  }
  process.exit(0);
}
