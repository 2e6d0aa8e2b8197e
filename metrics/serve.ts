/**
 * A minimal Prometheus scrape endpoint over node:http, and an opt-in helper for
 * prom-client's process metrics.
 * @packageDocumentation
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, type Registry } from 'prom-client';
import { InvalidArgumentError } from '../errors/index.js';
import { checkPrefix, checkRegistry, DEFAULT_PROCESS_METRICS_PREFIX, type MetricsRegistry } from './registry.js';

/** Options of {@link serveMetrics}. */
export interface ServeMetricsOptions {
  /** TCP port; 0 picks a free one. @default 9464 */
  port?: number;
  /** Interface to bind. @default '127.0.0.1' */
  host?: string;
  /** Path that serves the exposition; every other path answers 404. @default '/metrics' */
  path?: string;
}

/** A running scrape endpoint. */
export interface MetricsServer {
  /** Full scrape URL, e.g. `http://127.0.0.1:9464/metrics`. */
  readonly url: string;
  /** Bound port (the real one when `port` was 0). */
  readonly port: number;
  /** Stops listening and drops open connections. Idempotent. */
  close(): Promise<void>;
}

/** Default port of {@link serveMetrics} (the OpenTelemetry Prometheus exporter's). */
export const DEFAULT_METRICS_PORT = 9464;

/**
 * Serves `registry` in the Prometheus text format at `http://host:port/path` (GET and
 * HEAD). Other paths answer 404, other methods 405, a failing collect 500.
 * @throws InvalidArgumentError naming a bad option; the listen error when binding fails.
 */
export async function serveMetrics(registry: MetricsRegistry, options: ServeMetricsOptions = {}): Promise<MetricsServer> {
  checkRegistry(registry, 'registry');
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError(`options must be an object, got ${JSON.stringify(options)}`);
  const port = options.port ?? DEFAULT_METRICS_PORT;
  const host = options.host ?? '127.0.0.1';
  const path = options.path ?? '/metrics';
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 0xffff) {
    throw new InvalidArgumentError(`options.port must be an integer 0-65535, got ${JSON.stringify(port)}`);
  }
  if (typeof host !== 'string' || host.length === 0) throw new InvalidArgumentError(`options.host must be a non-empty string, got ${JSON.stringify(host)}`);
  if (typeof path !== 'string' || !path.startsWith('/') || /[?#\s]/.test(path)) {
    throw new InvalidArgumentError(`options.path must start with '/' and hold no query, fragment or space, got ${JSON.stringify(path)}`);
  }

  const server = createServer((req, res) => void handle(registry, path, req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  const hostPart = host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${hostPart}:${bound}${path}`,
    port: bound,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

async function handle(registry: MetricsRegistry, path: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const pathname = q < 0 ? url : url.slice(0, q);
  if (pathname !== path) {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
    return;
  }
  try {
    const body = await registry.metrics();
    res.writeHead(200, { 'content-type': registry.contentType, 'content-length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  } catch (err) {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const message = err instanceof Error ? err.message : String(err);
    res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`metrics collection failed: ${message}\n`);
  }
}

/**
 * Adds prom-client's process metrics (CPU, memory, event-loop lag, GC, handles) to
 * `registry` under their standard names (`process_cpu_seconds_total`,
 * `nodejs_eventloop_lag_seconds`, …), each put after `prefix`. Opt-in: call it at most
 * once per registry.
 * @param prefix put before every name. @default ''
 * @returns `registry`.
 * @throws InvalidArgumentError when `registry` lacks a registry's shape or `prefix` is no valid name prefix.
 */
export function withDefaultMetrics<R extends MetricsRegistry>(registry: R, prefix: string = DEFAULT_PROCESS_METRICS_PREFIX): R {
  checkRegistry(registry, 'registry');
  checkPrefix(prefix, 'prefix');
  collectDefaultMetrics({ register: registry as unknown as Registry, prefix });
  return registry;
}
