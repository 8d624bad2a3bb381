/** One conformance suite for the in-memory and SQLite stores. */
import { join } from 'node:path';

import { generateRsaKeyPair, generateSessionKeyPair, issueEndpointCertificate } from '@twitter-relaynet/core';

import { createMemoryStores, openEndpointSqliteStores, type EndpointStores, type OutboxEntry } from '../src';
import { tempDir } from './helpers';

const T0 = new Date('2026-11-28T12:00:00.000Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

function entry(parcelId: string, overrides: Partial<OutboxEntry> = {}): OutboxEntry {
  return {
    parcelId,
    recipientId: '0abc',
    gatewayAddress: 'rne+grpc://gw.test:21473',
    parcel: Buffer.from(`parcel ${parcelId}`),
    expiryDate: at(3600),
    nextAttemptDate: at(0),
    attempts: 0,
    ...overrides,
  };
}

const dirs: Array<{ cleanup(): void }> = [];
afterAll(() => dirs.forEach((d) => d.cleanup()));

const implementations: Array<[string, () => { stores: EndpointStores; reopen?: () => EndpointStores }]> = [
  ['memory', () => ({ stores: createMemoryStores() })],
  [
    'sqlite',
    () => {
      const dir = tempDir();
      dirs.push(dir);
      const path = join(dir.path, 'data');
      return { stores: openEndpointSqliteStores(path), reopen: () => openEndpointSqliteStores(path) };
    },
  ],
];

describe.each(implementations)('%s stores', (_name, make) => {
  let stores: EndpointStores;
  let reopen: (() => EndpointStores) | undefined;

  beforeEach(() => {
    ({ stores, reopen } = make());
  });

  afterEach(async () => {
    await stores.close();
  });

  /** The same stores after a restart (SQLite), or the same instance (memory). */
  async function restart(): Promise<EndpointStores> {
    if (!reopen) return stores;
    await stores.close();
    stores = reopen();
    return stores;
  }

  test('identity: absent, then saved with its certificate and chain', async () => {
    expect(await stores.keys.getIdentity()).toBeNull();
    const { privateKey, publicKey } = await generateRsaKeyPair();
    const certificate = await issueEndpointCertificate({
      subjectPublicKey: publicKey,
      issuerPrivateKey: privateKey,
      validityEndDate: new Date(Date.now() + 86_400_000),
    });
    await stores.keys.saveIdentity({ privateKey, certificate: null, certificateChain: [] });
    expect((await stores.keys.getIdentity())?.certificate).toBeNull();
    await stores.keys.saveIdentity({ privateKey, certificate, certificateChain: [certificate, certificate] });
    const loaded = (await (await restart()).keys.getIdentity())!;
    expect(loaded.privateKey.export({ format: 'der', type: 'pkcs8' })).toEqual(
      privateKey.export({ format: 'der', type: 'pkcs8' }),
    );
    expect(loaded.certificate?.isEqual(certificate)).toBe(true);
    expect(loaded.certificateChain).toHaveLength(2);
  });

  test('own session keys: by id until they expire; the latest initial key', async () => {
    const a = await generateSessionKeyPair();
    const b = await generateSessionKeyPair();
    const c = await generateSessionKeyPair();
    await stores.keys.saveSessionKey({
      keyId: a.sessionKey.keyId,
      privateKey: a.privateKey,
      peerId: null,
      creationDate: at(0),
      expiryDate: at(100),
    });
    await stores.keys.saveSessionKey({
      keyId: b.sessionKey.keyId,
      privateKey: b.privateKey,
      peerId: null,
      creationDate: at(10),
      expiryDate: at(50),
    });
    await stores.keys.saveSessionKey({
      keyId: c.sessionKey.keyId,
      privateKey: c.privateKey,
      peerId: '0peer',
      creationDate: at(20),
      expiryDate: at(200),
    });
    const keys = (await restart()).keys;

    const found = await keys.getSessionKey(c.sessionKey.keyId, at(30));
    expect(found).toMatchObject({ peerId: '0peer', creationDate: at(20), expiryDate: at(200) });
    expect(found!.privateKey.export({ format: 'der', type: 'pkcs8' })).toEqual(
      c.privateKey.export({ format: 'der', type: 'pkcs8' }),
    );
    expect(await keys.getSessionKey(Buffer.from('unknown'), at(30))).toBeNull();
    expect((await keys.getLatestInitialSessionKey(at(30)))?.keyId).toEqual(b.sessionKey.keyId);
    expect((await keys.getLatestInitialSessionKey(at(60)))?.keyId).toEqual(a.sessionKey.keyId);
    expect(await keys.getSessionKey(b.sessionKey.keyId, at(60))).toBeNull();
    expect(await keys.deleteExpiredSessionKeys(at(150))).toBe(2);
    expect(await keys.getLatestInitialSessionKey(at(0))).toBeNull();
    expect(await keys.getSessionKey(c.sessionKey.keyId, at(150))).not.toBeNull();
  });

  test('peer session keys: the newest wins, whatever the arrival order', async () => {
    const older = (await generateSessionKeyPair()).sessionKey;
    const newer = (await generateSessionKeyPair()).sessionKey;
    expect(await stores.peerSessionKeys.get('0peer')).toBeNull();
    expect(await stores.peerSessionKeys.saveIfNewer('0peer', { sessionKey: newer, creationDate: at(10) })).toBe(true);
    expect(await stores.peerSessionKeys.saveIfNewer('0peer', { sessionKey: older, creationDate: at(5) })).toBe(false);
    expect(await stores.peerSessionKeys.saveIfNewer('0peer', { sessionKey: newer, creationDate: at(10) })).toBe(false);
    const record = await (await restart()).peerSessionKeys.get('0peer');
    expect(record?.sessionKey.keyId).toEqual(newer.keyId);
    expect(record?.creationDate).toEqual(at(10));
    expect(record?.sessionKey.publicKey.export({ format: 'der', type: 'spki' })).toEqual(
      newer.publicKey.export({ format: 'der', type: 'spki' }),
    );
    // Same second (RAMF resolution): the later arrival wins.
    expect(
      await stores.peerSessionKeys.saveIfNewer('0peer', {
        sessionKey: older,
        creationDate: new Date(at(10).getTime() + 500),
      }),
    ).toBe(true);
    await stores.peerSessionKeys.delete('0peer');
    expect(await stores.peerSessionKeys.get('0peer')).toBeNull();
  });

  test('session keys read back without a restart: what was last committed, expiry still applied', async () => {
    const own = await generateSessionKeyPair();
    const ownKey = {
      keyId: own.sessionKey.keyId,
      privateKey: own.privateKey,
      peerId: '0peer',
      creationDate: at(0),
      expiryDate: at(100),
    };
    await stores.keys.saveSessionKey(ownKey);
    expect((await stores.keys.getSessionKey(own.sessionKey.keyId, at(10)))?.privateKey).toBeDefined();
    expect(await stores.keys.getSessionKey(own.sessionKey.keyId, at(101))).toBeNull();
    await stores.keys.saveSessionKey({ ...ownKey, expiryDate: at(300) });
    expect((await stores.keys.getSessionKey(own.sessionKey.keyId, at(200)))?.expiryDate).toEqual(at(300));
    expect(await stores.keys.deleteExpiredSessionKeys(at(301))).toBe(1);
    expect(await stores.keys.getSessionKey(own.sessionKey.keyId, at(200))).toBeNull();

    const [first, second, third] = await Promise.all([1, 2, 3].map(() => generateSessionKeyPair()));
    const keyIdOf = async () => (await stores.peerSessionKeys.get('0peer'))?.sessionKey.keyId;
    await stores.peerSessionKeys.saveIfNewer('0peer', { sessionKey: first.sessionKey, creationDate: at(10) });
    expect(await keyIdOf()).toEqual(first.sessionKey.keyId);
    // Saved in one turn (one commit): the newest stays, whatever the order.
    const results = await Promise.all([
      stores.peerSessionKeys.saveIfNewer('0peer', { sessionKey: third.sessionKey, creationDate: at(30) }),
      stores.peerSessionKeys.saveIfNewer('0peer', { sessionKey: second.sessionKey, creationDate: at(20) }),
    ]);
    expect(results).toEqual([true, false]);
    const latest = await stores.peerSessionKeys.get('0peer');
    expect(latest?.sessionKey.keyId).toEqual(third.sessionKey.keyId);
    expect(latest?.creationDate).toEqual(at(30));
    // Dates are kept at RAMF's one-second resolution, as a restart would read them.
    await stores.peerSessionKeys.saveIfNewer('0peer', {
      sessionKey: second.sessionKey,
      creationDate: new Date(at(30).getTime() + 700),
    });
    expect((await stores.peerSessionKeys.get('0peer'))?.creationDate).toEqual(at(30));
    expect(await keyIdOf()).toEqual(second.sessionKey.keyId);
    expect((await (await restart()).peerSessionKeys.get('0peer'))?.sessionKey.keyId).toEqual(second.sessionKey.keyId);
    await stores.peerSessionKeys.delete('0peer');
    expect(await stores.peerSessionKeys.get('0peer')).toBeNull();
  });

  test('dedup ledger: (sender, id) until expiry', async () => {
    await stores.dedup.record('0s', 'm1', at(100));
    const dedup = (await restart()).dedup;
    expect(await dedup.has('0s', 'm1', at(50))).toBe(true);
    expect(await dedup.has('0other', 'm1', at(50))).toBe(false);
    expect(await dedup.has('0s', 'm2', at(50))).toBe(false);
    expect(await dedup.has('0s', 'm1', at(101))).toBe(false);
    await dedup.record('0s', 'm1', at(50)); // never shortens
    expect(await dedup.has('0s', 'm1', at(80))).toBe(true);
    expect(await dedup.deleteExpired(at(200))).toBe(1);
  });

  test('outbox: due order, rescheduling, deletion, expiry', async () => {
    expect(await stores.outbox.nextAttemptDate()).toBeNull();
    await stores.outbox.add(entry('p1', { nextAttemptDate: at(0) }));
    await stores.outbox.add(entry('p2', { nextAttemptDate: at(0), gatewayAddress: null }));
    await stores.outbox.add(entry('p3', { nextAttemptDate: at(30) }));
    await stores.outbox.add(entry('p4', { expiryDate: at(5) }));
    const outbox = (await restart()).outbox;
    expect(await outbox.count()).toBe(4);
    expect((await outbox.listDue(at(1), 10)).map((e) => e.parcelId)).toEqual(['p1', 'p2', 'p4']);
    expect((await outbox.listDue(at(10), 10)).map((e) => e.parcelId)).toEqual(['p1', 'p2']); // p4 expired
    expect((await outbox.listDue(at(10), 1)).map((e) => e.parcelId)).toEqual(['p1']);
    const [p2] = (await outbox.listDue(at(10), 10)).filter((e) => e.parcelId === 'p2');
    expect(p2).toEqual(entry('p2', { nextAttemptDate: at(0), gatewayAddress: null }));

    await outbox.reschedule('p1', at(60), 1);
    expect((await outbox.listDue(at(40), 10)).map((e) => e.parcelId)).toEqual(['p2', 'p3']);
    expect((await outbox.listDue(at(60), 10)).find((e) => e.parcelId === 'p1')?.attempts).toBe(1);
    await outbox.delete('p2');
    expect((await outbox.deleteExpired(at(10))).map((e) => e.parcelId)).toEqual(['p4']);
    expect(await outbox.count()).toBe(2);
    expect(await outbox.nextAttemptDate()).toEqual(at(30));
    // Same parcel id: replaced.
    await outbox.add(entry('p3', { nextAttemptDate: at(1), parcel: Buffer.from('v2') }));
    expect(await outbox.count()).toBe(2);
    expect((await outbox.listDue(at(1), 10))[0].parcel.toString()).toBe('v2');

    // Many at once (ids not there are ignored), durably.
    for (const id of ['m1', 'm2', 'm3']) await outbox.add(entry(id, { nextAttemptDate: at(0) }));
    await outbox.deleteMany(['m1', 'm3', 'never-there']);
    await outbox.deleteMany([]);
    const reopened = (await restart()).outbox;
    expect((await reopened.listDue(at(100), 10)).map((e) => e.parcelId).sort()).toEqual(['m2', 'p1', 'p3']);
  });
});
