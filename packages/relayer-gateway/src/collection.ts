import type { CollectableCargo } from '@twitter-relaynet/cogrpc';
import { errorMessage, type Logger } from '@twitter-relaynet/core';
import type { CargoCollection } from '@twitter-relaynet/gateway';

import { asOutage, type Reachability } from './outage';

/**
 * A CogRPC collection's cargo, watched: when the call ends (`signal`) before the courier acknowledged every cargo of
 * a complete generation, the collection was cut off and the gateway is told (`CargoCollection.interrupted`), so
 * that the CCA may be presented once more. A failure to read the cargo during a database outage ends the call as
 * that outage (UNAVAILABLE, logged once by the stores).
 */
export function watchedCollection(
  collection: CargoCollection,
  context: { readonly signal: AbortSignal },
  options: { readonly logger: Logger; readonly database: Reachability | null },
): AsyncIterable<CollectableCargo> {
  let sent = 0;
  let acknowledged = 0;
  let complete = false;
  const onEnd = () => {
    if (complete && acknowledged === sent) return;
    collection.interrupted().catch((error: unknown) => {
      if (asOutage(error, options.database) !== error) return; // the outage is logged once, by the stores
      options.logger.warn(
        { ccaId: collection.ccaId, err: errorMessage(error) },
        'Could not record that a cargo collection was cut off: its CCA stays spent',
      );
    });
  };
  if (context.signal.aborted) onEnd();
  else context.signal.addEventListener('abort', onEnd, { once: true });
  const { cargoes } = collection;
  return (async function* () {
    try {
      for await (const cargo of cargoes) {
        sent += 1;
        yield {
          cargo: cargo.serialized,
          acknowledged: async () => {
            acknowledged += 1;
          },
        };
      }
    } catch (error) {
      throw asOutage(error, options.database);
    }
    complete = true;
  })();
}
