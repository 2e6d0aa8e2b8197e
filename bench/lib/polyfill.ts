/**
 * `Promise.withResolvers` (Node 22+) for Node 20: @libp2p/utils (yamux) calls it when a
 * stream needs to drain.
 * @packageDocumentation
 */
interface Resolvers {
  promise: Promise<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

const P = Promise as unknown as { withResolvers?: () => Resolvers };
P.withResolvers ??= (): Resolvers => {
  let resolve!: (v: unknown) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<unknown>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
};

export {};
