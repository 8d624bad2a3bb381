/** Small helpers to keep several operations in flight, shared by the bench's process and its endpoint children. */

/** Run `op` over `items` with at most `concurrency` in flight; results in order. */
export async function mapConcurrently<T, R>(
  items: readonly T[],
  concurrency: number,
  op: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await op(items[index], index);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  return results;
}

/** Split n into `parts` near-equal shares. */
export function shares(n: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, index) => Math.floor(n / parts) + (index < n % parts ? 1 : 0));
}

/**
 * `make(0)`, `make(1)`, … `make(count - 1)` with up to `concurrency` under way, their results in order, each as
 * soon as it and those before it are ready.
 */
export async function* madeAhead<T>(count: number, concurrency: number, make: (index: number) => Promise<T>) {
  const ahead: Promise<T>[] = [];
  let next = 0;
  const fill = () => {
    while (next < count && ahead.length < concurrency) {
      const made = make(next++);
      made.catch(() => undefined); // awaited in turn below; not an unhandled rejection meanwhile
      ahead.push(made);
    }
  };
  fill();
  while (ahead.length > 0) {
    const result = await ahead.shift()!;
    fill();
    yield result;
  }
}
