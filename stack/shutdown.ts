/**
 * Graceful shutdown of a stack's sessions: end every virtual socket, wait (bounded)
 * until their data left, then close every device's channels with BYE.
 * @packageDocumentation
 */
import type { PeerSession } from '../vns/peer-session.js';

/**
 * Ends every socket of `sessions`, waits up to `timeoutMs` for them to finish,
 * abandons the rest, then closes the devices (again bounded by `timeoutMs`).
 */
export async function drainSessions(sessions: readonly PeerSession[], timeoutMs: number): Promise<void> {
  const sockets = sessions.flatMap((s) => [...s.sockets.values()]);
  const flushed = sockets.map(
    (sock) =>
      new Promise<void>((resolve) => {
        if (sock.writableFinished || sock.destroyed) return resolve();
        sock.once('finish', resolve);
        sock.once('close', resolve);
        sock.end();
      }),
  );
  await withTimeout(Promise.all(flushed), timeoutMs);
  for (const sock of sockets) if (!sock.destroyed && !sock.readableEnded) sock.abandon();
  await withTimeout(Promise.all(sessions.map((s) => s.device.close())), timeoutMs);
}

/** Resolves after `p` settles or after `ms`, whichever comes first. */
export function withTimeout(p: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    const done = (): void => {
      clearTimeout(t);
      resolve();
    };
    p.then(done, done);
  });
}
