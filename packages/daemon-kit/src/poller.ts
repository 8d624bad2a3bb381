import { type BackoffOptions, backoffDelay } from '@twitter-relaynet/core';

export interface IntervalPollerOptions {
  /** The wait between the end of one run and the start of the next. */
  readonly intervalMs: number;
  /** The work of one run. Runs never overlap. */
  readonly task: () => Promise<unknown>;
  /** A run rejected (`failures`: consecutive failures so far, 1 for the first). */
  readonly onError?: (error: unknown, failures: number) => void;
  /**
   * After a failure, wait `backoffDelay(failures, backoff)` (core's formula) instead of `intervalMs`, but never
   * less than `intervalMs`. Without it, runs keep the interval whatever happens.
   */
  readonly backoff?: BackoffOptions;
}

/**
 * A task run every `intervalMs` (e.g. a folder looked at, expired messages purged), one run at a time, spaced out
 * with core's backoff while it fails. `stop()` waits for the run under way.
 */
export class IntervalPoller {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private failures = 0;
  private stopped = false;

  constructor(private readonly options: IntervalPollerOptions) {}

  /** Schedule the runs; with `immediately`, the first one now (not awaited). */
  start({ immediately = false }: { readonly immediately?: boolean } = {}): this {
    if (immediately) void this.runNow();
    else this.schedule(this.options.intervalMs);
    return this;
  }

  /** Run now (or join the run under way); resolves when it is over. The next run comes an interval after it. */
  runNow(): Promise<void> {
    if (this.stopped) return this.running ?? Promise.resolve();
    if (this.running) return this.running;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.running = this.run().finally(() => {
      this.running = null;
      this.schedule(this.nextDelay());
    });
    return this.running;
  }

  /** No more runs; resolves once the run under way (if any) is over. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  private async run(): Promise<void> {
    try {
      await this.options.task();
      this.failures = 0;
    } catch (error) {
      this.failures += 1;
      this.options.onError?.(error, this.failures);
    }
  }

  private nextDelay(): number {
    const { intervalMs, backoff } = this.options;
    if (this.failures === 0 || !backoff) return intervalMs;
    return Math.max(intervalMs, backoffDelay(this.failures, backoff));
  }

  private schedule(delayMs: number): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.runNow();
    }, delayMs);
  }
}
