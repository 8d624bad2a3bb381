import { RelaynetError } from '@twitter-relaynet/core';

/**
 * A configuration problem (a variable, a `.env` line, a file the configuration names): the message names the
 * variable, and `variable` holds it when there is one. Every executable reports it as one line.
 */
export class ConfigurationError extends RelaynetError {
  /** The variable the problem is about, when there is one. */
  readonly variable?: string;

  constructor(message: string, options: { readonly variable?: string; readonly cause?: unknown } = {}) {
    super(message, 'cause' in options ? { cause: options.cause } : undefined);
    if (options.variable !== undefined) this.variable = options.variable;
  }
}

/** What the user typed cannot be used (an unknown flag, a bad value): one line, and the usage exit status. */
export class UsageError extends RelaynetError {}
