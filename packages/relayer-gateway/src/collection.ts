import type { CollectableCargo } from '@twitter-relaynet/cogrpc';
import { errorMessage, type Logger } from '@twitter-relaynet/core';
import type { CargoCollection, OutgoingCargo } from '@twitter-relaynet/gateway';

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
  return mapCargoes(collection.cargoes, {
    map: (cargo) => {
      sent += 1;
      return {
        cargo: cargo.serialized,
        acknowledged: async () => {
          acknowledged += 1;
        },
      };
    },
    end: () => {
      complete = true;
    },
    error: (error) => asOutage(error, options.database),
  });
}

/**
 * The gateway's cargoes, each as `map` makes it. Not an async generator consuming them with for-await: that keeps
 * the last cargo (~9 MiB) alive until the next one is made, beside it; here nothing holds a cargo once handed on.
 * `end` runs once they are all out; `error` turns a failure to make one into what the caller sees.
 */
export function mapCargoes<T>(
  cargoes: AsyncIterator<OutgoingCargo>,
  how: { map(cargo: OutgoingCargo): T; end?(): void; error?(error: unknown): unknown },
): AsyncIterableIterator<T> {
  // After a failure, the cargoes read as ended (as a generator does) without `end`: they did not all go out.
  let failed = false;
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next(): Promise<IteratorResult<T>> {
      let result: IteratorResult<OutgoingCargo>;
      try {
        result = await cargoes.next();
      } catch (error) {
        failed = true;
        throw how.error ? how.error(error) : error;
      }
      if (result.done) {
        if (!failed) how.end?.();
        return { done: true, value: undefined };
      }
      return { done: false, value: how.map(result.value) };
    },
    async return(): Promise<IteratorResult<T>> {
      await cargoes.return?.(undefined);
      return { done: true, value: undefined };
    },
  };
}
