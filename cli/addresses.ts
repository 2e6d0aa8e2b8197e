/**
 * Start-time checks of the stack addresses given to `netchannel tunnel` (`--peer`,
 * `--listen`): the scheme must be one the tunnel's stack has (tcp, unix) and the rest
 * must parse, so a typo exits 2 at start instead of failing when a client connects.
 * @packageDocumentation
 */
import { InvalidArgumentError, NetChannelError } from '../errors/index.js';
import { parseHostPort, splitAddress } from '../netdriver/address.js';
import { unixPath } from '../transports/unix/index.js';

/** Address schemes the tunnel's stack registers (its default transports). */
export const TUNNEL_SCHEMES: readonly string[] = ['tcp', 'unix'];

/**
 * Checks one stack address. `role` `dial` (`--peer`) needs a real port; `listen`
 * accepts port 0 (any free port).
 * @throws InvalidArgumentError naming the flag and the value.
 */
export function checkStackAddress(value: unknown, flag: string, role: 'dial' | 'listen'): string {
  if (typeof value !== 'string' || value === '') throw new InvalidArgumentError(`${flag} must be an address like tcp://10.0.0.2:7000, got ${JSON.stringify(value)}`);
  try {
    const { scheme } = splitAddress(value);
    if (!TUNNEL_SCHEMES.includes(scheme)) {
      throw new InvalidArgumentError(`scheme '${scheme}' is not one of ${TUNNEL_SCHEMES.map((s) => `${s}://`).join(', ')}`);
    }
    if (scheme === 'tcp') parseHostPort(value, 'tcp', role === 'listen');
    else unixPath(value);
  } catch (err) {
    if (!(err instanceof NetChannelError)) throw err;
    throw new InvalidArgumentError(`${flag} ${JSON.stringify(value)} is not a valid stack address (e.g. tcp://10.0.0.2:7000 or unix:///run/nc.sock): ${err.message}`);
  }
  return value;
}
