import { BindingError } from '@twitter-relaynet/binding';

/** Base of every error this package raises. */
export class PogRPCError extends BindingError {}

/** The call ended with a non-OK gRPC status (or failed to start). */
export class PogRPCCallError extends PogRPCError {
  public constructor(
    message: string,
    public readonly code: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The server broke the protocol (e.g. acked an unknown id). */
export class PogRPCProtocolError extends PogRPCError {}

/** Delivery was cancelled through its AbortSignal. */
export class PogRPCAbortedError extends PogRPCError {}

/** A parcel is empty or exceeds the maximum length; or a delivery id is invalid. */
export class PogRPCInvalidParcelError extends PogRPCError {}

/**
 * Thrown by a server's handler (storing a message, checking a CCA, answering a registration) that cannot serve now
 * for a reason its owner reports once, elsewhere: say, its database is unreachable, which the owner logs when the
 * outage starts and when it ends. The call ends with UNAVAILABLE (the client keeps its messages and tries later),
 * the details being this error's message, and the binding logs no line of its own for it: an outage is one line in
 * the log, not one per request.
 */
export class ServiceUnavailableError extends PogRPCError {}
