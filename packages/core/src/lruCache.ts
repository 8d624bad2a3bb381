/**
 * A map of at most `limit` entries that forgets the least recently used first. Every bounded cache
 * in the project is one: a cache that grew with its input would let a peer fill our memory.
 */
export class LruCache<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(private readonly limit: number) {
    if (!(Number.isInteger(limit) && limit >= 1)) throw new RangeError(`Cache limit must be at least 1 (${limit})`);
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: K): V | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) {
      // Map iterates in insertion order: moving the entry to the end marks it the most recent.
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }

  set(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.limit) this.entries.delete(this.entries.keys().next().value as K);
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  /** Forgets every entry `predicate` holds for. */
  deleteWhere(predicate: (value: V) => boolean): void {
    for (const [key, value] of this.entries) if (predicate(value)) this.entries.delete(key);
  }
}

/** How many of its last octets (with its length) name a DER value in a `DerCache`. */
const DER_KEY_TAIL_OCTETS = 24;

/**
 * Values made from DER bytes (parsed certificates, imported keys), by those bytes. The key is the
 * length and the last octets (the end of a signature, of a modulus or of a curve point) rather than
 * the whole value, which made a string of hundreds of octets, hashed, on every lookup. A hit still
 * compares every octet; two values with the same key take turns in the entry.
 */
export class DerCache<V> {
  private readonly entries: LruCache<string, { readonly der: Buffer; readonly value: V }>;

  constructor(limit: number) {
    this.entries = new LruCache(limit);
  }

  get(der: Uint8Array): V | undefined {
    const entry = this.entries.get(derKey(der));
    return entry?.der.equals(der) ? entry.value : undefined;
  }

  /** `der` is kept as it is: it must be bytes no one will change (a copy of the caller's). */
  set(der: Buffer, value: V): void {
    this.entries.set(derKey(der), { der, value });
  }
}

function derKey(der: Uint8Array): string {
  // A plain Uint8Array has no latin1 reading of its own: a Buffer view over the same octets does.
  const bytes = Buffer.isBuffer(der) ? der : Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  return `${bytes.length}:${bytes.toString('latin1', Math.max(0, bytes.length - DER_KEY_TAIL_OCTETS))}`;
}
