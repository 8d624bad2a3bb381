/** How the wait between retries grows: `initialDelayMs × factor^(attempt − 1)`, capped, with optional jitter. */
export interface BackoffOptions {
  /** Delay after the first failure (default 1 s). */
  readonly initialDelayMs?: number;
  /** Cap (default 5 min). */
  readonly maxDelayMs?: number;
  /** Growth per failure (default 2). */
  readonly factor?: number;
  /**
   * ± fraction of random jitter (default 0: deterministic). Senders that many peers retry against at once set it,
   * so that their retries do not arrive in step.
   */
  readonly jitter?: number;
}

/**
 * The delay before the next try after `attempts` consecutive failures (1 for the first failure), in milliseconds.
 * Every retry loop in the project uses this one formula, each with its own options.
 */
export function backoffDelay(
  attempts: number,
  options: BackoffOptions = {},
  random: () => number = Math.random,
): number {
  const initial = options.initialDelayMs ?? 1_000;
  const max = options.maxDelayMs ?? 300_000;
  const factor = options.factor ?? 2;
  const jitter = options.jitter ?? 0;
  if (!(initial >= 0 && max >= 0 && Number.isFinite(initial) && Number.isFinite(max))) {
    throw new RangeError(`Backoff delays must be finite and non-negative (initial ${initial}, max ${max})`);
  }
  if (!(factor >= 1 && Number.isFinite(factor))) throw new RangeError(`Backoff factor must be at least 1 (${factor})`);
  if (!(jitter >= 0 && jitter <= 1)) throw new RangeError(`Backoff jitter must be between 0 and 1 (${jitter})`);
  // After many failures factor^n overflows to Infinity; the cap applies all the same (and 0 × Infinity is no delay).
  const growth = factor ** Math.max(0, attempts - 1);
  const base = initial === 0 ? 0 : Math.min(max, initial * growth);
  if (jitter === 0) return base;
  return Math.max(0, Math.round(base * (1 + jitter * (2 * random() - 1))));
}
