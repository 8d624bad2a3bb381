interface Waiter<V> {
  readonly resolve: (value: V | undefined) => void;
  readonly reject: (error: unknown) => void;
}

/** Keys per query at most. */
const MAX_KEYS = 500;

/**
 * Lookups by key that callers ask for at about the same time, answered by one query instead of one each: the
 * keys asked for during a turn of the event loop, or while the previous query is under way, go together into the
 * next query. (Parcels arrive by the hundred at once, each with its certificate and ledger lookups: a round trip
 * to the server each was most of an instance's work.)
 *
 * A key never joins a query already sent: every answer comes from a query that started after its question, so it
 * sees whatever was committed before the caller asked, as a query of its own would.
 */
export class CoalescedLookup<V> {
  private pending = new Map<string, Waiter<V>[]>();
  private running = false;

  /** @param fetch the values of the keys found, by key (a key not found is left out) */
  constructor(private readonly fetch: (keys: readonly string[]) => Promise<Map<string, V>>) {}

  get(key: string): Promise<V | undefined> {
    return new Promise((resolve, reject) => {
      const waiters = this.pending.get(key);
      if (waiters) waiters.push({ resolve, reject });
      else this.pending.set(key, [{ resolve, reject }]);
      if (!this.running) void this.run();
    });
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      while (this.pending.size > 0) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        const batch = [...this.pending].slice(0, MAX_KEYS);
        for (const [key] of batch) this.pending.delete(key);
        try {
          const found = await this.fetch(batch.map(([key]) => key));
          for (const [key, waiters] of batch) for (const waiter of waiters) waiter.resolve(found.get(key));
        } catch (error) {
          for (const [, waiters] of batch) for (const waiter of waiters) waiter.reject(error);
        }
      }
    } finally {
      this.running = false;
    }
  }
}
