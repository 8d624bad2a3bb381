import { RelaynetError } from '@twitter-relaynet/core';

/** Base of the relay's own errors (a flashdrive in use, a file that is not a message, a gateway's refusal). */
export class RelayError extends RelaynetError {}
