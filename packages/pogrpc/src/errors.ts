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
