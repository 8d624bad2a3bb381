/**
 * Delivers the outbox to relaying gateways over PogRPC: retries with exponential backoff until the gateway
 * acknowledges a parcel (then deletes it) or the parcel expires (then drops it with a log line). The outbox
 * is durable, so what is pending survives restarts; `start()` sends it.
 */
import type { ParcelDeliveryClient } from '@twitter-relaynet/binding';
import { backoffDelay, type BackoffOptions, errorMessage, type Logger } from '@twitter-relaynet/core';
import { PogRPCClient, type ClientTls } from '@twitter-relaynet/pogrpc';

import type { Clock } from './clock';
import type { Outbox, OutboxEntry } from './stores/types';

/** Where to deliver parcels: a relaying gateway's PogRPC server. */
export interface GatewayRoute {
  /** `host:port`, `[v6]:port` or `unix:///path.sock`. */
  readonly target: string;
  readonly tls: ClientTls;
}

/**
 * Picks the route for a parcel from the return address of the gateway the recipient's messages came through
 * (null when unknown). A fixed route ignores it.
 */
export type GatewayResolver = (gatewayAddress: string | null) => GatewayRoute | null;

/** A parcel client of one route (the binding contract), closed when the dispatcher drops it. */
export interface OutboxClient extends ParcelDeliveryClient {
  close(): void;
}

export interface OutboxDispatcherOptions {
  readonly outbox: Outbox;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly resolve: GatewayResolver;
  /** Outbox retries (core's backoff, with ±20 % jitter unless set: many parcels fail at once when a gateway is down). */
  readonly backoff?: BackoffOptions;
  /** Parcels per delivery call (default 100). */
  readonly batchSize?: number;
  /** Optional cap on a whole PogRPC call (none by default: a call ends when no octet moves for 20 s). */
  readonly deadlineMs?: number;
  /** Opens the client of a route; default: a PogRPC client with the route's TLS settings. */
  readonly connect?: (route: GatewayRoute) => OutboxClient;
}

export interface FlushReport {
  readonly delivered: number;
  readonly failed: number;
  readonly expired: number;
}

export class OutboxDispatcher {
  private readonly clients = new Map<string, OutboxClient>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<FlushReport> | undefined;
  private rerun = false;
  private started = false;
  private stopped = false;

  constructor(private readonly options: OutboxDispatcherOptions) {}

  /** Deliver what is pending now, then keep delivering as parcels are added or fall due. */
  start(): void {
    if (this.stopped) throw new Error('The outbox dispatcher was stopped');
    this.started = true;
    this.trigger();
  }

  /** Ask for a delivery pass soon (after `add`). */
  trigger(): void {
    if (!this.started || this.stopped) return;
    this.schedule(0);
  }

  /** One delivery pass (passes never overlap; a pass asked for while one runs follows it). */
  flush(): Promise<FlushReport> {
    if (this.running) {
      this.rerun = true;
      return this.running;
    }
    this.running = (async () => {
      let total = { delivered: 0, failed: 0, expired: 0 };
      try {
        do {
          this.rerun = false;
          const report = await this.pass();
          total = {
            delivered: total.delivered + report.delivered,
            failed: total.failed + report.failed,
            expired: total.expired + report.expired,
          };
        } while (this.rerun && !this.stopped);
        return total;
      } finally {
        this.running = undefined;
        await this.scheduleNext();
      }
    })();
    return this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush().catch((error) =>
        this.options.logger.error({ err: errorMessage(error) }, 'Outbox delivery pass failed'),
      );
    }, delayMs);
    this.timer.unref?.();
  }

  private async scheduleNext(): Promise<void> {
    if (!this.started || this.stopped) return;
    const next = await this.options.outbox.nextAttemptDate();
    if (!next) return;
    this.schedule(Math.max(0, next.getTime() - this.options.clock.now().getTime()));
  }

  private async pass(): Promise<FlushReport> {
    const { outbox, clock, logger } = this.options;
    const batchSize = this.options.batchSize ?? 100;
    const expiredEntries = await outbox.deleteExpired(clock.now());
    for (const entry of expiredEntries) {
      logger.warn(
        {
          parcelId: entry.parcelId,
          recipientId: entry.recipientId,
          attempts: entry.attempts,
          expiryDate: entry.expiryDate.toISOString(),
        },
        'Dropped an expired parcel from the outbox: it was never acknowledged',
      );
    }
    let delivered = 0;
    let failed = 0;
    for (;;) {
      if (this.stopped) break;
      const due = await outbox.listDue(clock.now(), batchSize);
      if (due.length === 0) break;
      const groups = new Map<string, { route: GatewayRoute; entries: OutboxEntry[] }>();
      for (const entry of due) {
        let route: GatewayRoute | null;
        try {
          route = this.options.resolve(entry.gatewayAddress);
        } catch (error) {
          route = null;
          logger.error({ parcelId: entry.parcelId, err: errorMessage(error) }, 'Gateway resolution failed');
        }
        if (!route) {
          failed += 1;
          await this.retryLater(entry, `No route to gateway ${entry.gatewayAddress ?? '(none)'}`);
          continue;
        }
        const group = groups.get(route.target) ?? { route, entries: [] };
        group.entries.push(entry);
        groups.set(route.target, group);
      }
      for (const { route, entries } of groups.values()) {
        const result = await this.deliver(route, entries);
        delivered += result.delivered;
        failed += result.failed;
      }
      if (due.length < batchSize) break;
    }
    return { delivered, failed, expired: expiredEntries.length };
  }

  private async deliver(route: GatewayRoute, entries: OutboxEntry[]): Promise<{ delivered: number; failed: number }> {
    const { outbox, logger } = this.options;
    const client = this.getClient(route);
    const report = await client.deliverParcels(entries.map((entry) => ({ id: entry.parcelId, parcel: entry.parcel })));
    const acked = new Set(report.acked);
    // One commit for the whole call's acks (the gateway has them; a crash before it only resends them).
    await outbox.deleteMany(report.acked);
    for (const parcelId of report.acked) {
      logger.info({ parcelId, gateway: route.target }, 'Parcel delivered to the gateway (acknowledged)');
    }
    let failed = 0;
    const reason = report.error ? errorMessage(report.error) : 'not acknowledged';
    for (const entry of entries) {
      if (acked.has(entry.parcelId)) continue;
      failed += 1;
      await this.retryLater(entry, reason, route.target);
    }
    if (report.error) {
      // Drop the client: the next attempt reconnects from scratch.
      this.clients.get(route.target)?.close();
      this.clients.delete(route.target);
    }
    return { delivered: acked.size, failed };
  }

  private async retryLater(entry: OutboxEntry, reason: string, gateway?: string): Promise<void> {
    const attempts = entry.attempts + 1;
    const delay = backoffDelay(attempts, { jitter: 0.2, ...this.options.backoff });
    const next = new Date(this.options.clock.now().getTime() + delay);
    await this.options.outbox.reschedule(entry.parcelId, next, attempts);
    this.options.logger.warn(
      { parcelId: entry.parcelId, gateway, attempts, retryInMs: delay, reason },
      'Parcel delivery failed; will retry',
    );
  }

  private getClient(route: GatewayRoute): OutboxClient {
    let client = this.clients.get(route.target);
    if (!client) {
      client = this.options.connect
        ? this.options.connect(route)
        : new PogRPCClient(route.target, {
            tls: route.tls,
            deadlineMs: this.options.deadlineMs,
            logger: this.options.logger,
          });
      this.clients.set(route.target, client);
    }
    return client;
  }
}
