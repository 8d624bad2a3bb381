import { BindingError } from '@twitter-relaynet/binding';

import { QuitReason, quitReasonName, RefusalDisposition } from './constants';

/** Base of every error this package raises. */
export class CoSocketError extends BindingError {}

/** The bytes on the wire violate RS-004 framing; carries the Quit reason to send. */
export class CoSocketProtocolError extends CoSocketError {
  public constructor(
    message: string,
    public readonly quitReason: QuitReason = QuitReason.INVALID_PACKET,
  ) {
    super(message);
  }
}

/** The peer sent Quit with a non-OK reason (or quit while we still expected something). */
export class CoSocketQuitError extends CoSocketError {
  public constructor(
    public readonly quitReason: number,
    message = `Peer quit: ${quitReasonName(quitReason)}`,
  ) {
    super(message);
  }
}

/** The connection closed (or was destroyed) before the operation completed. */
export class CoSocketConnectionClosedError extends CoSocketError {}

/** The operation was cancelled through its AbortSignal. */
export class CoSocketAbortedError extends CoSocketError {}

/** The handshake failed (bad signatures, unexpected packet, no signer configured). */
export class CoSocketHandshakeError extends CoSocketError {}

/** A message exceeds the configured maximum length (or is empty). */
export class CoSocketMessageSizeError extends CoSocketError {}

/**
 * A cargo or a collection request refused with a reason. Thrown by a server's `onCargoDelivered` or
 * `onCargoCollectionRequest` to refuse it (the relayer is told why if it opted in to refusal reports),
 * and by the client when the gateway reported such a refusal.
 */
export class CoSocketRefusalError extends CoSocketError {
  public constructor(
    public readonly reason: string,
    public readonly disposition: RefusalDisposition,
  ) {
    super(reason);
  }
}
