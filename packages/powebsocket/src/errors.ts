import { CloseCode } from './closeCodes';

/** The connection ended (close code and reason as seen locally) before an operation completed. */
export class ConnectionClosedError extends Error {
  override name = 'ConnectionClosedError';
  constructor(
    readonly code: number,
    readonly reason: string,
  ) {
    super(`PoWebSocket connection closed (${code}${reason ? `: ${reason}` : ''})`);
  }
}

/**
 * Thrown by `deliverParcels()` when the connection ends (or the signal aborts) before every parcel taken
 * from the source was acknowledged. `unacknowledged` holds those parcels, in the order they were taken;
 * parcels the source has not yielded yet were never taken.
 */
export class DeliveryInterruptedError extends Error {
  override name = 'DeliveryInterruptedError';
  constructor(
    readonly unacknowledged: Buffer[],
    override readonly cause: Error,
  ) {
    super(`Parcel delivery interrupted with ${unacknowledged.length} unacknowledged parcel(s): ${cause.message}`);
  }
}

/** The handshake failed (the gateway closed the connection or sent Complete{success:false}). */
export class HandshakeError extends Error {
  override name = 'HandshakeError';
  constructor(
    message: string,
    readonly closeCode?: number,
  ) {
    super(message);
  }
}

/** Throw from `issueEndpointCertificate` to refuse a registration: closes the connection with 1008. */
export class RegistrationRefusedError extends Error {
  override name = 'RegistrationRefusedError';
}

/** The socket file is not safe to connect to (not a socket, or owned by another user). */
export class UntrustedSocketError extends Error {
  override name = 'UntrustedSocketError';
}

export { CloseCode };
