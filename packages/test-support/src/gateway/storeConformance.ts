/**
 * The store conformance suite: every GatewayStores implementation runs it (memory and SQLite in
 * packages/gateway's conformance.spec.ts, PostgreSQL in packages/gateway-postgres).
 */
import { Certificate, generateRsaKeyPair } from '@twitter-relaynet/core';

import {
  type GatewayStores,
  INTERNET_QUEUE,
  LOCAL_QUEUE,
  type NewParcelRecord,
  peerQueue,
  selfIssueGatewayCertificate,
} from '@twitter-relaynet/gateway';

import { collect } from './world';

export const NOW = new Date('2026-11-28T12:00:00.000Z');
export const HOUR = 3_600_000;

export function parcel(overrides: Partial<NewParcelRecord> = {}): NewParcelRecord {
  return {
    queue: LOCAL_QUEUE,
    senderId: '0sender',
    id: 'p1',
    recipientId: '0alice',
    recipientInternetAddress: null,
    expiryDate: new Date(NOW.getTime() + HOUR),
    serialized: Buffer.from('parcel-bytes'),
    ...overrides,
  };
}

export interface StoreHarness {
  open(): GatewayStores | Promise<GatewayStores>;
  /** Close and open again (a durable store keeps everything; the memory stores do not claim to). */
  reopen?: (stores: GatewayStores) => Promise<GatewayStores>;
  cleanup(): void | Promise<void>;
}

/** The suite, as a `describe` named `${name} stores`, each test with a new harness from `makeHarness`. */
export function describeStoreConformance(name: string, makeHarness: () => StoreHarness): void {
  describe(`${name} stores`, () => {
    let certificate: Certificate;
    beforeAll(async () => {
      certificate = await selfIssueGatewayCertificate(await generateRsaKeyPair());
    });

    let harness: StoreHarness;
    let stores: GatewayStores;

    beforeEach(async () => {
      harness = makeHarness();
      stores = await harness.open();
    });

    afterEach(async () => {
      await stores.close();
      await harness.cleanup();
    });

    describe('ParcelStore', () => {
      test('stores and gets a parcel with all its metadata', async () => {
        await expect(stores.parcels.put(parcel({ recipientInternetAddress: 'x.example.com' }))).resolves.toBe('stored');
        const record = await stores.parcels.get({ queue: LOCAL_QUEUE, senderId: '0sender', id: 'p1' });
        expect(record).toMatchObject({
          queue: LOCAL_QUEUE,
          senderId: '0sender',
          id: 'p1',
          recipientId: '0alice',
          recipientInternetAddress: 'x.example.com',
          attempts: 0,
        });
        expect(record!.expiryDate).toEqual(new Date(NOW.getTime() + HOUR));
        expect(record!.serialized).toEqual(Buffer.from('parcel-bytes'));
        await expect(stores.parcels.get({ queue: INTERNET_QUEUE, senderId: '0sender', id: 'p1' })).resolves.toBeNull();
      });

      test('the same (sender id, message id) replaces the queued copy; another sender does not', async () => {
        await stores.parcels.put(parcel({ serialized: Buffer.from('v1') }));
        await expect(stores.parcels.put(parcel({ serialized: Buffer.from('v2') }))).resolves.toBe('replaced');
        await expect(stores.parcels.put(parcel({ senderId: '0other', serialized: Buffer.from('v3') }))).resolves.toBe(
          'stored',
        );
        const listed = await collect(stores.parcels.list(LOCAL_QUEUE, { now: NOW }));
        expect(listed.map((p) => p.serialized.toString()).sort()).toEqual(['v2', 'v3']);
        expect(await stores.parcels.count(LOCAL_QUEUE)).toBe(2);
      });

      test('lists a queue in arrival order, lazily across pages, skipping expired parcels', async () => {
        for (let i = 0; i < 7; i += 1) await stores.parcels.put(parcel({ id: `p${i}` }));
        await stores.parcels.put(parcel({ id: 'old', expiryDate: new Date(NOW.getTime() - 1) }));
        await stores.parcels.put(parcel({ id: 'elsewhere', queue: peerQueue('0gw') }));
        const listed = await collect(stores.parcels.list(LOCAL_QUEUE, { now: NOW, pageSize: 3 }));
        expect(listed.map((p) => p.id)).toEqual(['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6']);
      });

      test('a listing survives deletions while it runs', async () => {
        for (let i = 0; i < 5; i += 1) await stores.parcels.put(parcel({ id: `p${i}` }));
        const seen: string[] = [];
        for await (const record of stores.parcels.list(LOCAL_QUEUE, { now: NOW, pageSize: 2 })) {
          seen.push(record.id);
          await stores.parcels.delete(record);
          if (record.id === 'p1') await stores.parcels.delete({ ...record, id: 'p2' });
        }
        expect(seen).toEqual(['p0', 'p1', 'p3', 'p4']);
        expect(await stores.parcels.count()).toBe(0);
      });

      test('per-recipient isolation', async () => {
        await stores.parcels.put(parcel({ id: 'a1', recipientId: '0alice' }));
        await stores.parcels.put(parcel({ id: 'b1', recipientId: '0bob' }));
        await stores.parcels.put(parcel({ id: 'a2', recipientId: '0alice' }));
        const forAlice = await collect(stores.parcels.list(LOCAL_QUEUE, { now: NOW, recipientId: '0alice' }));
        const forBob = await collect(stores.parcels.list(LOCAL_QUEUE, { now: NOW, recipientId: '0bob' }));
        const forCarol = await collect(stores.parcels.list(LOCAL_QUEUE, { now: NOW, recipientId: '0carol' }));
        expect(forAlice.map((p) => p.id)).toEqual(['a1', 'a2']);
        expect(forBob.map((p) => p.id)).toEqual(['b1']);
        expect(forCarol).toEqual([]);
      });

      test('delete says whether there was such a parcel', async () => {
        await stores.parcels.put(parcel());
        const key = { queue: LOCAL_QUEUE, senderId: '0sender', id: 'p1' };
        await expect(stores.parcels.delete({ ...key, queue: INTERNET_QUEUE })).resolves.toBe(false);
        await expect(stores.parcels.delete(key)).resolves.toBe(true);
        await expect(stores.parcels.delete(key)).resolves.toBe(false);
        await expect(stores.parcels.get(key)).resolves.toBeNull();
      });

      test('purges expired parcels and reports how many', async () => {
        await stores.parcels.put(parcel({ id: 'gone1', expiryDate: new Date(NOW.getTime() - 1000) }));
        await stores.parcels.put(parcel({ id: 'gone2', queue: INTERNET_QUEUE, expiryDate: NOW }));
        await stores.parcels.put(parcel({ id: 'kept', expiryDate: new Date(NOW.getTime() + 1000) }));
        await expect(stores.parcels.purgeExpired(NOW)).resolves.toBe(2);
        await expect(stores.parcels.purgeExpired(NOW)).resolves.toBe(0);
        expect(await stores.parcels.count()).toBe(1);
      });

      test('claims due parcels one at a time, with leases, retries and expiry', async () => {
        await stores.parcels.put(parcel({ queue: INTERNET_QUEUE, id: 'first' }));
        await stores.parcels.put(parcel({ queue: INTERNET_QUEUE, id: 'second' }));
        await stores.parcels.put(parcel({ queue: INTERNET_QUEUE, id: 'dead', expiryDate: NOW }));
        const lease = new Date(NOW.getTime() + 60_000);

        const a = await stores.parcels.claimNextDue(INTERNET_QUEUE, NOW, lease);
        const b = await stores.parcels.claimNextDue(INTERNET_QUEUE, NOW, lease);
        expect([a?.id, b?.id]).toEqual(['first', 'second']);
        expect(a).toMatchObject({ attempts: 1, nextAttemptDate: lease });
        await expect(stores.parcels.claimNextDue(INTERNET_QUEUE, NOW, lease)).resolves.toBeNull();

        // "second" failed: retry sooner than the lease; "first" is due again when its lease ends.
        await stores.parcels.reschedule(b!, new Date(NOW.getTime() + 10_000));
        const later = new Date(NOW.getTime() + 10_000);
        const again = await stores.parcels.claimNextDue(INTERNET_QUEUE, later, new Date(later.getTime() + 60_000));
        expect(again).toMatchObject({ id: 'second', attempts: 2 });
        const afterLease = new Date(NOW.getTime() + 60_000);
        await expect(
          stores.parcels.claimNextDue(INTERNET_QUEUE, afterLease, new Date(afterLease.getTime() + 1)),
        ).resolves.toMatchObject({ id: 'first', attempts: 2 });
        await expect(stores.parcels.claimNextDue(LOCAL_QUEUE, NOW, lease)).resolves.toBeNull();
        await expect(stores.parcels.reschedule({ queue: INTERNET_QUEUE, senderId: 'x', id: 'y' }, NOW)).resolves.toBe(
          false,
        );
      });

      test('claims a round of due parcels at once, in the order claimNextDue would', async () => {
        const lease = new Date(NOW.getTime() + 60_000);
        for (const id of ['a', 'b', 'c', 'd']) await stores.parcels.put(parcel({ queue: INTERNET_QUEUE, id }));
        await stores.parcels.put(parcel({ queue: INTERNET_QUEUE, id: 'dead', expiryDate: NOW }));
        await stores.parcels.put(parcel({ queue: LOCAL_QUEUE, id: 'elsewhere' }));
        // "c" failed before and is due since earlier than the others: it goes first.
        await stores.parcels.reschedule({ queue: INTERNET_QUEUE, senderId: '0sender', id: 'b' }, lease);
        await stores.parcels.reschedule({ queue: INTERNET_QUEUE, senderId: '0sender', id: 'c' }, new Date(-1));

        const round = await stores.parcels.claimDue(INTERNET_QUEUE, NOW, lease, 2);
        expect(round.map((p) => p.id)).toEqual(['c', 'a']);
        expect(round[0]).toMatchObject({ attempts: 1, nextAttemptDate: lease, recipientId: '0alice' });
        expect(round[0].serialized).toEqual(Buffer.from('parcel-bytes'));
        // Claimed ones are leased: the rest of the queue comes next, then nothing.
        expect((await stores.parcels.claimDue(INTERNET_QUEUE, NOW, lease, 10)).map((p) => p.id)).toEqual(['d']);
        await expect(stores.parcels.claimDue(INTERNET_QUEUE, NOW, lease, 10)).resolves.toEqual([]);
        await expect(stores.parcels.claimDue(INTERNET_QUEUE, lease, lease, 0)).resolves.toEqual([]);
        // The lease ends: all four are due again, each attempt counted.
        const again = await stores.parcels.claimDue(INTERNET_QUEUE, lease, new Date(lease.getTime() + 1), 10);
        expect(again.map((p) => [p.id, p.attempts])).toEqual([
          ['a', 2],
          ['b', 1],
          ['c', 2],
          ['d', 2],
        ]);
      });

      test('releaseLeases makes every leased or postponed parcel of a queue due now', async () => {
        const later = new Date(NOW.getTime() + 60_000);
        for (const id of ['a', 'b', 'c']) await stores.parcels.put(parcel({ queue: INTERNET_QUEUE, id }));
        await stores.parcels.put(parcel({ queue: LOCAL_QUEUE, id: 'other' }));
        await stores.parcels.claimDue(INTERNET_QUEUE, NOW, later, 2);
        await stores.parcels.reschedule({ queue: LOCAL_QUEUE, senderId: '0sender', id: 'other' }, later);
        await expect(stores.parcels.releaseLeases(INTERNET_QUEUE, NOW)).resolves.toBe(2);
        await expect(stores.parcels.releaseLeases(INTERNET_QUEUE, NOW)).resolves.toBe(0);
        const due = await stores.parcels.claimDue(INTERNET_QUEUE, NOW, later, 10);
        expect(due.map((p) => [p.id, p.attempts])).toEqual([
          ['c', 1],
          ['a', 2],
          ['b', 2],
        ]);
        // Another queue is left alone.
        await expect(
          stores.parcels.get({ queue: LOCAL_QUEUE, senderId: '0sender', id: 'other' }),
        ).resolves.toMatchObject({
          nextAttemptDate: later,
        });
      });

      test('large parcels round-trip intact', async () => {
        const big = Buffer.alloc(3 * 1024 * 1024, 7);
        big[12345] = 1;
        await stores.parcels.put(parcel({ serialized: big }));
        const [record] = await collect(stores.parcels.list(LOCAL_QUEUE, { now: NOW }));
        expect(record.serialized.equals(big)).toBe(true);
      });
    });

    describe('IdLedger', () => {
      test('records an id once per namespace until it is purged', async () => {
        const expiry = new Date(NOW.getTime() + HOUR);
        await expect(stores.ledger.record('cca', 'x', expiry)).resolves.toBe(true);
        await expect(stores.ledger.record('cca', 'x', expiry)).resolves.toBe(false);
        await expect(stores.ledger.record('other', 'x', expiry)).resolves.toBe(true);
        await expect(stores.ledger.has('cca', 'x')).resolves.toBe(true);
        await expect(stores.ledger.has('cca', 'y')).resolves.toBe(false);

        await stores.ledger.record('cca', 'old', new Date(NOW.getTime() - 1));
        await expect(stores.ledger.purgeExpired(NOW)).resolves.toBe(1);
        await expect(stores.ledger.has('cca', 'old')).resolves.toBe(false);
        await expect(stores.ledger.has('cca', 'x')).resolves.toBe(true);
      });
    });

    describe('CourierAnswerStore', () => {
      test('keeps the first answer to a request, whoever keeps another at the same moment, until it expires', async () => {
        const expiry = new Date(NOW.getTime() + HOUR);
        await expect(stores.courierAnswers.get('d1')).resolves.toBeNull();
        const first = Buffer.from('answer from instance 1');
        const second = Buffer.from('answer from instance 2');
        const kept = await Promise.all([
          stores.courierAnswers.keep('d1', first, expiry),
          stores.courierAnswers.keep('d1', second, expiry),
        ]);
        // Both callers hand out the same answer, whichever was first.
        expect(kept[0]).toEqual(kept[1]);
        expect([first, second]).toContainEqual(kept[0]);
        await expect(stores.courierAnswers.keep('d1', Buffer.from('later'), expiry)).resolves.toEqual(kept[0]);
        await expect(stores.courierAnswers.get('d1')).resolves.toEqual(kept[0]);

        await stores.courierAnswers.keep('old', Buffer.from('old answer'), new Date(NOW.getTime() - 1));
        await expect(stores.courierAnswers.purgeExpired(NOW)).resolves.toBe(1);
        await expect(stores.courierAnswers.get('old')).resolves.toBeNull();
        await expect(stores.courierAnswers.get('d1')).resolves.toEqual(kept[0]);
      });
    });

    describe('PcaQueue', () => {
      const pca = (overrides = {}) => ({
        peerId: '0peer',
        senderEndpointId: '0s',
        recipientEndpointId: '0r',
        parcelId: 'p1',
        expiryDate: new Date(NOW.getTime() + HOUR),
        ...overrides,
      });

      test('queues per peer, replaces duplicates, deletes, skips and purges expired ones', async () => {
        await stores.pcas.put(pca());
        await stores.pcas.put(pca({ recipientEndpointId: '0r2' }));
        await stores.pcas.put(pca({ parcelId: 'p2' }));
        await stores.pcas.put(pca({ parcelId: 'p3', peerId: '0another' }));
        await stores.pcas.put(pca({ parcelId: 'old', expiryDate: new Date(NOW.getTime() - 1) }));

        const listed = await collect(stores.pcas.list('0peer', NOW));
        expect(listed.map((p) => [p.parcelId, p.recipientEndpointId])).toEqual([
          ['p1', '0r2'],
          ['p2', '0r'],
        ]);
        expect(await stores.pcas.count('0peer')).toBe(3);
        await expect(stores.pcas.delete('0peer', '0s', 'p2')).resolves.toBe(true);
        await expect(stores.pcas.delete('0peer', '0s', 'p2')).resolves.toBe(false);
        await expect(stores.pcas.purgeExpired(NOW)).resolves.toBe(1);
        expect(await stores.pcas.count()).toBe(2);
      });
    });

    describe('moving a queue, and the registration', () => {
      const placeholder = peerQueue('0me');
      const relaying = peerQueue('0relaying');

      test('moveQueue moves every parcel in arrival order; a key already in the target keeps that copy', async () => {
        await stores.parcels.put(parcel({ queue: placeholder, id: 'a', serialized: Buffer.from('a') }));
        await stores.parcels.put(parcel({ queue: relaying, id: 'b', serialized: Buffer.from('b (later)') }));
        await stores.parcels.put(parcel({ queue: placeholder, id: 'b', serialized: Buffer.from('b (earlier)') }));
        await stores.parcels.put(parcel({ queue: placeholder, id: 'c', serialized: Buffer.from('c') }));
        await expect(stores.parcels.moveQueue(placeholder, relaying)).resolves.toBe(2);
        const listed = await collect(stores.parcels.list(relaying, { now: NOW }));
        expect(listed.map((p) => [p.queue, p.id, p.serialized.toString()]).sort()).toEqual([
          [relaying, 'a', 'a'],
          [relaying, 'b', 'b (later)'],
          [relaying, 'c', 'c'],
        ]);
        expect(listed.map((p) => p.id).filter((id) => id !== 'b')).toEqual(['a', 'c']);
        expect(await stores.parcels.count(placeholder)).toBe(0);
        await expect(stores.parcels.moveQueue(placeholder, relaying)).resolves.toBe(0);
        await expect(stores.parcels.moveQueue(relaying, relaying)).resolves.toBe(0);
        expect(await stores.parcels.count(relaying)).toBe(3);
      });

      test('the registration is saved with its queue move, and replaced by the next save', async () => {
        await expect(stores.registration.get()).resolves.toBeNull();
        await stores.parcels.put(parcel({ queue: placeholder, id: 'early' }));
        await expect(
          stores.registration.save(
            { relayingGatewayCertificate: certificate, userGatewayCertificate: null },
            { from: placeholder, to: relaying },
          ),
        ).resolves.toBe(1);
        const pinned = await stores.registration.get();
        expect(pinned!.relayingGatewayCertificate.isEqual(certificate)).toBe(true);
        expect(pinned!.userGatewayCertificate).toBeNull();
        expect((await collect(stores.parcels.list(relaying, { now: NOW }))).map((p) => p.id)).toEqual(['early']);

        await expect(
          stores.registration.save({ relayingGatewayCertificate: certificate, userGatewayCertificate: certificate }),
        ).resolves.toBe(0);
        expect((await stores.registration.get())!.userGatewayCertificate!.isEqual(certificate)).toBe(true);
        if (harness.reopen) {
          stores = await harness.reopen(stores);
          expect((await stores.registration.get())!.userGatewayCertificate!.isEqual(certificate)).toBe(true);
        }
      });
    });

    describe('CertificateRegistry', () => {
      test('puts, gets, lists and deletes by subject id', async () => {
        const id = certificate.calculateSubjectId();
        await stores.registry.put(certificate);
        expect((await stores.registry.get(id))?.isEqual(certificate)).toBe(true);
        await expect(stores.registry.get('0nobody')).resolves.toBeNull();
        expect((await stores.registry.list()).map((c) => c.calculateSubjectId())).toEqual([id]);
        await expect(stores.registry.delete(id)).resolves.toBe(true);
        await expect(stores.registry.list()).resolves.toEqual([]);
      });
    });

    test('writeBatch applies its writes in order and returns their results', async () => {
      await stores.parcels.put(parcel({ id: 'old' }));
      const pca = {
        peerId: '0peer',
        senderEndpointId: '0sender',
        recipientEndpointId: '0alice',
        parcelId: 'p1',
        expiryDate: new Date(NOW.getTime() + HOUR),
      };
      const results = await stores.writeBatch([
        { kind: 'put parcel', parcel: parcel({ id: 'p1' }) },
        { kind: 'put parcel', parcel: parcel({ id: 'p1', serialized: Buffer.from('again') }) },
        { kind: 'put pca', pca },
        { kind: 'delete parcel', key: { queue: LOCAL_QUEUE, senderId: '0sender', id: 'old' } },
        { kind: 'delete parcel', key: { queue: LOCAL_QUEUE, senderId: '0sender', id: 'missing' } },
      ]);
      expect(results).toEqual(['stored', 'replaced', undefined, true, false]);
      const listed = await collect(stores.parcels.list(LOCAL_QUEUE, { now: NOW }));
      expect(listed.map((p) => [p.id, p.serialized.toString()])).toEqual([['p1', 'again']]);
      expect((await collect(stores.pcas.list('0peer', NOW))).map((p) => p.parcelId)).toEqual(['p1']);
      await expect(stores.writeBatch([])).resolves.toEqual([]);

      // PCAs that went out in a cargo are deleted together.
      await stores.pcas.put({ ...pca, parcelId: 'p2' });
      const deleted = await stores.writeBatch([
        { kind: 'delete pca', peerId: '0peer', senderEndpointId: '0sender', parcelId: 'p1' },
        { kind: 'delete pca', peerId: '0peer', senderEndpointId: '0sender', parcelId: 'missing' },
      ]);
      expect(deleted).toEqual([true, false]);
      expect((await collect(stores.pcas.list('0peer', NOW))).map((p) => p.parcelId)).toEqual(['p2']);
    });

    test('a put guarded by a ledger id stores nothing once that id is recorded, before or in the same batch', async () => {
      const expiryDate = new Date(NOW.getTime() + HOUR);
      const key = { queue: INTERNET_QUEUE, senderId: '0sender', id: 'p1' };
      const delivered = { namespace: `delivered:${INTERNET_QUEUE}`, id: '0sender/p1' };
      const guarded = (id: string) => ({
        kind: 'put parcel' as const,
        parcel: parcel({ queue: INTERNET_QUEUE, id }),
        unlessRecorded: { ...delivered, id: `0sender/${id}` },
      });
      await expect(stores.writeBatch([guarded('p1')])).resolves.toEqual(['stored']);
      await stores.writeBatch([
        { kind: 'record id', ...delivered, expiryDate },
        { kind: 'delete parcel', key },
      ]);
      await expect(stores.writeBatch([guarded('p1'), guarded('p2')])).resolves.toEqual(['already recorded', 'stored']);
      await expect(stores.parcels.get(key)).resolves.toBeNull();
      await expect(
        stores.writeBatch([{ kind: 'record id', ...delivered, id: '0sender/p3', expiryDate }, guarded('p3')]),
      ).resolves.toEqual([true, 'already recorded']);
      expect((await collect(stores.parcels.list(INTERNET_QUEUE, { now: NOW }))).map((p) => p.id)).toEqual(['p2']);
    });

    test('writeBatch reschedules parcels and records ids (the outcome of a delivery round)', async () => {
      const lease = new Date(NOW.getTime() + 60_000);
      for (const id of ['ok', 'failed']) await stores.parcels.put(parcel({ queue: INTERNET_QUEUE, id }));
      await stores.parcels.claimDue(INTERNET_QUEUE, NOW, lease, 2);
      const expiry = new Date(NOW.getTime() + HOUR);
      const retryAt = new Date(NOW.getTime() + 5_000);
      const key = (id: string) => ({ queue: INTERNET_QUEUE, senderId: '0sender', id });
      const results = await stores.writeBatch([
        { kind: 'record id', namespace: 'delivered', id: 'ok', expiryDate: expiry },
        { kind: 'delete parcel', key: key('ok') },
        { kind: 'record id', namespace: 'delivered', id: 'ok', expiryDate: expiry },
        { kind: 'reschedule parcel', key: key('failed'), nextAttemptDate: retryAt },
        { kind: 'reschedule parcel', key: key('missing'), nextAttemptDate: retryAt },
      ]);
      expect(results).toEqual([true, true, false, true, false]);
      await expect(stores.ledger.has('delivered', 'ok')).resolves.toBe(true);
      await expect(stores.parcels.get(key('ok'))).resolves.toBeNull();
      await expect(stores.parcels.claimDue(INTERNET_QUEUE, NOW, lease, 10)).resolves.toEqual([]);
      const [retried] = await stores.parcels.claimDue(INTERNET_QUEUE, retryAt, lease, 10);
      expect(retried).toMatchObject({ id: 'failed', attempts: 2 });
    });

    test('durability: everything is there after closing and reopening', async () => {
      if (!harness.reopen) return; // memory stores are not durable by design
      await stores.parcels.put(parcel({ id: 'kept', serialized: Buffer.from('durable') }));
      await stores.ledger.record('cca', 'used', new Date(NOW.getTime() + HOUR));
      await stores.pcas.put({
        peerId: '0peer',
        senderEndpointId: '0s',
        recipientEndpointId: '0r',
        parcelId: 'p',
        expiryDate: new Date(NOW.getTime() + HOUR),
      });
      await stores.registry.put(certificate);

      stores = await harness.reopen(stores);
      const [record] = await collect(stores.parcels.list(LOCAL_QUEUE, { now: NOW }));
      expect(record.serialized.toString()).toBe('durable');
      await expect(stores.ledger.record('cca', 'used', new Date(NOW.getTime() + HOUR))).resolves.toBe(false);
      expect(await stores.pcas.count('0peer')).toBe(1);
      expect(await stores.registry.get(certificate.calculateSubjectId())).not.toBeNull();
      // New rows continue after the old ones.
      await stores.parcels.put(parcel({ id: 'new' }));
      expect((await collect(stores.parcels.list(LOCAL_QUEUE, { now: NOW }))).map((p) => p.id)).toEqual(['kept', 'new']);
    });
  });
}
