import {
  Cargo,
  CargoMessageSet,
  encryptPayload,
  generateRsaKeyPair,
  issueGatewayCertificate,
  type KeyPair,
  type Certificate,
  Parcel,
  ParcelCollectionAck,
} from '@twitter-relaynet/core';

import { findFutureDatedParcels } from './clockSkew';

const HOUR = 3_600_000;
const now = new Date(Math.floor(Date.now() / 1000) * 1000);

let keys: KeyPair;
let certificate: Certificate;

beforeAll(async () => {
  keys = await generateRsaKeyPair();
  certificate = await issueGatewayCertificate({
    subjectPublicKey: keys.publicKey,
    issuerPrivateKey: keys.privateKey,
    validityStartDate: new Date(now.getTime() - HOUR),
    validityEndDate: new Date(now.getTime() + 30 * 24 * HOUR),
  });
}, 30_000);

async function parcelDated(offsetMs: number): Promise<Buffer> {
  const parcel = new Parcel({ id: '0deadbeef', internetAddress: 'example.com' }, certificate, Buffer.from('payload'), {
    creationDate: new Date(now.getTime() + offsetMs),
    ttl: 86_400,
  });
  return parcel.serialize(keys.privateKey);
}

/** A cargo for ourselves (same key), holding `items`. */
async function cargoOf(items: Buffer[]): Promise<Buffer> {
  const { envelopedData } = await encryptPayload(new CargoMessageSet(items).serialize(), { certificate });
  const cargo = new Cargo({ id: certificate.calculateSubjectId() }, certificate, envelopedData, {
    creationDate: new Date(now.getTime() - 3 * HOUR),
    ttl: 86_400,
  });
  return cargo.serialize(keys.privateKey);
}

describe('findFutureDatedParcels', () => {
  test('finds the parcels dated beyond the tolerance, and only those', async () => {
    const ahead3h = await parcelDated(3 * HOUR);
    const ahead1h = await parcelDated(HOUR);
    const past = await parcelDated(-3 * HOUR);
    const pca = new ParcelCollectionAck('0aaa', '0bbb', 'p').serialize();
    const cargo = await cargoOf([past, ahead1h, pca, ahead3h, Buffer.from('garbage')]);

    const found = await findFutureDatedParcels(cargo, keys.privateKey, now);

    expect(found).toEqual({
      parcelIds: [(await Parcel.deserialize(ahead3h)).id],
      latest: new Date(now.getTime() + 3 * HOUR),
      aheadMs: 3 * HOUR,
    });
    // The tolerance is a parameter (default 2 h).
    expect((await findFutureDatedParcels(cargo, keys.privateKey, now, 1800))?.parcelIds).toHaveLength(2);
  });

  test('null when every date is acceptable, or when the cargo cannot be read (the gateway says why)', async () => {
    const cargo = await cargoOf([await parcelDated(2 * HOUR), await parcelDated(-HOUR)]);
    expect(await findFutureDatedParcels(cargo, keys.privateKey, now)).toBeNull();
    expect(await findFutureDatedParcels(Buffer.from('not cargo'), keys.privateKey, now)).toBeNull();
    const other = await generateRsaKeyPair();
    expect(await findFutureDatedParcels(cargo, other.privateKey, now)).toBeNull();
  });
});
