import { Certificate } from '@twitter-relaynet/core';

import type {
  CertificateRegistry,
  CourierAnswerStore,
  GatewayStores,
  IdLedger,
  NewParcelRecord,
  ParcelKey,
  ParcelListOptions,
  ParcelRecord,
  ParcelStore,
  PcaQueue,
  PendingPca,
  QueueName,
  RegistrationRecord,
  RegistrationStore,
  StoreWriteResult,
} from './types';

/**
 * In-memory stores, for tests and throwaway set-ups. Not durable, of course. Listing and
 * purging are linear in the queue length; the SQLite stores are the ones for real queues.
 */

const EPOCH = new Date(0);

function key(senderId: string, id: string): string {
  return `${senderId}\u0000${id}`;
}

function copyParcel(record: ParcelRecord): ParcelRecord {
  return { ...record, serialized: Buffer.from(record.serialized) };
}

export class MemoryParcelStore implements ParcelStore {
  /** Per queue, insertion order = arrival order (a replacement goes to the end). */
  private readonly queues = new Map<QueueName, Map<string, ParcelRecord>>();

  async put(parcel: NewParcelRecord): Promise<'stored' | 'replaced'> {
    let queue = this.queues.get(parcel.queue);
    if (!queue) {
      queue = new Map();
      this.queues.set(parcel.queue, queue);
    }
    const k = key(parcel.senderId, parcel.id);
    const existed = queue.delete(k);
    queue.set(k, {
      queue: parcel.queue,
      senderId: parcel.senderId,
      id: parcel.id,
      recipientId: parcel.recipientId,
      recipientInternetAddress: parcel.recipientInternetAddress,
      expiryDate: new Date(parcel.expiryDate),
      serialized: Buffer.from(parcel.serialized),
      nextAttemptDate: EPOCH,
      attempts: 0,
    });
    return existed ? 'replaced' : 'stored';
  }

  async get(parcelKey: ParcelKey): Promise<ParcelRecord | null> {
    const record = this.queues.get(parcelKey.queue)?.get(key(parcelKey.senderId, parcelKey.id));
    return record ? copyParcel(record) : null;
  }

  async delete(parcelKey: ParcelKey): Promise<boolean> {
    return this.queues.get(parcelKey.queue)?.delete(key(parcelKey.senderId, parcelKey.id)) ?? false;
  }

  async *list(queue: QueueName, options: ParcelListOptions): AsyncIterable<ParcelRecord> {
    const records = this.queues.get(queue);
    if (!records) return;
    // Snapshot the keys: the consumer may delete while iterating.
    for (const k of [...records.keys()]) {
      const record = records.get(k);
      if (!record) continue;
      if (record.expiryDate <= options.now) continue;
      if (options.recipientId !== undefined && record.recipientId !== options.recipientId) continue;
      yield copyParcel(record);
    }
  }

  async claimNextDue(queue: QueueName, now: Date, leaseUntil: Date): Promise<ParcelRecord | null> {
    const [claimed] = await this.claimDue(queue, now, leaseUntil, 1);
    return claimed ?? null;
  }

  async claimDue(queue: QueueName, now: Date, leaseUntil: Date, limit: number): Promise<ParcelRecord[]> {
    const records = this.queues.get(queue);
    if (!records || limit < 1) return [];
    // Due the longest first; among equals, arrival order (a stable sort keeps the map's order).
    const due = [...records]
      .filter(([, record]) => record.expiryDate > now && record.nextAttemptDate <= now)
      .sort(([, a], [, b]) => a.nextAttemptDate.getTime() - b.nextAttemptDate.getTime())
      .slice(0, limit);
    return due.map(([k, record]) => {
      const claimed = { ...record, nextAttemptDate: new Date(leaseUntil), attempts: record.attempts + 1 };
      records.set(k, claimed);
      return copyParcel(claimed);
    });
  }

  async reschedule(parcelKey: ParcelKey, nextAttemptDate: Date): Promise<boolean> {
    const records = this.queues.get(parcelKey.queue);
    const k = key(parcelKey.senderId, parcelKey.id);
    const record = records?.get(k);
    if (!records || !record) return false;
    records.set(k, { ...record, nextAttemptDate: new Date(nextAttemptDate) });
    return true;
  }

  async releaseLeases(queue: QueueName, now: Date): Promise<number> {
    const records = this.queues.get(queue);
    let released = 0;
    for (const [k, record] of records ?? []) {
      if (record.nextAttemptDate > now) {
        records!.set(k, { ...record, nextAttemptDate: new Date(now) });
        released += 1;
      }
    }
    return released;
  }

  moveQueueNow(from: QueueName, to: QueueName): number {
    const moving = this.queues.get(from);
    if (from === to || !moving) return 0;
    this.queues.delete(from);
    const staying = this.queues.get(to) ?? new Map<string, ParcelRecord>();
    // What was queued in `from` came first: it goes ahead, as it would by arrival order.
    const merged = new Map<string, ParcelRecord>();
    let moved = 0;
    for (const [k, record] of moving) {
      if (staying.has(k)) continue;
      merged.set(k, { ...record, queue: to });
      moved += 1;
    }
    for (const [k, record] of staying) merged.set(k, record);
    this.queues.set(to, merged);
    return moved;
  }

  async moveQueue(from: QueueName, to: QueueName): Promise<number> {
    return this.moveQueueNow(from, to);
  }

  async purgeExpired(now: Date): Promise<number> {
    let purged = 0;
    for (const records of this.queues.values()) {
      for (const [k, record] of records) {
        if (record.expiryDate <= now) {
          records.delete(k);
          purged += 1;
        }
      }
    }
    return purged;
  }

  async count(queue?: QueueName): Promise<number> {
    if (queue !== undefined) return this.queues.get(queue)?.size ?? 0;
    let total = 0;
    for (const records of this.queues.values()) total += records.size;
    return total;
  }
}

export class MemoryIdLedger implements IdLedger {
  private readonly entries = new Map<string, Date>();

  async record(namespace: string, id: string, expiryDate: Date): Promise<boolean> {
    const k = key(namespace, id);
    if (this.entries.has(k)) return false;
    this.entries.set(k, new Date(expiryDate));
    return true;
  }

  async has(namespace: string, id: string): Promise<boolean> {
    return this.entries.has(key(namespace, id));
  }

  async purgeExpired(now: Date): Promise<number> {
    let purged = 0;
    for (const [k, expiry] of this.entries) {
      if (expiry <= now) {
        this.entries.delete(k);
        purged += 1;
      }
    }
    return purged;
  }
}

export class MemoryPcaQueue implements PcaQueue {
  private readonly peers = new Map<string, Map<string, PendingPca>>();

  async put(pca: PendingPca): Promise<void> {
    let pcas = this.peers.get(pca.peerId);
    if (!pcas) {
      pcas = new Map();
      this.peers.set(pca.peerId, pcas);
    }
    const k = key(pca.senderEndpointId, pca.parcelId);
    pcas.delete(k);
    pcas.set(k, { ...pca, expiryDate: new Date(pca.expiryDate) });
  }

  async *list(peerId: string, now: Date): AsyncIterable<PendingPca> {
    const pcas = this.peers.get(peerId);
    if (!pcas) return;
    for (const k of [...pcas.keys()]) {
      const pca = pcas.get(k);
      if (pca && pca.expiryDate > now) yield { ...pca };
    }
  }

  async delete(peerId: string, senderEndpointId: string, parcelId: string): Promise<boolean> {
    return this.peers.get(peerId)?.delete(key(senderEndpointId, parcelId)) ?? false;
  }

  async purgeExpired(now: Date): Promise<number> {
    let purged = 0;
    for (const pcas of this.peers.values()) {
      for (const [k, pca] of pcas) {
        if (pca.expiryDate <= now) {
          pcas.delete(k);
          purged += 1;
        }
      }
    }
    return purged;
  }

  async count(peerId?: string): Promise<number> {
    if (peerId !== undefined) return this.peers.get(peerId)?.size ?? 0;
    let total = 0;
    for (const pcas of this.peers.values()) total += pcas.size;
    return total;
  }
}

export class MemoryCertificateRegistry implements CertificateRegistry {
  private readonly certificates = new Map<string, Buffer>();

  async put(certificate: Certificate): Promise<void> {
    this.certificates.set(certificate.calculateSubjectId(), Buffer.from(certificate.serialize()));
  }

  async get(subjectId: string): Promise<Certificate | null> {
    const der = this.certificates.get(subjectId);
    return der ? Certificate.deserialize(der) : null;
  }

  async delete(subjectId: string): Promise<boolean> {
    return this.certificates.delete(subjectId);
  }

  async list(): Promise<Certificate[]> {
    return [...this.certificates.values()].map((der) => Certificate.deserialize(der));
  }
}

export class MemoryRegistrationStore implements RegistrationStore {
  private record: { relaying: Buffer; user: Buffer | null } | null = null;

  constructor(private readonly parcels: MemoryParcelStore) {}

  async get(): Promise<RegistrationRecord | null> {
    if (!this.record) return null;
    return {
      relayingGatewayCertificate: Certificate.deserialize(this.record.relaying),
      userGatewayCertificate: this.record.user ? Certificate.deserialize(this.record.user) : null,
    };
  }

  async save(record: RegistrationRecord, move?: { readonly from: QueueName; readonly to: QueueName }): Promise<number> {
    this.record = {
      relaying: record.relayingGatewayCertificate.serialize(),
      user: record.userGatewayCertificate?.serialize() ?? null,
    };
    return move ? this.parcels.moveQueueNow(move.from, move.to) : 0;
  }
}

export class MemoryCourierAnswerStore implements CourierAnswerStore {
  private readonly answers = new Map<string, { response: Buffer; expiry: number }>();

  async get(requestDigest: string): Promise<Buffer | null> {
    return this.answers.get(requestDigest)?.response ?? null;
  }

  async keep(requestDigest: string, response: Buffer, expiryDate: Date): Promise<Buffer> {
    const kept = this.answers.get(requestDigest);
    if (kept) return kept.response;
    this.answers.set(requestDigest, { response: Buffer.from(response), expiry: expiryDate.getTime() });
    return response;
  }

  async purgeExpired(now: Date): Promise<number> {
    let purged = 0;
    for (const [digest, { expiry }] of this.answers) {
      if (expiry <= now.getTime() && this.answers.delete(digest)) purged += 1;
    }
    return purged;
  }
}

export function createMemoryStores(): GatewayStores {
  const parcels = new MemoryParcelStore();
  const pcas = new MemoryPcaQueue();
  const ledger = new MemoryIdLedger();
  return {
    parcels,
    ledger,
    pcas,
    registry: new MemoryCertificateRegistry(),
    registration: new MemoryRegistrationStore(parcels),
    courierAnswers: new MemoryCourierAnswerStore(),
    // Each write is synchronous under its promise, so nothing else runs between them; a write of
    // this store cannot fail half-way, so "all or none" holds as well.
    writeBatch: async (writes) => {
      const results: StoreWriteResult[] = [];
      for (const write of writes) {
        switch (write.kind) {
          case 'put parcel':
            if (write.unlessRecorded && (await ledger.has(write.unlessRecorded.namespace, write.unlessRecorded.id))) {
              results.push('already recorded');
            } else {
              results.push(await parcels.put(write.parcel));
            }
            break;
          case 'delete parcel':
            results.push(await parcels.delete(write.key));
            break;
          case 'reschedule parcel':
            results.push(await parcels.reschedule(write.key, write.nextAttemptDate));
            break;
          case 'put pca':
            await pcas.put(write.pca);
            results.push(undefined);
            break;
          case 'delete pca':
            results.push(await pcas.delete(write.peerId, write.senderEndpointId, write.parcelId));
            break;
          case 'record id':
            results.push(await ledger.record(write.namespace, write.id, write.expiryDate));
            break;
        }
      }
      return results;
    },
    close: async () => undefined,
  };
}
