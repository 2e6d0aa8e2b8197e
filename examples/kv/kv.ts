/**
 * A tiny key-value service on the rpc message interface. Requests and responses are
 * JSON: `{ op: 'get' | 'set' | 'del' | 'keys', key?, value? }`. A missing key makes the
 * handler throw, which reaches the client as an RpcRemoteError with `remoteCode`.
 */
import type { Stack } from '../../index.js';
import { rpcConnect, rpcListen, type RpcClient, type RpcServer } from '../../rpc/index.js';

type Op = { op: 'get'; key: string } | { op: 'set'; key: string; value: string } | { op: 'del'; key: string } | { op: 'keys' };

/** Serves a Map on virtual port `port` of `stack`. */
export function serveKv(stack: Stack, port: number): Promise<RpcServer> {
  const data = new Map<string, string>();
  return rpcListen(stack, port, (payload) => {
    const req = JSON.parse(payload.toString()) as Op;
    switch (req.op) {
      case 'get': {
        const value = data.get(req.key);
        if (value === undefined) throw Object.assign(new Error(`no such key: ${req.key}`), { code: 'KV_NOT_FOUND' });
        return JSON.stringify({ value });
      }
      case 'set':
        data.set(req.key, req.value);
        return JSON.stringify({ ok: true });
      case 'del':
        return JSON.stringify({ deleted: data.delete(req.key) });
      case 'keys':
        return JSON.stringify({ keys: [...data.keys()] });
      default:
        throw Object.assign(new Error(`unknown op ${JSON.stringify((req as { op: unknown }).op)}`), { code: 'KV_BAD_OP' });
    }
  }, { appClass: 'latency' });
}

/** Typed client of the service. */
export class KvClient {
  private constructor(private readonly rpc: RpcClient) {}

  static async connect(stack: Stack, address: string, port: number): Promise<KvClient> {
    return new KvClient(await rpcConnect(stack, address, port, { appClass: 'latency', timeout: 5_000 }));
  }

  private async call<T>(op: Op): Promise<T> {
    return JSON.parse((await this.rpc.request(JSON.stringify(op))).toString()) as T;
  }

  async get(key: string): Promise<string> {
    return (await this.call<{ value: string }>({ op: 'get', key })).value;
  }
  async set(key: string, value: string): Promise<void> {
    await this.call({ op: 'set', key, value });
  }
  async del(key: string): Promise<boolean> {
    return (await this.call<{ deleted: boolean }>({ op: 'del', key })).deleted;
  }
  async keys(): Promise<string[]> {
    return (await this.call<{ keys: string[] }>({ op: 'keys' })).keys;
  }
  close(): Promise<void> {
    return this.rpc.close();
  }
}
