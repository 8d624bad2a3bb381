import { DerCache, LruCache } from './lruCache';

/** The candidates the cache holds. It reads them, so it marks them recent: check membership last. */
function keysOf<K, V>(cache: LruCache<K, V>, candidates: readonly K[]): K[] {
  return candidates.filter((key) => cache.get(key) !== undefined);
}

describe('LruCache', () => {
  test('holds at most its limit, forgetting the least recently set first', () => {
    const cache = new LruCache<string, number>(2);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('c', 3);
    expect(cache.size).toBe(2);
    expect(keysOf(cache, ['a', 'b', 'c'])).toEqual(['b', 'c']);
  });

  test('a read marks the entry the most recent', () => {
    const cache = new LruCache<string, number>(2);
    cache.set('a', 1);
    cache.set('b', 2);
    expect(cache.get('a')).toBe(1);
    cache.set('c', 3);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe(1);
    expect(cache.get('c')).toBe(3);
  });

  test('setting a key again replaces its value and marks it the most recent', () => {
    const cache = new LruCache<string, number>(2);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('a', 10);
    cache.set('c', 3);
    expect(cache.size).toBe(2);
    expect(cache.get('a')).toBe(10);
    expect(cache.get('b')).toBeUndefined();
  });

  test('forgets one entry, or every entry a predicate holds for', () => {
    const cache = new LruCache<string, number>(10);
    for (const [key, value] of [
      ['a', 1],
      ['b', 2],
      ['c', 3],
      ['d', 4],
    ] as const)
      cache.set(key, value);
    cache.delete('a');
    cache.deleteWhere((value) => value % 2 === 0);
    expect(keysOf(cache, ['a', 'b', 'c', 'd'])).toEqual(['c']);
  });

  test.each([1, 3])('agrees with a plain model over a long run of operations (limit %p)', (limit) => {
    // The model: a Map whose insertion order is the recency order.
    const model = new Map<number, number>();
    const cache = new LruCache<number, number>(limit);
    let seed = 7;
    const next = (below: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % below;
    };
    for (let step = 0; step < 5_000; step++) {
      const key = next(6);
      const operation = next(10);
      if (operation < 4) {
        const expected = model.get(key);
        if (expected !== undefined) {
          model.delete(key);
          model.set(key, expected);
        }
        expect(cache.get(key)).toBe(expected);
      } else if (operation < 8) {
        model.delete(key);
        model.set(key, step);
        if (model.size > limit) model.delete(model.keys().next().value as number);
        cache.set(key, step);
      } else if (operation < 9) {
        model.delete(key);
        cache.delete(key);
      } else {
        const odd = (value: number) => value % 2 === 1;
        for (const [k, v] of model) if (odd(v)) model.delete(k);
        cache.deleteWhere(odd);
      }
      expect(cache.size).toBe(model.size);
    }
    // Every entry left is found, and the cache forgets them in the model's order.
    const left = [...model.keys()];
    for (const key of left) expect(cache.get(key)).toBe(model.get(key));
    for (let i = left.length; i < limit; i++) cache.set(100 + i, 0);
    for (let i = 0; i < left.length; i++) {
      cache.set(200 + i, 0);
      expect(cache.get(left[i])).toBeUndefined();
    }
  });

  test.each([0, -1, 1.5, Number.NaN])('refuses a limit of %p', (limit) => {
    expect(() => new LruCache(limit)).toThrow(RangeError);
  });
});

describe('DerCache', () => {
  const der = Buffer.from('3082000a' + '00'.repeat(30) + 'aabbccdd', 'hex');

  /** A copy of `der` with one octet changed `fromEnd` octets before its end. */
  function changedAt(fromEnd: number): Buffer {
    const copy = Buffer.from(der);
    copy[copy.length - fromEnd] ^= 0x01;
    return copy;
  }

  test('finds a value by equal bytes in another buffer, or in a view of a larger one', () => {
    const cache = new DerCache<string>(4);
    cache.set(Buffer.from(der), 'value');
    expect(cache.get(Buffer.from(der))).toBe('value');
    expect(cache.get(new Uint8Array(der))).toBe('value');
    expect(cache.get(Buffer.concat([Buffer.from('ff', 'hex'), der]).subarray(1))).toBe('value');
  });

  test('bytes that differ only before the octets in the key are not a hit, and take turns in the entry', () => {
    const cache = new DerCache<string>(4);
    const other = changedAt(der.length - 1);
    cache.set(Buffer.from(der), 'first');
    expect(cache.get(other)).toBeUndefined();
    cache.set(other, 'second');
    expect(cache.get(other)).toBe('second');
    expect(cache.get(der)).toBeUndefined();
  });

  test('bytes that differ in their last octet or their length are not a hit', () => {
    const cache = new DerCache<string>(4);
    cache.set(Buffer.from(der), 'value');
    expect(cache.get(changedAt(1))).toBeUndefined();
    expect(cache.get(der.subarray(1))).toBeUndefined();
    expect(cache.get(Buffer.alloc(0))).toBeUndefined();
  });

  test('holds at most its limit', () => {
    const cache = new DerCache<number>(2);
    const values = [1, 2, 3].map((n) => changedAt(n));
    values.forEach((bytes, index) => cache.set(bytes, index));
    expect(values.map((bytes) => cache.get(bytes))).toEqual([undefined, 1, 2]);
  });
});
