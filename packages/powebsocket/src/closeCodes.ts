import { PoWebSocketError } from './errors';

/**
 * WebSocket close codes used by PoWebSocket (RS-016 [2019] leaves them open; these follow RFC 6455 and
 * the codes RS-016 [HEAD] (PoWeb) assigns where it assigns one).
 */
export enum CloseCode {
  /** Done: the closing side has nothing more to do (client finished; or registration-only connection). */
  Normal = 1000,
  /** The server is shutting down. Retry later. */
  GoingAway = 1001,
  /**
   * Unsupported/invalid data: text frame, empty message, unknown tag, invalid protobuf, invalid handshake
   * challenge/response, handshake signature that does not verify, acknowledgement of an unknown delivery id.
   */
  UnsupportedData = 1003,
  /**
   * Policy violation: a well-formed message that is not allowed here (wrong direction or phase, collection
   * requested twice, too many unacknowledged messages, deauthorization for an endpoint the connection did
   * not authenticate, registration refused or not offered).
   */
  PolicyViolation = 1008,
  /** Message too big: a frame larger than the 9 MiB limit (ws enforces maxPayload), or a parcel > 9 MiB. */
  MessageTooBig = 1009,
  /** Internal error: the local handler or parcel source failed; unacknowledged messages are kept. */
  InternalError = 1011,
  /** The server must close early (its maximum connection lifetime elapsed). Reconnect now. */
  RetryNow = 4000,
  /** Timeout: the peer stalled (handshake not completed, no frame/pong within the idle timeout, no ack). */
  Timeout = 4001,
}

/** Error whose close code is used when it ends a connection. */
export class ProtocolError extends PoWebSocketError {
  constructor(
    readonly closeCode: CloseCode,
    message: string,
  ) {
    super(message);
  }
}
