import { ServiceUnavailableError } from '@twitter-relaynet/binding';
import { RelaynetError } from '@twitter-relaynet/core';

/** What knows whether the shared database answers (PostgresGatewayStores): it logs each outage once, start and end. */
export interface Reachability {
  readonly reachable: boolean;
}

/**
 * A binding handler's failure as the bindings' ServiceUnavailableError when it comes from a database outage (the
 * stores logged it once already): the request is refused with UNAVAILABLE and no log line of its own. Any other
 * error is returned as it is, refusals above all (the gateway's, about the message, and the bindings'), whatever
 * the database does (the bindings' errors are RelaynetErrors too). `database` is null for SQLite, whose failures are never an outage.
 */
export function asOutage(error: unknown, database: Reachability | null): unknown {
  if (!database || database.reachable || error instanceof RelaynetError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new ServiceUnavailableError(`Database unreachable, nothing was acknowledged: try again later (${reason})`, {
    cause: error,
  });
}

/** `task`, its failure passed through `asOutage`. */
export async function refusingDuringOutage<T>(database: Reachability | null, task: () => Promise<T>): Promise<T> {
  try {
    return await task();
  } catch (error) {
    throw asOutage(error, database);
  }
}
