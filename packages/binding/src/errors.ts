import { RelaynetError } from '@twitter-relaynet/core';

/**
 * Root of every error a binding raises (each binding has its own base below it: `CoSocketError`, `PogRPCError`
 * and its `CogRPCError`, `PoWebSocketError`), so that a caller can tell a transport failure from a protocol-core
 * one without knowing which binding carried the message.
 */
export class BindingError extends RelaynetError {}

/**
 * Thrown by a server's handler (storing a message, checking a CCA, answering a registration) that cannot serve now
 * for a reason its owner reports once, elsewhere: say, its database is unreachable, which the owner logs when the
 * outage starts and when it ends. The binding ends the request so that the client keeps its messages and tries
 * later (gRPC: UNAVAILABLE; CoSocket: Quit with an internal error), and logs no line of its own for it: an outage
 * is one line in the log, not one per request.
 */
export class ServiceUnavailableError extends BindingError {}
