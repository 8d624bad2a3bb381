import { CcaRefusedError, type CcaRefusalReason } from '@twitter-relaynet/cogrpc';
import {
  CcaReusedError,
  CcaTimingError,
  CcaUnauthorizedSenderError,
  CcaWrongRecipientError,
  MalformedCcaError,
} from '@twitter-relaynet/gateway';

/** The gateway library's CCA refusal as the CogRPC binding's, which maps it to a gRPC status; other errors as they are. */
export function toCogRPCRefusal(error: unknown): unknown {
  let reason: CcaRefusalReason | null = null;
  if (error instanceof MalformedCcaError) reason = 'malformed';
  else if (error instanceof CcaTimingError) reason = 'expired';
  else if (error instanceof CcaWrongRecipientError) reason = 'invalid';
  else if (error instanceof CcaUnauthorizedSenderError) reason = 'unknown';
  else if (error instanceof CcaReusedError) reason = 'reused';
  return reason ? new CcaRefusedError(reason, (error as Error).message, { cause: error }) : error;
}
