/**
 * The relaying gateway's delivery of parcels to public endpoints, as named steps: claim a round of due parcels
 * (one commit), route each by its recipient's Internet address, deliver each route's group over one connection,
 * then commit the outcome (delivered: deleted and remembered; not acknowledged: rescheduled with the parcel's
 * backoff; route failing: left alone until the route's backoff ends). The binding is plugged in (`connect`):
 * this module knows no transport.
 */
import { errorMessage, type Logger } from '@twitter-relaynet/core';
import type { RelayingGateway } from './RelayingGateway';
import { RouteBackoff } from './routeBackoff';
import type { ParcelRecord } from './stores/types';

/** Parcels claimed per delivery round. */
export const DELIVERY_BATCH = 20;
/** Delivery rounds under way at once: the next round is claimed while the previous one is delivered. */
export const DELIVERY_ROUNDS_IN_FLIGHT = 2;
/**
 * ... unless the rounds under way already hold this many octets of parcels: big parcels gain little from the
 * overlap, and a second round of them would only add to the daemon's peak memory.
 */
export const DELIVERY_PIPELINE_MAX_BYTES = 8 * 1024 * 1024;

/** Where the parcels for an Internet address go (the binding's own details ride along). */
export interface InternetRoute {
  /** host:port, for the logs. */
  readonly target: string;
  /** Where the route was found (configuration, address book...), for the logs. */
  readonly source: string;
}

/** A connection to a public endpoint (e.g. a PogRPC client): delivers parcels, reports those acknowledged. */
export interface ParcelConnection {
  deliverParcels(
    parcels: Iterable<{ readonly id: string; readonly parcel: Buffer }>,
    options: { readonly signal?: AbortSignal },
  ): Promise<{ readonly acked: readonly string[]; readonly error?: Error }>;
  close(): void;
}

/** A route that failed: its parcels wait until `retryAt`. */
export interface RouteFailure<Route extends InternetRoute> {
  readonly route: Route;
  readonly parcels: readonly ParcelRecord[];
  readonly retryAt: Date;
  readonly error: Error;
}

export interface InternetDeliveryOptions<Route extends InternetRoute> {
  readonly gateway: RelayingGateway;
  /** The route to an Internet address; throws if there is none (the parcel is rescheduled). */
  readonly resolve: (internetAddress: string) => Route;
  /** Routes with the same key share a connection and a backoff. */
  readonly routeKey: (route: Route) => string;
  readonly connect: (route: Route) => ParcelConnection;
  /** Wait for news (parcels queued) or `timeoutMs`, whichever comes first; resolves at once once `signal` aborts. */
  readonly waitForParcels: (signal: AbortSignal, timeoutMs: number) => Promise<void>;
  /** How long to wait for news when nothing is due. */
  readonly pollIntervalMs: number;
  readonly logger: Logger;
  /** A round failed (e.g. the database did not answer); default: logged as an error. */
  readonly onRoundError?: (error: unknown) => void;
  /** A route failed; default: logged as a warning. */
  readonly onRouteFailure?: (failure: RouteFailure<Route>) => void;
  readonly routeBackoff?: RouteBackoff;
}

export class InternetDelivery<Route extends InternetRoute> {
  private readonly connections = new Map<string, ParcelConnection>();
  private readonly routeBackoff: RouteBackoff;
  private readonly abort = new AbortController();
  private loop: Promise<void> | null = null;

  constructor(private readonly options: InternetDeliveryOptions<Route>) {
    this.routeBackoff = options.routeBackoff ?? new RouteBackoff();
  }

  private get stopping(): boolean {
    return this.abort.signal.aborted;
  }

  start(): this {
    this.loop ??= this.run();
    return this;
  }

  /** Stop claiming; resolves once the rounds under way are over and the connections closed. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
    for (const connection of this.connections.values()) connection.close();
    this.connections.clear();
  }

  /**
   * Claim a round of parcels (one commit), start delivering it, and claim the next round meanwhile: up to
   * DELIVERY_ROUNDS_IN_FLIGHT rounds (and DELIVERY_PIPELINE_MAX_BYTES) at once, so that our commits overlap the
   * public endpoints' work instead of waiting for it. Each parcel is deleted only once acknowledged.
   */
  private async run(): Promise<void> {
    const rounds = new Set<Promise<void>>();
    let bytesInFlight = 0;
    while (!this.stopping) {
      let claimed: ParcelRecord[] = [];
      try {
        claimed = await this.options.gateway.nextDeliverables(DELIVERY_BATCH);
      } catch (error) {
        this.roundFailed(error);
      }
      if (claimed.length > 0) {
        const bytes = claimed.reduce((sum, parcel) => sum + parcel.serialized.length, 0);
        bytesInFlight += bytes;
        const round: Promise<void> = this.deliverRound(claimed)
          .catch((error) => this.roundFailed(error))
          .finally(() => {
            rounds.delete(round);
            bytesInFlight -= bytes;
          });
        rounds.add(round);
        while (
          rounds.size >= DELIVERY_ROUNDS_IN_FLIGHT ||
          (rounds.size > 0 && bytesInFlight >= DELIVERY_PIPELINE_MAX_BYTES)
        ) {
          await Promise.race(rounds);
        }
      } else if (!this.stopping) {
        await this.options.waitForParcels(this.abort.signal, this.options.pollIntervalMs);
      }
    }
    await Promise.allSettled(rounds);
  }

  private roundFailed(error: unknown): void {
    if (this.options.onRoundError) this.options.onRoundError(error);
    else this.options.logger.error({ err: errorMessage(error) }, 'Delivery round failed');
  }

  /** Route the claimed parcels and deliver each route's group; a commit per kind of outcome. */
  private async deliverRound(claimed: readonly ParcelRecord[]): Promise<void> {
    const { gateway, logger } = this.options;
    const groups = new Map<string, { route: Route; parcels: ParcelRecord[] }>();
    const unroutable: ParcelRecord[] = [];
    for (const parcel of claimed) {
      let route: Route;
      try {
        route = this.options.resolve(parcel.recipientInternetAddress ?? '');
      } catch (error) {
        logger.warn({ parcelId: parcel.id, err: errorMessage(error) }, 'Cannot resolve the recipient address');
        unroutable.push(parcel);
        continue;
      }
      const key = this.options.routeKey(route);
      const group = groups.get(key) ?? { route, parcels: [] };
      group.parcels.push(parcel);
      groups.set(key, group);
    }
    if (unroutable.length > 0) await gateway.markFailedBatch(unroutable);
    await Promise.all(
      [...groups.entries()].map(async ([key, group]) => {
        const blockedUntil = this.routeBackoff.blockedUntil(key);
        if (!blockedUntil) return this.deliverGroup(key, group.route, group.parcels);
        // The route failed a moment ago: these parcels wait for its next try instead of failing one by one.
        await gateway.postponeBatch(group.parcels, blockedUntil);
      }),
    );
  }

  private async deliverGroup(key: string, route: Route, parcels: readonly ParcelRecord[]): Promise<void> {
    const { gateway, logger } = this.options;
    let connection = this.connections.get(key);
    if (!connection) {
      connection = this.options.connect(route);
      this.connections.set(key, connection);
    }
    const byDeliveryId = new Map(parcels.map((parcel, index) => [`${index}:${parcel.id}`.slice(0, 255), parcel]));
    const report = await connection.deliverParcels(
      [...byDeliveryId.entries()].map(([id, parcel]) => ({ id, parcel: parcel.serialized })),
      { signal: this.abort.signal },
    );
    const acked = new Set(report.acked);
    const delivered: ParcelRecord[] = [];
    const failed: ParcelRecord[] = [];
    for (const [id, parcel] of byDeliveryId) {
      if (acked.has(id)) delivered.push(parcel);
      // Cut short by the stop: neither delivered nor failed (their lease is released at the next start).
      else if (!this.stopping) failed.push(parcel);
    }
    const where = { target: route.target, route: route.source };
    // One commit for the round's acknowledged parcels (ledger entries and deletions), one for the rest.
    const deleted = delivered.length > 0 ? await gateway.markDeliveredBatch(delivered) : [];
    delivered.forEach((parcel, index) => {
      // Not deleted: no longer queued (its lease ran out and another instance delivered it too, say).
      const gone = deleted[index] ? {} : { noLongerQueued: true };
      logger.info(
        { parcelId: parcel.id, senderId: parcel.senderId, ...where, ...gone },
        'Parcel delivered to public endpoint',
      );
    });
    for (const parcel of failed) {
      logger.warn(
        { parcelId: parcel.id, ...where, err: report.error?.message },
        'Parcel not acknowledged by public endpoint',
      );
    }
    if (failed.length > 0) await gateway.markFailedBatch(failed);
    if (!report.error) {
      this.routeBackoff.succeeded(key);
      return;
    }
    // Drop the connection: the next attempt reconnects (the endpoint may have restarted elsewhere). With two rounds
    // in flight, both see the failure of the same connection: only the first one counts it.
    if (this.connections.get(key) !== connection) return;
    connection.close();
    this.connections.delete(key);
    const failure = { route, parcels, retryAt: this.routeBackoff.failed(key), error: report.error };
    if (this.options.onRouteFailure) this.options.onRouteFailure(failure);
    else logger.warn(routeFailureFields(failure), 'Public endpoint unreachable: its parcels wait for the next try');
  }
}

/** The log fields of a route failure. */
export function routeFailureFields(failure: RouteFailure<InternetRoute>): Record<string, unknown> {
  return {
    target: failure.route.target,
    route: failure.route.source,
    parcels: failure.parcels.length,
    retryAt: failure.retryAt.toISOString(),
    err: failure.error.message,
  };
}
