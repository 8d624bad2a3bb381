/** A configuration problem: the message names the variable (and the file and line, for .env). */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    message: string,
    readonly variable?: string,
  ) {
    super(message);
  }
}
