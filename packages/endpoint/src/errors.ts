import { isMessageFault, RelaynetError } from '@twitter-relaynet/core';

/** Base of the endpoint library's errors. */
export class EndpointError extends RelaynetError {}

/**
 * An error of the protocol core about a message (malformed, invalid, unauthorized, undecryptable), as opposed to
 * the endpoint's own (a state it is not ready for, a peer it does not know) or a binding's (a transport failing,
 * to be retried), which share the same root.
 */
export function isCoreError(error: unknown): error is RelaynetError {
  return isMessageFault(error);
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
