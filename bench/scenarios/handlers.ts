/**
 * Server-side pipe handlers shared by the request/response scenarios.
 * @packageDocumentation
 */
import { byteAt, type Pipe } from '../pipes/index.js';

/** Consumes a count of received bytes. */
export type Consumer = (bytes: number) => void;

/** Answers every complete `requestSize`-byte request with `response`. */
export function responder(pipe: Pipe, requestSize: number, response: Uint8Array): Consumer {
  let acc = 0;
  return (n) => {
    acc += n;
    while (acc >= requestSize) {
      acc -= requestSize;
      pipe.write(response);
    }
  };
}

/** Routes each pipe by its first byte (a tag the client writes first) to a consumer. */
export function routeByTag(pipe: Pipe, routes: Record<number, (pipe: Pipe) => Consumer>): void {
  let consume: Consumer | null = null;
  pipe.onData((chunk) => {
    if (consume === null) {
      const tag = byteAt(chunk, 0) ?? -1;
      const route = routes[tag];
      if (!route) {
        pipe.destroy();
        return;
      }
      consume = route(pipe);
      consume(chunk.byteLength - 1);
    } else {
      consume(chunk.byteLength);
    }
  });
}

/** Pipe tags. */
export const TAG = { bulk: 0x42, latency: 0x4c } as const;
