import { execFile } from 'node:child_process';
import diagnosticsChannel from 'node:diagnostics_channel';
import { describe, expect, it } from 'vitest';
import { createStack } from '../index.js';
import { readAll } from '../test/pair.js';
import { DIAGNOSTICS_CHANNELS, type DiagnosticsMessage } from './diagnostics.js';

/** Two stacks over tcp in a child process: an echo, a refused connect, a limit hit; both closed. */
const SCRIPT = `
  import { createStack } from 'netchannel';
  const a = await createStack({ listen: ['tcp://127.0.0.1:0'], channels: { throughput: 1, latency: 1 }, maxSocketsPerPeer: 1 });
  (await a.listen(80)).on('connection', (s) => s.on('error', () => {}).pipe(s));
  const b = await createStack({ channels: { throughput: 1, latency: 1 } });
  const s = await b.connect(a.addresses[0], 80);
  s.end('ping');
  let got = '';
  for await (const c of s) got += c;
  await b.connect(a.addresses[0], 99).catch((e) => console.log('refused', e.code));
  const held = await b.connect(a.addresses[0], 80);
  await b.connect(a.addresses[0], 80).catch((e) => console.log('limited', e.code));
  held.destroy();
  await b.close();
  await a.close();
  console.log('echo', got);
`;

function child(env: NodeJS.ProcessEnv): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', SCRIPT], { cwd: new URL('..', import.meta.url), env, timeout: 30_000, encoding: 'utf8' }, (err, stdout, stderr) =>
      err ? reject(Object.assign(err, { stderr })) : resolve({ stdout, stderr }),
    );
  });
}

describe('diagnostics: NODE_DEBUG=netchannel and node:diagnostics_channel', () => {
  it('NODE_DEBUG=netchannel prints channel and socket lifecycle, limits hit and errors; nothing without it', async () => {
    const { NODE_DEBUG: _, ...base } = process.env;
    const on = await child({ ...base, NODE_DEBUG: 'netchannel' });
    expect(on.stdout).toMatch(/refused NETCHANNEL_ERR_CONNECTION_REFUSED/);
    expect(on.stdout).toMatch(/limited NETCHANNEL_ERR_LIMIT/);
    expect(on.stdout).toMatch(/echo ping/);
    const line = (rest: string): RegExp => new RegExp(`^NETCHANNEL \\d+: [0-9a-f]{8} ${rest}`, 'm');
    expect(on.stderr).toMatch(line('channel \\d+ added peer=[0-9a-f]{8} class=throughput index=0 transport=tcp'));
    expect(on.stderr).toMatch(line('channel \\d+ added peer=[0-9a-f]{8} class=latency index=0 transport=tcp'));
    expect(on.stderr).toMatch(line('socket \\d+->80 opened \\(connect\\) peer=[0-9a-f]{8} class=throughput handshake=[\\d.]+ms'));
    expect(on.stderr).toMatch(line('socket 80->\\d+ opened \\(accept\\)'));
    expect(on.stderr).toMatch(line('socket \\d+->80 closed peer=[0-9a-f]{8} class=throughput read=4 written=4'));
    expect(on.stderr).toMatch(line('connect to virtual port 99 failed .*error NETCHANNEL_ERR_CONNECTION_REFUSED'));
    expect(on.stderr).toMatch(line('LIMIT hit: connect to virtual port 80 failed .*error NETCHANNEL_ERR_LIMIT'));
    expect(on.stderr).toMatch(line('channel \\d+ removed \\((closed|failed)\\)'));
    const off = await child(base);
    expect(off.stdout).toMatch(/echo ping/);
    expect(off.stderr).not.toMatch(/NETCHANNEL/);
  });

  it('a diagnostics_channel subscriber sees sockets open and close, channels added and removed, and limits', async () => {
    const seen: Record<string, DiagnosticsMessage[]> = {};
    const subs = Object.values(DIAGNOSTICS_CHANNELS).map((name) => {
      const fn = (m: unknown): void => void (seen[name] ??= []).push(m as DiagnosticsMessage);
      diagnosticsChannel.subscribe(name, fn);
      return () => diagnosticsChannel.unsubscribe(name, fn);
    });
    try {
      const a = await createStack({ listen: ['tcp://127.0.0.1:0'], channels: { throughput: 2, latency: 0 }, maxSocketsPerPeer: 1 });
      const b = await createStack({ channels: { throughput: 2, latency: 0 } });
      (await a.listen(80)).on('connection', (s) => s.on('error', () => {}).pipe(s));
      const s = await b.connect(a.addresses[0]!, 80, { appClass: 'latency' });
      s.end('x');
      expect((await readAll(s)).toString()).toBe('x');
      const held = await b.connect(a.addresses[0]!, 80);
      await expect(b.connect(a.addresses[0]!, 80)).rejects.toMatchObject({ code: 'NETCHANNEL_ERR_LIMIT' });
      held.destroy();
      await b.close();
      await a.close();
      const open = seen[DIAGNOSTICS_CHANNELS.socketOpen] ?? [];
      expect(open).toContainEqual(expect.objectContaining({ type: 'socket-opened', hostId: b.hostId, side: 'connect', appClass: 'latency', remotePort: 80 }));
      expect(open).toContainEqual(expect.objectContaining({ type: 'socket-opened', hostId: a.hostId, side: 'accept', localPort: 80 }));
      expect(seen[DIAGNOSTICS_CHANNELS.socketClose]).toContainEqual(expect.objectContaining({ type: 'socket-closed', hostId: b.hostId, bytesWritten: 1, bytesRead: 1 }));
      expect((seen[DIAGNOSTICS_CHANNELS.channelAdd] ?? []).filter((m) => m.hostId === b.hostId)).toHaveLength(2);
      expect((seen[DIAGNOSTICS_CHANNELS.channelRemove] ?? []).filter((m) => m.hostId === b.hostId)).toHaveLength(2);
      expect(seen[DIAGNOSTICS_CHANNELS.limit]).toContainEqual(expect.objectContaining({ type: 'socket-refused', hostId: b.hostId, code: 'NETCHANNEL_ERR_LIMIT' }));
      expect(seen[DIAGNOSTICS_CHANNELS.socketRefuse]).toContainEqual(expect.objectContaining({ code: 'NETCHANNEL_ERR_LIMIT' }));
    } finally {
      for (const off of subs) off();
    }
  });
});
