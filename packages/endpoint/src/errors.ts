/** Errors of the endpoint library. */
export class EndpointError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * A parcel this endpoint refuses for good (malformed, badly signed, wrongly addressed, expired,
 * unauthorized, undecryptable): it is logged and acknowledged, never handed to the app.
 */
export class InvalidParcelError extends EndpointError {}

/** The endpoint is not ready for this (not registered, unknown peer, no identity). */
export class EndpointStateError extends EndpointError {}

/** The peer is unknown or what it sent us to reach it (connection parameters, PDA) is unusable. */
export class PeerError extends EndpointError {}

/** The connection parameters file/document is malformed. */
export class ConnectionParametersError extends EndpointError {}
