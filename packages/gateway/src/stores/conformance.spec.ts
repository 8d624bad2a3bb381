import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Certificate, generateRsaKeyPair } from '@twitter-relaynet/core';

import { selfIssueGatewayCertificate } from '../registration';
import { describeStoreConformance, HOUR, NOW, parcel } from '@twitter-relaynet/test-support/gateway';
import { createMemoryStores } from './memory';
import { openGatewaySqliteStores } from './sqlite';
import { peerQueue } from './types';

describeStoreConformance('memory', () => ({ open: createMemoryStores, cleanup: () => undefined }));
describeStoreConformance('sqlite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-store-'));
  const path = join(dir, 'sub', 'gateway.sqlite');
  return {
    open: () => openGatewaySqliteStores(path),
    reopen: async (stores) => {
      await stores.close();
      return openGatewaySqliteStores(path);
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
});

let certificate: Certificate;
beforeAll(async () => {
  certificate = await selfIssueGatewayCertificate(await generateRsaKeyPair());
});

test('the SQLite database is in WAL mode with synchronous=FULL and private to its owner', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-store-'));
  try {
    const path = join(dir, 'gateway.sqlite');
    const stores = openGatewaySqliteStores(path);
    expect(stores.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(stores.db.pragma('synchronous', { simple: true })).toBe(2); // FULL
    expect(statSync(path).mode & 0o777).toBe(0o600);
    await stores.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a SQLite batch that fails half-way leaves nothing of it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-store-'));
  try {
    const stores = openGatewaySqliteStores(join(dir, 'gateway.sqlite'));
    await stores.writeBatch([{ kind: 'put parcel', parcel: parcel({ id: 'kept' }) }]);
    // The last write fails (as a full disk would) after the others were applied, one of them replacing a parcel.
    const original = stores.parcels.putNow.bind(stores.parcels);
    stores.parcels.putNow = (record) => {
      if (record.id === 'bad') throw new Error('disk full');
      return original(record);
    };
    await expect(
      stores.writeBatch([
        { kind: 'put parcel', parcel: parcel({ id: 'first' }) },
        { kind: 'put parcel', parcel: parcel({ id: 'kept', serialized: Buffer.from('replacement') }) },
        {
          kind: 'put pca',
          pca: {
            peerId: '0p',
            senderEndpointId: '0s',
            recipientEndpointId: '0r',
            parcelId: 'x',
            expiryDate: new Date(NOW.getTime() + HOUR),
          },
        },
        { kind: 'put parcel', parcel: parcel({ id: 'bad' }) },
      ]),
    ).rejects.toThrow('disk full');
    expect(await stores.pcas.count()).toBe(0);
    expect(await stores.parcels.count()).toBe(1);
    const kept = await stores.parcels.get({ queue: parcel().queue, senderId: parcel().senderId, id: 'kept' });
    expect(kept?.serialized).toEqual(parcel().serialized);
    expect(stores.db.inTransaction).toBe(false);
    await stores.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a SQLite registration whose queue move fails saves nothing, and moves nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-store-'));
  try {
    const stores = openGatewaySqliteStores(join(dir, 'gateway.sqlite'));
    await stores.parcels.put(parcel({ queue: peerQueue('0me'), id: 'early' }));
    stores.parcels.moveQueueNow = () => {
      throw new Error('disk full');
    };
    await expect(
      stores.registration.save(
        { relayingGatewayCertificate: certificate, userGatewayCertificate: certificate },
        { from: peerQueue('0me'), to: peerQueue('0relaying') },
      ),
    ).rejects.toThrow('disk full');
    await expect(stores.registration.get()).resolves.toBeNull();
    expect(await stores.parcels.count(peerQueue('0me'))).toBe(1);
    await stores.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
