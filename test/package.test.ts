import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

/** Runs an ES module snippet with Node from the project root (self-reference by package name). */
function runNode(code: string): string {
  return execFileSync(process.execPath, ['--input-type=module', '-e', code], { cwd: new URL('..', import.meta.url), encoding: 'utf8', timeout: 30_000 });
}

describe('the built package', () => {
  it('resolves netchannel and its subpaths through package.json exports', () => {
    const out = runNode(`
      import * as root from 'netchannel';
      import * as nd from 'netchannel/netdriver';
      import * as ns from 'netchannel/netscheduler';
      import { tcp } from 'netchannel/transports/tcp';
      import { StreamChannel, createNetSocketDriver } from 'netchannel/transports/stream';
      console.log([typeof root.createStack, typeof nd.FrameDecoder, typeof ns.roundRobin, tcp().scheme, typeof StreamChannel, typeof createNetSocketDriver, 'StreamChannel' in nd].join(','));
    `);
    expect(out.trim()).toBe('function,function,function,tcp,function,function,false');
  });

  it('runs a stack from dist/ in a plain Node process', () => {
    const out = runNode(`
      import { createStack } from 'netchannel';
      const a = await createStack({ listen: ['tcp://127.0.0.1:0'], channels: { throughput: 2, latency: 1 } });
      const srv = await a.listen(80);
      srv.on('connection', (s) => s.pipe(s));
      const b = await createStack({ channels: { throughput: 2, latency: 1 } });
      const s = await b.connect(a.addresses[0], 80);
      s.end('ping');
      let got = '';
      for await (const c of s) got += c;
      await b.close(); await a.close();
      console.log(got);
    `);
    expect(out.trim()).toBe('ping');
  });
});
