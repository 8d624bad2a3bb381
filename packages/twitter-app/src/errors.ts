import { ConfigurationError, UsageError } from '@twitter-relaynet/config';
import { RelaynetError } from '@twitter-relaynet/core';

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

/** An error of the app reported to the user as one line, with its exit status. */
export class AppError extends RelaynetError {
  constructor(
    message: string,
    readonly exitCode: ExitCodeValue,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * What the app reports to the user as one line with an exit status: its own errors, and the usage and
 * configuration errors every executable shares (`@twitter-relaynet/config`).
 */
export type AppProblem = AppError | UsageError | ConfigurationError;

export function isAppProblem(error: unknown): error is AppProblem {
  return error instanceof AppError || error instanceof UsageError || error instanceof ConfigurationError;
}

/** The exit status of a problem (OK for none). */
export function exitCodeOf(problem: AppProblem | null): ExitCodeValue {
  if (problem === null) return ExitCode.OK;
  if (problem instanceof UsageError) return ExitCode.USAGE;
  if (problem instanceof ConfigurationError) return ExitCode.CONFIGURATION;
  return problem.exitCode;
}

/** The same problem, said with `suffix` added to its message (the original is its cause). */
export function withSuffix(problem: AppProblem, suffix: string): AppProblem {
  const message = `${problem.message}${suffix}`;
  if (problem instanceof UsageError) return new UsageError(message, { cause: problem });
  if (problem instanceof ConfigurationError) return new ConfigurationError(message, { cause: problem });
  return new AppError(message, problem.exitCode, { cause: problem });
}

export class GatewayUnreachableError extends AppError {
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
  constructor(socketPath: string, detail: string, options?: { cause?: unknown }) {
    super(
      `the user gateway at ${socketPath} refused our certificate (${detail})`,
      ExitCode.GATEWAY_UNREACHABLE,
      options,
    );
  }
}
