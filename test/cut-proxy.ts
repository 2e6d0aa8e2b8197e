/**
 * Test fixture: a TCP proxy on loopback that forwards to a target and can cut its
 * connections on demand (both sides destroyed at once, like a failing link).
 * @packageDocumentation
 */
import net from 'node:net';

/** A proxy whose connections can be cut. */
export interface CutProxy {
  /** `tcp://127.0.0.1:PORT` of the proxy. */
  readonly address: string;
  /** Live forwarded connections. */
  readonly connections: number;
  /** Cuts `n` random live connections (default 1); returns how many were cut. */
  cut(n?: number, rand?: () => number): number;
  /** Stops accepting new connections and cuts every live one. */
  shutdown(): Promise<void>;
  /** Total connections cut so far. */
  readonly cuts: number;
  /** Stops forwarding in both directions without closing anything (a silent link). */
  freeze(): void;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Stops forwarding the `i`-th accepted connection (0-based) both ways, without closing it (a black hole). */
  freezeOne(i: number): void;
  /** Forwards the `i`-th accepted connection again after {@link freezeOne} (nothing was lost). */
  thawOne(i: number): void;
  /**
   * Limits the client-to-target direction of the `i`-th accepted connection (0-based) to
   * about `bytesPerSecond` (a shaped link). Call before or after it is accepted.
   */
  throttle(i: number, bytesPerSecond: number): void;
}

/** Starts a proxy to `targetPort` on 127.0.0.1. */
export async function cutProxy(targetPort: number): Promise<CutProxy> {
  const pairs = new Set<[net.Socket, net.Socket]>();
  const byOrder: Array<[net.Socket, net.Socket]> = [];
  const rates = new Map<number, number>();
  let cuts = 0;
  const shape = (i: number): void => {
    const pair = byOrder[i];
    const bps = rates.get(i);
    if (!pair || bps === undefined) return;
    const [inbound, outbound] = pair;
    inbound.unpipe(outbound);
    inbound.removeAllListeners('data');
    inbound.on('data', (chunk: Buffer) => {
      outbound.write(chunk);
      inbound.pause();
      setTimeout(() => inbound.resume(), (1000 * chunk.length) / bps);
    });
    inbound.resume();
  };
  const server = net.createServer({ allowHalfOpen: true }, (inbound) => {
    const outbound = net.connect({ host: '127.0.0.1', port: targetPort, allowHalfOpen: true });
    const pair: [net.Socket, net.Socket] = [inbound, outbound];
    pairs.add(pair);
    byOrder.push(pair);
    const drop = (): void => {
      pairs.delete(pair);
      inbound.destroy();
      outbound.destroy();
    };
    for (const s of pair) {
      s.on('error', drop);
      s.on('close', drop);
    }
    inbound.pipe(outbound);
    outbound.pipe(inbound);
    shape(byOrder.length - 1);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const cutPair = (pair: [net.Socket, net.Socket]): void => {
    pairs.delete(pair);
    cuts++;
    pair[0].resetAndDestroy();
    pair[1].resetAndDestroy();
  };
  return {
    address: `tcp://127.0.0.1:${port}`,
    get connections() {
      return pairs.size;
    },
    get cuts() {
      return cuts;
    },
    cut(n = 1, rand = Math.random) {
      let done = 0;
      for (; done < n && pairs.size > 0; done++) {
        const list = [...pairs];
        cutPair(list[Math.floor(rand() * list.length)]!);
      }
      return done;
    },
    freeze() {
      for (const [a, b] of pairs) {
        a.unpipe(b);
        b.unpipe(a);
        a.pause();
        b.pause();
      }
    },
    get accepted() {
      return byOrder.length;
    },
    freezeOne(i) {
      const pair = byOrder[i];
      if (!pair) throw new RangeError(`no connection ${i} (${byOrder.length} accepted)`);
      const [a, b] = pair;
      a.unpipe(b);
      b.unpipe(a);
      a.removeAllListeners('data');
      a.pause();
      b.pause();
    },
    thawOne(i) {
      const pair = byOrder[i];
      if (!pair) throw new RangeError(`no connection ${i} (${byOrder.length} accepted)`);
      pair[0].pipe(pair[1]);
      pair[1].pipe(pair[0]);
    },
    throttle(i, bytesPerSecond) {
      rates.set(i, bytesPerSecond);
      shape(i);
    },
    async shutdown() {
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const p of [...pairs]) cutPair(p);
      await closed;
    },
  };
}
