import { BindingError } from '@twitter-relaynet/binding';

/** Base of every error this package raises. */
export class PoWebSocketError extends BindingError {}

/** The connection ended (close code and reason as seen locally) before an operation completed. */
export class ConnectionClosedError extends PoWebSocketError {
  constructor(
    readonly code: number,
    readonly reason: string,
  ) {
    super(`PoWebSocket connection closed (${code}${reason ? `: ${reason}` : ''})`);
  }
}

/** The handshake failed (the gateway closed the connection or sent Complete{success:false}). */
export class HandshakeError extends PoWebSocketError {
  constructor(
    message: string,
    readonly closeCode?: number,
  ) {
    super(message);
  }
}

/** Throw from `issueEndpointCertificate` to refuse a registration: closes the connection with 1008. */
export class RegistrationRefusedError extends PoWebSocketError {}

/** The socket file is not safe to connect to (not a socket, or owned by another user). */
export class UntrustedSocketError extends PoWebSocketError {}
