/**
 * Message interface beside streams: request/response and oneway messages over virtual
 * sockets, riding the same channels and scheduler. See docs/rpc.md.
 * @packageDocumentation
 */
import type { AppClass } from '../netdriver/channel.js';
import { checkKnownKeys, type KnownKeys } from '../errors/validate.js';
import { CONNECT_OPTION_KEYS, LISTEN_OPTION_KEYS, type ConnectOptions, type ListenOptions } from '../stack/socket-options.js';
import type { VirtualServer } from '../vns/virtual-server.js';
import type { VirtualSocket } from '../vns/virtual-socket.js';
import { MessageSocket, type MessageSocketOptions, type Payload, type RequestHandler, type RequestOptions } from './message-socket.js';

export { MessageSocket, RpcRemoteError, DEFAULT_MAX_MESSAGE_SIZE } from './message-socket.js';
export type { MessageSocketOptions, MessageSocketEvents, Payload, RequestHandler, RequestOptions } from './message-socket.js';
export { MessageKind, HEADER_BYTES, type MessageKindValue } from './frame.js';

/** What rpc needs of a stack (a `Stack` has it). */
export interface RpcStack {
  listen(port: number, options?: ListenOptions): Promise<VirtualServer>;
  connect(address: string, port: number, options?: ConnectOptions): Promise<VirtualSocket>;
}

/** Options of {@link rpcListen}. */
export interface RpcListenOptions extends Omit<MessageSocketOptions, 'handler'>, Omit<ListenOptions, 'appClass'> {
  /** Class forced on accepted sockets. @default the class each client asked for */
  appClass?: AppClass;
  /** Receives oneway messages from clients. */
  onMessage?: (payload: Buffer, socket: MessageSocket) => void;
}

/** Options of {@link rpcConnect}: `timeout` is the default request timeout (the connect itself uses the stack's `connectTimeout`). */
export interface RpcConnectOptions extends Omit<MessageSocketOptions, 'handler'>, Omit<ConnectOptions, 'appClass' | 'timeout'> {
  /** Class of the socket: `latency` for small request/response, `throughput` for bulk. @default 'throughput' */
  appClass?: AppClass;
}

const MESSAGE_SOCKET_KEYS = { maxMessageSize: true, timeout: true } as const satisfies KnownKeys<Omit<MessageSocketOptions, 'handler'>>;
/** Known keys of {@link RpcListenOptions}. */
export const RPC_LISTEN_OPTION_KEYS = { ...MESSAGE_SOCKET_KEYS, ...LISTEN_OPTION_KEYS, onMessage: true } as const satisfies KnownKeys<RpcListenOptions>;
/** Known keys of {@link RpcConnectOptions}. */
export const RPC_CONNECT_OPTION_KEYS = { ...MESSAGE_SOCKET_KEYS, ...CONNECT_OPTION_KEYS } as const satisfies KnownKeys<RpcConnectOptions>;

/** A listening RPC service. */
export interface RpcServer {
  /** The virtual port it listens on. */
  readonly port: number;
  /** Open client connections. */
  readonly connections: ReadonlySet<MessageSocket>;
  /** Stops accepting and closes every connection gracefully (their pending requests are rejected). Idempotent. */
  close(): Promise<void>;
}

/** A connection to an RPC service. */
export interface RpcClient {
  /** Sends a request; resolves with the response payload. */
  request(payload: Payload, options?: RequestOptions): Promise<Buffer>;
  /** Sends a oneway message; false = wait for the socket's 'drain'. */
  send(payload: Payload): boolean;
  /** Graceful close; pending requests are rejected with NETCHANNEL_ERR_CLOSED. */
  close(): Promise<void>;
  /** Requests waiting for their response. */
  readonly pendingRequests: number;
  /** The message socket (for 'message'/'close' events and the underlying VirtualSocket). */
  readonly messages: MessageSocket;
}

/** Serves `handler` on virtual port `port` of `stack` (0 = any free port). */
export async function rpcListen(stack: RpcStack, port: number, handler: RequestHandler, options: RpcListenOptions = {}): Promise<RpcServer> {
  checkKnownKeys('rpc listen options', options, RPC_LISTEN_OPTION_KEYS);
  const { appClass, onMessage, signal, ...socketOptions } = options;
  const listenOptions: ListenOptions = { ...(appClass && { appClass }), ...(signal && { signal }) };
  const server = await stack.listen(port, listenOptions);
  const connections = new Set<MessageSocket>();
  server.on('connection', (sock) => {
    const ms = new MessageSocket(sock, { ...socketOptions, handler });
    connections.add(ms);
    ms.once('close', () => connections.delete(ms));
    if (onMessage) ms.on('message', (payload) => onMessage(payload, ms));
  });
  let closing: Promise<void> | undefined;
  return {
    port: server.port,
    connections,
    close() {
      closing ??= Promise.all([server.closeAsync(), ...[...connections].map((c) => c.close())]).then(() => undefined);
      return closing;
    },
  };
}

/** Connects to the RPC service on `port` at the stack listening on `address`. */
export async function rpcConnect(stack: RpcStack, address: string, port: number, options: RpcConnectOptions = {}): Promise<RpcClient> {
  checkKnownKeys('rpc connect options', options, RPC_CONNECT_OPTION_KEYS);
  const { appClass, signal, ...socketOptions } = options;
  const connectOptions: ConnectOptions = { ...(appClass && { appClass }), ...(signal && { signal }) };
  const sock = await stack.connect(address, port, connectOptions);
  const messages = new MessageSocket(sock, socketOptions);
  return {
    request: (payload, opts) => messages.request(payload, opts),
    send: (payload) => messages.send(payload),
    close: () => messages.close(),
    get pendingRequests() {
      return messages.pendingRequests;
    },
    messages,
  };
}
