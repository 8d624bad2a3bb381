import { RelaynetError } from '@twitter-relaynet/core';

/**
 * Root of every error a binding raises (each binding has its own base below it: `CoSocketError`, `PogRPCError`
 * and its `CogRPCError`, `PoWebSocketError`), so that a caller can tell a transport failure from a protocol-core
 * one without knowing which binding carried the message.
 */
export class BindingError extends RelaynetError {}
