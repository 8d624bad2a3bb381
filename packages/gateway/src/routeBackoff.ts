import { backoffDelay } from '@twitter-relaynet/core';

/**
 * When a public endpoint cannot be reached, nothing is gained by trying again for every parcel that comes in:
 * each attempt costs a TLS handshake and a rewrite of the parcel's row, and while the gateway is busy retrying, a
 * courier's cargo waits for its acknowledgement. So a route that failed is left alone for a while (1 s, doubling
 * up to a minute); its parcels wait in the queue until then.
 */
export const ROUTE_RETRY_INITIAL_MS = 1_000;
export const ROUTE_RETRY_MAX_MS = 60_000;

export class RouteBackoff {
  private readonly routes = new Map<string, { failures: number; until: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Until when the route must not be tried, or null if it may be tried now. */
  blockedUntil(route: string): Date | null {
    const state = this.routes.get(route);
    return state && state.until > this.now() ? new Date(state.until) : null;
  }

  /** The route failed: it may be tried again at the returned date. */
  failed(route: string): Date {
    const failures = (this.routes.get(route)?.failures ?? 0) + 1;
    const delay = backoffDelay(failures, { initialDelayMs: ROUTE_RETRY_INITIAL_MS, maxDelayMs: ROUTE_RETRY_MAX_MS });
    const until = this.now() + delay;
    this.routes.set(route, { failures, until });
    return new Date(until);
  }

  /** The route works again: no more waiting. */
  succeeded(route: string): void {
    this.routes.delete(route);
  }
}
