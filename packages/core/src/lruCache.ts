/**
 * A map of at most `limit` entries that forgets the least recently used first. Every bounded cache
 * in the project is one: a cache that grew with its input would let a peer fill our memory.
 */
export class LruCache<K, V> {
  private readonly nodes = new Map<K, LruNode<K, V>>();
  // A list from the most recent entry to the least: a hit relinks its node, where moving the entry
  // to the end of a Map (delete, then set) cost more than the lookup (~200 ns, the Map compacting).
  private newest: LruNode<K, V> | undefined;
  private oldest: LruNode<K, V> | undefined;

  constructor(private readonly limit: number) {
    if (!(Number.isInteger(limit) && limit >= 1)) throw new RangeError(`Cache limit must be at least 1 (${limit})`);
  }

  get size(): number {
    return this.nodes.size;
  }

  get(key: K): V | undefined {
    const node = this.nodes.get(key);
    if (node === undefined) return undefined;
    this.makeNewest(node);
    return node.value;
  }

  set(key: K, value: V): void {
    const existing = this.nodes.get(key);
    if (existing !== undefined) {
      existing.value = value;
      this.makeNewest(existing);
      return;
    }
    if (this.nodes.size >= this.limit) this.remove(this.oldest!);
    const node: LruNode<K, V> = { key, value, newer: undefined, older: this.newest };
    if (this.newest) this.newest.newer = node;
    else this.oldest = node;
    this.newest = node;
    this.nodes.set(key, node);
  }

  delete(key: K): void {
    const node = this.nodes.get(key);
    if (node !== undefined) this.remove(node);
  }

  /** Forgets every entry `predicate` holds for. */
  deleteWhere(predicate: (value: V) => boolean): void {
    for (let node = this.oldest; node !== undefined;) {
      const next = node.newer;
      if (predicate(node.value)) this.remove(node);
      node = next;
    }
  }

  private makeNewest(node: LruNode<K, V>): void {
    if (node === this.newest) return;
    this.unlink(node);
    node.newer = undefined;
    node.older = this.newest;
    this.newest!.newer = node;
    this.newest = node;
  }

  private remove(node: LruNode<K, V>): void {
    this.unlink(node);
    this.nodes.delete(node.key);
  }

  private unlink(node: LruNode<K, V>): void {
    if (node.newer) node.newer.older = node.older;
    else this.newest = node.older;
    if (node.older) node.older.newer = node.newer;
    else this.oldest = node.newer;
  }
}

interface LruNode<K, V> {
  readonly key: K;
  value: V;
  newer: LruNode<K, V> | undefined;
  older: LruNode<K, V> | undefined;
}

/** How many of its last octets name a DER value in a `DerCache`. */
const DER_KEY_TAIL_OCTETS = 24;

/**
 * Values made from DER bytes (parsed certificates, imported keys), by those bytes. The key is the
 * last octets (the end of a signature, of a modulus or of a curve point) rather than the whole
 * value, which made a string of hundreds of octets, hashed, on every lookup; adding the length to it
 * cost more than it saved (a concatenated string, flattened to be hashed). A hit still compares every
 * octet; two values with the same key take turns in the entry.
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
  return bytes.toString('latin1', Math.max(0, bytes.length - DER_KEY_TAIL_OCTETS));
}
