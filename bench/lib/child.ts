/**
 * Forked benchmark children with a typed, message-type-keyed IPC inbox.
 * @packageDocumentation
 */
import { fork, type ChildProcess } from 'node:child_process';

/** Any IPC message: a JSON object with a `type` tag. */
export interface Message {
  type: string;
}

/** Message a child sends when a command failed. */
export interface ErrorMessage {
  type: 'error';
  message: string;
}

interface Waiter {
  type: string;
  resolve: (m: Message) => void;
  reject: (e: Error) => void;
}

/** A forked child process; messages it sends are queued until {@link ForkedChild.expect}ed. */
export class ForkedChild {
  private readonly proc: ChildProcess;
  private readonly inbox: Message[] = [];
  private readonly waiters: Waiter[] = [];
  private failure: Error | null = null;
  private readonly exited: Promise<void>;

  /**
   * Forks `modulePath` with `args`.
   * @param name label used in error messages (e.g. `'server'`).
   * @param execArgv Node options of the child (e.g. `['--cpu-prof']`). @default []
   */
  constructor(
    readonly name: string,
    modulePath: string,
    args: readonly string[],
    execArgv: readonly string[] = [],
  ) {
    this.proc = fork(modulePath, [...args], { execArgv: [...execArgv], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.proc.on('message', (m: Message) => this.onMessage(m));
    this.exited = new Promise((resolve) => {
      this.proc.once('exit', (code, signal) => {
        this.fail(new Error(`${name} child exited unexpectedly (code ${code}, signal ${signal})`));
        resolve();
      });
    });
    this.proc.once('error', (err) => this.fail(new Error(`${name} child failed: ${err.message}`)));
  }

  /** Sends `msg` to the child. */
  send<M extends Message>(msg: M): void {
    if (this.failure) throw this.failure;
    this.proc.send(msg);
  }

  /** Resolves with the next message of `type` (queued or future); rejects if the child fails. */
  expect<T extends Message>(type: T['type']): Promise<T> {
    const i = this.inbox.findIndex((m) => m.type === type);
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0] as T);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<T>((resolve, reject) => {
      this.waiters.push({ type, resolve: resolve as (m: Message) => void, reject });
    });
  }

  /** Sends `msg`, then resolves with the next message of `reply` type. */
  request<T extends Message, M extends Message = Message>(msg: M, reply: T['type']): Promise<T> {
    const p = this.expect<T>(reply);
    this.send(msg);
    return p;
  }

  /** Asks the child to exit (message `{ type: 'exit' }`), killing it after `graceMs`. */
  async shutdown(graceMs = 5000): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.failure ??= new Error(`${this.name} child is shutting down`);
    if (this.proc.connected) this.proc.send({ type: 'exit' });
    const t = setTimeout(() => this.kill(), graceMs);
    await this.exited;
    clearTimeout(t);
  }

  /** Kills the child at once (SIGKILL). Idempotent. */
  kill(): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
  }

  private onMessage(m: Message): void {
    if (m.type === 'error') {
      this.fail(new Error(`${this.name} child: ${(m as ErrorMessage).message}`));
      return;
    }
    const i = this.waiters.findIndex((w) => w.type === m.type);
    if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(m);
    else this.inbox.push(m);
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const w of this.waiters.splice(0)) w.reject(this.failure);
  }
}

/** Sends one message to the parent. */
export type SendFn = <M extends Message>(msg: M) => void;

/**
 * Child side: runs `handler` for each IPC message from the parent, one at a time;
 * a thrown error is reported as an {@link ErrorMessage}. `{ type: 'exit' }` ends the process.
 */
export function serveParent(handler: (msg: Message, send: SendFn) => Promise<void>): void {
  const send: SendFn = (m) => {
    process.send?.(m);
  };
  let chain = Promise.resolve();
  process.on('message', (msg: Message) => {
    if (msg.type === 'exit') {
      void chain.finally(() => process.exit(0));
      return;
    }
    chain = chain.then(() => handler(msg, send)).catch((err: unknown) => {
      send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) } satisfies ErrorMessage);
    });
  });
  process.on('disconnect', () => process.exit(1));
}

/** On Ctrl-C: calls `kill` (to stop the children) and exits with status 130. */
export function killOnInterrupt(kill: () => void): void {
  process.once('SIGINT', () => {
    kill();
    process.exit(130);
  });
}
