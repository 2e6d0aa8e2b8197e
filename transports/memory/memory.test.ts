import { describe, expect, it } from 'vitest';
import { channelDriverCompliance } from '../../compliance/index.js';
import { controlFrame, FrameType } from '../../netdriver/frame.js';
import { memory, MemoryChannel, MemoryNetwork } from './index.js';

channelDriverCompliance('memory', {
  setup: async () => ({ driver: memory({ network: new MemoryNetwork() })({ hostId: '0'.repeat(32) }), listenAddress: 'memory://compliance' }),
});

describe('memory frames are checked like decoded bytes', () => {
  it('a DATA payload over the receiver’s maxPayload, or an unknown type, closes that channel with a typed error', async () => {
    for (const [frame, code] of [
      [{ ...controlFrame(FrameType.DATA, 1, 2), payload: Buffer.alloc(2048) }, 'NETCHANNEL_ERR_FRAME_TOO_LARGE'],
      [{ ...controlFrame(FrameType.DATA, 1, 2), type: 0x7f as never }, 'NETCHANNEL_ERR_BAD_FRAME'],
    ] as const) {
      const [a, b] = MemoryChannel.pair(
        { scheme: 'memory', localAddress: 'memory://a', remoteAddress: 'memory://b' },
        { scheme: 'memory', localAddress: 'memory://b', remoteAddress: 'memory://a', maxPayload: 1024 },
      );
      const closed = new Promise<Error | undefined>((resolve) => b.once('close', resolve));
      a.enqueue(frame);
      expect(await closed).toMatchObject({ code });
      expect(b.dequeue()).toEqual([]);
    }
  });
});
