/** Exit statuses of twitter-app (documented in --help and the README). */
export const ExitCode = {
  OK: 0,
  /** Unexpected failure (a bug, a corrupt store, ...). */
  FAILURE: 1,
  /** Bad usage: unknown option or command, or tweet text that cannot be posted (empty, too long). */
  USAGE: 2,
  /** The user gateway is not reachable (not running, wrong socket) or refused us. */
  GATEWAY_UNREACHABLE: 3,
  /** Configuration problem: the adapter's connection parameters or the .env file is missing or malformed. */
  CONFIGURATION: 4,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** An error reported to the user as one line, with its exit status. */
export class AppError extends Error {
  override name = 'AppError';
  constructor(
    message: string,
    readonly exitCode: ExitCodeValue,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class UsageError extends AppError {
  override name = 'UsageError';
  constructor(message: string) {
    super(message, ExitCode.USAGE);
  }
}

export class ConfigurationError extends AppError {
  override name = 'ConfigurationError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.CONFIGURATION, options);
  }
}

export class GatewayUnreachableError extends AppError {
  override name = 'GatewayUnreachableError';
  constructor(
    readonly socketPath: string,
    detail?: string,
    options?: { cause?: unknown },
  ) {
    super(
      `user gateway not reachable at ${socketPath}: start it with npm start${detail ? ` (${detail})` : ''}`,
      ExitCode.GATEWAY_UNREACHABLE,
      options,
    );
  }
}

/** The user gateway refused our certificate in the handshake (e.g. it has a new identity): register again. */
export class IdentityRefusedError extends AppError {
  override name = 'IdentityRefusedError';
  constructor(socketPath: string, detail: string, options?: { cause?: unknown }) {
    super(
      `the user gateway at ${socketPath} refused our certificate (${detail})`,
      ExitCode.GATEWAY_UNREACHABLE,
      options,
    );
  }
}
