import { PogRPCError } from '@twitter-relaynet/pogrpc';

/** Base of every error this package raises (a kind of PogRPCError, since both share the gRPC transport). */
export class CogRPCError extends PogRPCError {}

/**
 * Why a CCA was refused, as the gateway's check sees it: `malformed` (not a valid CCA), `invalid` (bad signature
 * or not for this gateway), `expired`, `unknown` (its sender is not a gateway we serve), `reused` (already
 * used once).
 */
export type CcaRefusalReason = 'malformed' | 'invalid' | 'expired' | 'unknown' | 'reused';

/** Thrown by the injected collection function to refuse a CCA; the server maps the reason to a gRPC status. */
export class CcaRefusedError extends CogRPCError {
  public constructor(
    public readonly reason: CcaRefusalReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
