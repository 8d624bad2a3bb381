/** In-memory stores: for tests (and throwaway endpoints). Same behaviour as the SQLite ones, minus durability. */
import type {
  DedupLedger,
  EndpointStores,
  IdentityRecord,
  KeyStore,
  Outbox,
  OutboxEntry,
  OwnSessionKey,
  PeerSessionKeyRecord,
  PeerSessionKeyStore,
} from './types';

export class MemoryKeyStore implements KeyStore {
  private identity: IdentityRecord | null = null;
  private readonly sessionKeys = new Map<string, OwnSessionKey>();

  async getIdentity(): Promise<IdentityRecord | null> {
    return this.identity;
  }

  async saveIdentity(identity: IdentityRecord): Promise<void> {
    this.identity = { ...identity, certificateChain: [...identity.certificateChain] };
  }

  async saveSessionKey(key: OwnSessionKey): Promise<void> {
    this.sessionKeys.set(key.keyId.toString('hex'), key);
  }

  async getSessionKey(keyId: Buffer, now: Date): Promise<OwnSessionKey | null> {
    const key = this.sessionKeys.get(keyId.toString('hex'));
    return key && key.expiryDate.getTime() >= now.getTime() ? key : null;
  }

  async getLatestInitialSessionKey(now: Date): Promise<OwnSessionKey | null> {
    let latest: OwnSessionKey | null = null;
    for (const key of this.sessionKeys.values()) {
      if (key.peerId !== null || key.expiryDate.getTime() < now.getTime()) continue;
      if (!latest || key.creationDate.getTime() >= latest.creationDate.getTime()) latest = key;
    }
    return latest;
  }

  async deleteExpiredSessionKeys(now: Date): Promise<number> {
    let deleted = 0;
    for (const [id, key] of this.sessionKeys) {
      if (key.expiryDate.getTime() < now.getTime()) {
        this.sessionKeys.delete(id);
        deleted += 1;
      }
    }
    return deleted;
  }
}

export class MemoryPeerSessionKeyStore implements PeerSessionKeyStore {
  private readonly keys = new Map<string, PeerSessionKeyRecord>();

  async get(peerId: string): Promise<PeerSessionKeyRecord | null> {
    return this.keys.get(peerId) ?? null;
  }

  async saveIfNewer(peerId: string, record: PeerSessionKeyRecord): Promise<boolean> {
    const current = this.keys.get(peerId);
    const creationDate = wholeSeconds(record.creationDate);
    if (current && current.creationDate.getTime() > creationDate.getTime()) return false;
    if (current && current.sessionKey.keyId.equals(record.sessionKey.keyId)) return false;
    this.keys.set(peerId, { sessionKey: record.sessionKey, creationDate });
    return true;
  }

  async delete(peerId: string): Promise<void> {
    this.keys.delete(peerId);
  }
}

export class MemoryDedupLedger implements DedupLedger {
  private readonly entries = new Map<string, number>();

  async has(senderId: string, messageId: string, now: Date): Promise<boolean> {
    const expiry = this.entries.get(key(senderId, messageId));
    return expiry !== undefined && expiry >= now.getTime();
  }

  async record(senderId: string, messageId: string, expiryDate: Date): Promise<void> {
    const k = key(senderId, messageId);
    this.entries.set(k, Math.max(this.entries.get(k) ?? 0, expiryDate.getTime()));
  }

  async deleteExpired(now: Date): Promise<number> {
    let deleted = 0;
    for (const [k, expiry] of this.entries) {
      if (expiry < now.getTime()) {
        this.entries.delete(k);
        deleted += 1;
      }
    }
    return deleted;
  }
}

/** Peer key dates are compared at RAMF's one-second resolution; on a tie the later arrival wins. */
function wholeSeconds(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}

function key(senderId: string, messageId: string): string {
  return JSON.stringify([senderId, messageId]);
}

export class MemoryOutbox implements Outbox {
  private readonly entries = new Map<string, { entry: OutboxEntry; seq: number }>();
  private seq = 0;

  async add(entry: OutboxEntry): Promise<void> {
    this.entries.set(entry.parcelId, { entry: { ...entry, parcel: Buffer.from(entry.parcel) }, seq: this.seq++ });
  }

  async listDue(now: Date, limit: number): Promise<OutboxEntry[]> {
    return this.sorted()
      .filter((e) => e.nextAttemptDate.getTime() <= now.getTime() && e.expiryDate.getTime() >= now.getTime())
      .slice(0, limit);
  }

  async nextAttemptDate(): Promise<Date | null> {
    const [first] = this.sorted();
    return first ? first.nextAttemptDate : null;
  }

  async reschedule(parcelId: string, nextAttemptDate: Date, attempts: number): Promise<void> {
    const item = this.entries.get(parcelId);
    if (item) item.entry = { ...item.entry, nextAttemptDate, attempts };
  }

  async delete(parcelId: string): Promise<void> {
    this.entries.delete(parcelId);
  }

  async deleteMany(parcelIds: readonly string[]): Promise<void> {
    for (const parcelId of parcelIds) this.entries.delete(parcelId);
  }

  async deleteExpired(now: Date): Promise<OutboxEntry[]> {
    const expired: OutboxEntry[] = [];
    for (const [id, { entry }] of this.entries) {
      if (entry.expiryDate.getTime() < now.getTime()) {
        expired.push(entry);
        this.entries.delete(id);
      }
    }
    return expired;
  }

  async count(): Promise<number> {
    return this.entries.size;
  }

  private sorted(): OutboxEntry[] {
    return [...this.entries.values()]
      .sort((a, b) => a.entry.nextAttemptDate.getTime() - b.entry.nextAttemptDate.getTime() || a.seq - b.seq)
      .map((item) => item.entry);
  }
}

export function createMemoryStores(): EndpointStores {
  return {
    keys: new MemoryKeyStore(),
    peerSessionKeys: new MemoryPeerSessionKeyStore(),
    dedup: new MemoryDedupLedger(),
    outbox: new MemoryOutbox(),
    close: async () => undefined,
  };
}
