/**
 * The error a socket fails with when the peer resets it, by RST reason.
 * @packageDocumentation
 */
import { ErrorCode, SocketError } from '../errors/index.js';
import { ResetReason } from '../netdriver/frame.js';

/** The `SocketError` for an RST with `reason` received on the socket described by `where`. */
export function resetError(reason: number, where: string): SocketError {
  switch (reason) {
    case ResetReason.REFUSED:
      return new SocketError(ErrorCode.CONNECTION_REFUSED, `connection refused: nobody listens on ${where}`);
    case ResetReason.PROTOCOL:
      return new SocketError(ErrorCode.PROTOCOL, `peer reset ${where} for a protocol violation`);
    case ResetReason.LIMIT:
      return new SocketError(ErrorCode.LIMIT, `peer refused ${where}: limit reached`);
    default:
      return new SocketError(ErrorCode.CONNECTION_RESET, `connection reset by peer (${where})`);
  }
}
