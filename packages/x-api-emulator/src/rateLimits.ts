/** Per-endpoint, per-user rate limits over fixed 15-minute windows, as the X API reports them. */

export const RATE_LIMIT_WINDOW_MS = 15 * 60_000;

/** The endpoints the emulator serves, named as in the X API documentation. */
export type EndpointName =
  'POST /2/tweets' | 'GET /2/users/me' | 'GET /2/users/:id/timelines/reverse_chronological' | 'GET /2/tweets/:id';

/** Requests allowed per user per 15-minute window (the X API's per-user limits for these endpoints). */
export const DEFAULT_RATE_LIMITS: Readonly<Record<EndpointName, number>> = {
  'POST /2/tweets': 200,
  'GET /2/users/me': 75,
  'GET /2/users/:id/timelines/reverse_chronological': 180,
  'GET /2/tweets/:id': 900,
};

export interface RateLimitStatus {
  readonly limit: number;
  readonly remaining: number;
  /** Epoch seconds at which the window resets. */
  readonly reset: number;
  readonly exceeded: boolean;
}

interface Window {
  start: number;
  used: number;
}

export class RateLimiter {
  private readonly limits: Record<EndpointName, number>;
  private readonly windows = new Map<string, Window>();

  constructor(
    limits: Partial<Record<EndpointName, number>>,
    private readonly now: () => number,
  ) {
    this.limits = { ...DEFAULT_RATE_LIMITS, ...limits };
  }

  setLimit(endpoint: EndpointName, limit: number): void {
    this.limits[endpoint] = limit;
  }

  /** Forget every window: all limits are fully available again. */
  reset(): void {
    this.windows.clear();
  }

  /** Count one request by `userId` to `endpoint`. */
  consume(endpoint: EndpointName, userId: string): RateLimitStatus {
    const now = this.now();
    const key = `${endpoint} ${userId}`;
    let window = this.windows.get(key);
    if (!window || now >= window.start + RATE_LIMIT_WINDOW_MS) {
      window = { start: now, used: 0 };
      this.windows.set(key, window);
    }
    const limit = this.limits[endpoint];
    const exceeded = window.used >= limit;
    if (!exceeded) window.used += 1;
    return {
      limit,
      remaining: Math.max(0, limit - window.used),
      reset: Math.ceil((window.start + RATE_LIMIT_WINDOW_MS) / 1000),
      exceeded,
    };
  }
}
