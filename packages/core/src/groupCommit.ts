/** A group is cut at this many items (a commit of parcels up to 9 MiB each must stay reasonable). */
export const MAX_GROUP_COMMIT_ITEMS = 64;

/** Commits `items` in one transaction and returns one result per item, in order; throws if nothing was committed. */
export type CommitGroup<Item, Result> = (items: readonly Item[]) => Promise<readonly Result[]> | readonly Result[];

interface Submission<Item, Result> {
  readonly items: readonly Item[];
  readonly resolve: (results: Result[]) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Group commit: submissions made while a commit is pending or under way go together into the next
 * group, one transaction (one fsync) for all of them, and each submission's promise resolves only once
 * the commit that holds it is done, so its caller may acknowledge then. The gateway's stores and the
 * endpoint's SQLite database both write through one of these.
 *
 * "Pending" lasts until the end of the current turn of the event loop (`setImmediate`): whatever else
 * became ready by then (parcels from other streams whose checks finished, the several small writes of
 * one message) joins. No timer: a lone submission is not delayed. One commit runs at a time.
 *
 * A group holds at most `maxItems` items (a larger submission goes alone); the rest waits for the next.
 *
 * Failure: if a group of several submissions fails, each submission is committed again on its own, at
 * once, so a bad write fails only its own caller and the others are not held back. No delayed retry:
 * the stores already wait for their locks, and a commit that fails twice is not transient.
 */
export class GroupCommitter<Item, Result> {
  private pending: Submission<Item, Result>[] = [];
  private running = false;
  /** Set by `flush`: commit what is pending without waiting for the end of the turn. */
  private hurry = false;
  private drained: (() => void)[] = [];

  constructor(
    private readonly commitGroup: CommitGroup<Item, Result>,
    private readonly maxItems = MAX_GROUP_COMMIT_ITEMS,
  ) {
    if (!(Number.isInteger(maxItems) && maxItems >= 1)) {
      throw new RangeError(`A group must hold at least one item (${maxItems})`);
    }
  }

  /** Resolves to the results of `items` (as `commitGroup` would return them) once they are committed. */
  submit(items: readonly Item[]): Promise<Result[]> {
    return new Promise<Result[]>((resolve, reject) => {
      this.pending.push({ items, resolve, reject });
      this.start();
    });
  }

  /** `submit` for one item. */
  async submitOne(item: Item): Promise<Result> {
    const [result] = await this.submit([item]);
    return result;
  }

  /** Commits what is pending now, without waiting for the end of the turn; resolves once all is settled. */
  flush(): Promise<void> {
    if (!this.running && this.pending.length === 0) return Promise.resolve();
    this.hurry = true;
    return new Promise<void>((resolve) => {
      this.drained.push(resolve);
      this.start();
    });
  }

  private start(): void {
    if (this.running) return;
    this.running = true;
    void this.run();
  }

  private async run(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        if (!this.hurry) await new Promise<void>((resolve) => setImmediate(resolve));
        await this.commit(this.takeGroup());
      }
    } finally {
      this.running = false;
      this.hurry = false;
      const drained = this.drained;
      this.drained = [];
      for (const resolve of drained) resolve();
    }
  }

  private takeGroup(): Submission<Item, Result>[] {
    let count = 0;
    let end = 0;
    while (end < this.pending.length && (end === 0 || count + this.pending[end].items.length <= this.maxItems)) {
      count += this.pending[end].items.length;
      end += 1;
    }
    return this.pending.splice(0, end);
  }

  private async commit(group: readonly Submission<Item, Result>[]): Promise<void> {
    let results: readonly Result[];
    try {
      results = await this.commitGroup(group.flatMap((submission) => submission.items));
    } catch (error) {
      if (group.length === 1) {
        group[0].reject(error);
        return;
      }
      for (const submission of group) await this.commit([submission]);
      return;
    }
    let offset = 0;
    for (const submission of group) {
      submission.resolve(results.slice(offset, offset + submission.items.length));
      offset += submission.items.length;
    }
  }
}
