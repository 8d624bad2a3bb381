import type { StoreWrite, StoreWriteResult } from './types';

/** A group is cut at this many writes (a commit of parcels up to 9 MiB each must stay reasonable). */
export const MAX_GROUP_COMMIT_WRITES = 64;

interface PendingWrites {
  readonly writes: readonly StoreWrite[];
  readonly resolve: (results: StoreWriteResult[]) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Group commit over `GatewayStores.writeBatch`: writes submitted while a commit is pending or under
 * way go together into the next batch, one transaction (one fsync) for all of them, and each caller's
 * promise resolves only once the commit that holds its writes is done (so it may acknowledge then).
 *
 * The SQLite stores commit synchronously, so "under way" means: from the first submission until the
 * end of the current turn of the event loop (`setImmediate`); whatever else became ready by then
 * (parcels from other streams whose checks finished) joins. No timer: a lone write is not delayed.
 *
 * If a group fails, each of its submissions is retried alone, so one bad write fails only its own
 * caller.
 */
export class GroupCommitter {
  private pending: PendingWrites[] = [];
  private running = false;

  constructor(
    private readonly writeBatch: (writes: readonly StoreWrite[]) => Promise<StoreWriteResult[]>,
    private readonly maxWrites = MAX_GROUP_COMMIT_WRITES,
  ) {}

  /** Resolves to the results of `writes` (as `writeBatch` would) once they are durable. */
  write(writes: readonly StoreWrite[]): Promise<StoreWriteResult[]> {
    return new Promise((resolve, reject) => {
      this.pending.push({ writes, resolve, reject });
      if (!this.running) void this.run();
    });
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      while (this.pending.length > 0) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        await this.commit(this.takeGroup());
      }
    } finally {
      this.running = false;
    }
  }

  private takeGroup(): PendingWrites[] {
    let count = 0;
    let end = 0;
    while (end < this.pending.length && (end === 0 || count + this.pending[end].writes.length <= this.maxWrites)) {
      count += this.pending[end].writes.length;
      end += 1;
    }
    return this.pending.splice(0, end);
  }

  private async commit(group: PendingWrites[]): Promise<void> {
    let results: StoreWriteResult[];
    try {
      results = await this.writeBatch(group.flatMap((entry) => entry.writes));
    } catch (error) {
      if (group.length === 1) {
        group[0].reject(error);
        return;
      }
      for (const entry of group) await this.commit([entry]);
      return;
    }
    let offset = 0;
    for (const entry of group) {
      entry.resolve(results.slice(offset, offset + entry.writes.length));
      offset += entry.writes.length;
    }
  }
}
