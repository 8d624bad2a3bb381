import { generateSessionKeyPair, getIdFromIdentityKey, type SessionKeyPair } from '../pki/keys';
import {
  AuthorizationError,
  CertificateError,
  CryptoError,
  RelaynetError,
  RelaynetSyntaxError,
  TimingError,
} from '../errors';
import { decryptSessionless } from '../cms/envelopedData';
import { encryptPayload } from '../ramf/payloadEncryption';
import { FORMAT_SIGNATURE_LENGTH, MAX_PAYLOAD_LENGTH, MAX_TTL_SECONDS } from '../ramf/limits';
import { InvalidSignatureError, readStoredRamfFields } from '../ramf/serialization';
import { getPkiFixture, type PkiFixture } from '../testUtils/pki';
import { Cargo } from './Cargo';
import { CargoCollectionAuthorization } from './CargoCollectionAuthorization';
import { Parcel } from './Parcel';
import { ParcelCollectionAck } from './ParcelCollectionAck';
import { batchMessages, CargoMessageSet, MAX_CARGO_ITEM_LENGTH } from './payloads/CargoMessageSet';
import { CargoCollectionRequest } from './payloads/CargoCollectionRequest';
import { ServiceMessage } from './payloads/ServiceMessage';
import { issueDeliveryAuthorization } from '../pki/issuance';

let pki: PkiFixture;
let sessionKeyPair: SessionKeyPair;
const PUBLIC_ADDRESS = 'twitter.relaycorp.test';

beforeAll(async () => {
  pki = await getPkiFixture();
  sessionKeyPair = await generateSessionKeyPair();
});

const serviceMessage = new ServiceMessage('text/plain', Buffer.from('hello, world'));

/** A parcel from the private endpoint to the public endpoint, sessionless. */
async function makeParcelToPublic(options: ConstructorParameters<typeof Parcel>[3] = {}): Promise<Parcel> {
  const { envelopedData } = await encryptPayload(serviceMessage.serialize(), {
    certificate: pki.publicEndpoint.certificate,
  });
  return new Parcel(
    { id: pki.publicEndpoint.certificate.calculateSubjectId(), internetAddress: PUBLIC_ADDRESS },
    pki.privateEndpoint.certificate,
    envelopedData,
    { senderCaCertificateChain: [pki.privateGateway.certificate], ...options },
  );
}

/** A parcel from the public endpoint back to the private endpoint with its PDA, over a session. */
async function makeParcelToPrivate(): Promise<Parcel> {
  const { envelopedData } = await encryptPayload(serviceMessage.serialize(), {
    sessionKey: sessionKeyPair.sessionKey,
  });
  return new Parcel(
    { id: pki.privateEndpoint.certificate.calculateSubjectId() },
    pki.publicEndpoint.pda,
    envelopedData,
    { senderCaCertificateChain: [pki.privateEndpoint.certificate, pki.privateGateway.certificate] },
  );
}

describe('Parcel', () => {
  test('round-trips every field and the sender chain', async () => {
    const parcel = await makeParcelToPublic({ id: 'the-id', ttl: 3600 });
    const serialized = await parcel.serialize(pki.privateEndpoint.keyPair.privateKey);
    expect(serialized.subarray(0, FORMAT_SIGNATURE_LENGTH)).toEqual(Buffer.from('Awala\x50\x00', 'latin1'));

    const parsed = await Parcel.deserialize(serialized);
    expect(parsed.id).toBe('the-id');
    expect(parsed.ttl).toBe(3600);
    expect(parsed.recipient).toEqual(parcel.recipient);
    expect(parsed.creationDate).toEqual(parcel.creationDate);
    expect(parsed.payloadSerialized).toEqual(parcel.payloadSerialized);
    expect(parsed.senderCertificate.isEqual(pki.privateEndpoint.certificate)).toBe(true);
    expect(parsed.senderCaCertificateChain.map((c) => c.calculateSubjectId())).toEqual([
      pki.privateGateway.certificate.calculateSubjectId(),
    ]);
  });

  test('readStoredRamfFields reads the fields of a stored parcel without its key, and refuses what is not one', async () => {
    const parcel = await makeParcelToPublic({ id: 'stored', creationDate: new Date('2026-12-10T01:02:03Z'), ttl: 60 });
    const serialized = await parcel.serialize(pki.privateEndpoint.keyPair.privateKey);
    expect(readStoredRamfFields(serialized)).toMatchObject({
      id: 'stored',
      creationDate: new Date('2026-12-10T01:02:03Z'),
      ttl: 60,
      recipient: parcel.recipient,
    });
    for (const bad of [
      Buffer.alloc(3),
      serialized.subarray(0, 200),
      Buffer.concat([serialized.subarray(0, 10), Buffer.from([0x30, 0x00])]),
    ]) {
      expect(() => readStoredRamfFields(bad)).toThrow(RelaynetSyntaxError);
    }
  });

  test('creation dates lose their milliseconds and default ids are unique', async () => {
    const a = await makeParcelToPublic({ creationDate: new Date('2026-11-28T01:02:03.456Z') });
    const b = await makeParcelToPublic();
    expect(a.creationDate.toISOString()).toBe('2026-11-28T01:02:03.000Z');
    expect(a.id).not.toBe(b.id);
  });

  test('decrypts a sessionless payload with the recipient identity key', async () => {
    const parcel = await Parcel.deserialize(
      await (await makeParcelToPublic()).serialize(pki.privateEndpoint.keyPair.privateKey),
    );
    const { payload, senderSessionKey } = await parcel.unwrapPayload(pki.publicEndpoint.keyPair.privateKey);
    expect(payload.type).toBe('text/plain');
    expect(payload.content.toString()).toBe('hello, world');
    expect(senderSessionKey).toBeNull();
  });

  test('decrypts a session payload and reveals the sender session key', async () => {
    const parcel = await Parcel.deserialize(
      await (await makeParcelToPrivate()).serialize(pki.publicEndpoint.keyPair.privateKey),
    );
    const { payload, senderSessionKey } = await parcel.unwrapPayload(async (kind) => {
      expect(kind.kind).toBe('session');
      return sessionKeyPair.privateKey;
    });
    expect(payload.content.toString()).toBe('hello, world');
    expect(senderSessionKey?.keyId).toHaveLength(8);
  });

  test('a service message given as chunks encrypts to the same plaintext', async () => {
    const big = new ServiceMessage('application/octet-stream', Buffer.alloc(100_000, 7));
    const { envelopedData } = await encryptPayload(big.serializeChunks(), {
      certificate: pki.publicEndpoint.certificate,
    });
    const parcel = new Parcel({ id: '0abc' }, pki.privateEndpoint.certificate, envelopedData);
    const { payload } = await parcel.unwrapPayload(pki.publicEndpoint.keyPair.privateKey);
    expect(payload.content.equals(big.content)).toBe(true);
    expect(big.serializeChunks().length).toBe(big.serialize().length);
  });

  test('a large parcel is written around its payload, and serializing it twice gives two valid parcels', async () => {
    const content = Buffer.alloc(300_000);
    for (let i = 0; i < content.length; i += 1000) content[i] = i & 0xff;
    const plaintext = new ServiceMessage('application/octet-stream', content).serializeChunks();
    const { envelopedData } = await encryptPayload(plaintext, { sessionKey: sessionKeyPair.sessionKey });
    const parcel = new Parcel({ id: '0abc' }, pki.privateEndpoint.certificate, envelopedData);
    const payloadBefore = Buffer.from(envelopedData);

    const first = await parcel.serialize(pki.privateEndpoint.keyPair.privateKey);
    const second = await parcel.serialize(pki.privateEndpoint.keyPair.privateKey);

    // The first message shares the payload's memory (no copy); the second could not, so it copied.
    expect(first.buffer).toBe(envelopedData.buffer);
    expect(second.buffer).not.toBe(envelopedData.buffer);
    expect(envelopedData.equals(payloadBefore)).toBe(true);
    for (const serialization of [first, second]) {
      const received = await Parcel.deserialize(serialization);
      const { payload } = await received.unwrapPayload(sessionKeyPair.privateKey);
      expect(payload.content.equals(content)).toBe(true);
    }
  });

  test('a payload for another key fails to decrypt with a CryptoError', async () => {
    const parcel = await makeParcelToPublic();
    await expect(parcel.unwrapPayload(pki.privateGateway.keyPair.privateKey)).rejects.toBeInstanceOf(CryptoError);
  });

  describe('validation', () => {
    test('accepts a parcel from a PDA holder to the private endpoint that issued the PDA', async () => {
      const parcel = await makeParcelToPrivate();
      const path = await parcel.validate([pki.privateEndpoint.certificate]);
      expect(path?.map((c) => c.calculateSubjectId())).toEqual([
        pki.publicEndpoint.pda.calculateSubjectId(),
        pki.privateEndpoint.certificate.calculateSubjectId(),
      ]);
    });

    test('refuses a sender without a PDA from the private recipient', async () => {
      const { envelopedData } = await encryptPayload(serviceMessage.serialize(), {
        certificate: pki.privateEndpoint.certificate,
      });
      const parcel = new Parcel(
        { id: pki.privateEndpoint.certificate.calculateSubjectId() },
        pki.publicEndpoint.certificate,
        envelopedData,
      );
      await expect(parcel.validate([pki.privateEndpoint.certificate])).rejects.toThrow(AuthorizationError);
    });

    test('refuses a PDA issued by someone other than the recipient', async () => {
      // The private gateway, not the endpoint, issued this "PDA".
      const wrongPda = await issueDeliveryAuthorization({
        subjectPublicKey: pki.publicEndpoint.keyPair.publicKey,
        issuerPrivateKey: pki.privateGateway.keyPair.privateKey,
        issuerCertificate: pki.privateGateway.certificate,
        validityEndDate: pki.endDate,
        validityStartDate: pki.startDate,
      });
      const parcel = new Parcel(
        { id: pki.privateEndpoint.certificate.calculateSubjectId() },
        wrongPda,
        Buffer.from('x'),
        { senderCaCertificateChain: [pki.privateGateway.certificate] },
      );
      await expect(parcel.validate([pki.privateGateway.certificate])).rejects.toThrow(
        /Sender is authorized to reach .+, not /,
      );
    });

    test('a public recipient needs only a path to a trusted certificate', async () => {
      const parcel = await makeParcelToPublic();
      await expect(parcel.validate([pki.privateGateway.certificate])).resolves.toHaveLength(2);
      await expect(parcel.validate([pki.internetGateway.certificate])).resolves.toHaveLength(3);
    });

    test('refuses a sender with no path to the trusted certificates', async () => {
      const parcel = await makeParcelToPublic();
      await expect(parcel.validate([pki.publicEndpoint.certificate])).rejects.toThrow(AuthorizationError);
    });

    test('refuses an expired message', async () => {
      const parcel = await makeParcelToPublic({ creationDate: new Date(Date.now() - 120_000), ttl: 60 });
      await expect(parcel.validate()).rejects.toThrow(TimingError);
      await expect(parcel.validate()).rejects.toThrow(/expired at/);
    });

    test('tolerates a creation date up to the drift tolerance in the future, not beyond', async () => {
      const now = new Date();
      const soon = await makeParcelToPublic({ creationDate: new Date(now.getTime() + 3_600_000) });
      await expect(soon.validate(null, { now })).resolves.toBeNull();
      const tooLate = await makeParcelToPublic({ creationDate: new Date(now.getTime() + 3 * 3_600_000) });
      await expect(tooLate.validate(null, { now })).rejects.toThrow(/in the future/);
      await expect(tooLate.validate(null, { now, clockDriftToleranceSeconds: 4 * 3600 })).resolves.toBeNull();
    });

    test('refuses a sender certificate not valid at the creation date', async () => {
      const beforeStart = await makeParcelToPublic({
        creationDate: new Date(pki.startDate.getTime() - 60_000),
        ttl: MAX_TTL_SECONDS,
      });
      await expect(beforeStart.validate()).rejects.toThrow(CertificateError);
      const afterExpiry = await makeParcelToPublic({
        creationDate: new Date(pki.privateEndpoint.certificate.expiryDate.getTime() + 60_000),
      });
      await expect(afterExpiry.validate(null, { now: afterExpiry.creationDate })).rejects.toThrow(
        /not valid at the message creation date/,
      );
    });
  });

  describe('deserialization errors', () => {
    let serialized: Buffer;
    beforeAll(async () => {
      serialized = await (await makeParcelToPublic()).serialize(pki.privateEndpoint.keyPair.privateKey);
    });

    const mutate = (fn: (copy: Buffer) => Buffer | void): Buffer => {
      const copy = Buffer.from(serialized);
      return fn(copy) ?? copy;
    };

    test('a tampered signature', async () => {
      const tampered = mutate((b) => {
        b[b.length - 1] ^= 0x01;
      });
      await expect(Parcel.deserialize(tampered)).rejects.toBeInstanceOf(InvalidSignatureError);
    });

    test('tampered content', async () => {
      const payloadOffset = serialized.indexOf(Buffer.from('hello')) >= 0 ? -1 : serialized.length >> 2;
      expect(payloadOffset).toBeGreaterThan(0); // the payload is encrypted: no plaintext leaks
      const tampered = mutate((b) => {
        b[payloadOffset] ^= 0x01;
      });
      await expect(Parcel.deserialize(tampered)).rejects.toBeInstanceOf(RelaynetError);
      await expect(Parcel.deserialize(tampered)).rejects.not.toBeInstanceOf(TimingError);
    });

    test('truncated', async () => {
      await expect(Parcel.deserialize(serialized.subarray(0, serialized.length - 10))).rejects.toThrow(
        RelaynetSyntaxError,
      );
      await expect(Parcel.deserialize(serialized.subarray(0, 4))).rejects.toThrow(/too short/);
    });

    test('wrong prefix, type or version', async () => {
      await expect(Parcel.deserialize(mutate((b) => void b.write('Relay', 0)))).rejects.toThrow(
        'Format signature does not begin with "Awala"',
      );
      await expect(Parcel.deserialize(mutate((b) => void (b[5] = 0x43)))).rejects.toThrow(
        /Expected a parcel \(0x50\) but got cargo \(0x43\)/,
      );
      await expect(Parcel.deserialize(mutate((b) => void (b[6] = 0x01)))).rejects.toThrow(
        /Unsupported message version 0x01/,
      );
      await expect(Cargo.deserialize(serialized)).rejects.toThrow(/Expected a cargo/);
    });

    test('trailing garbage after the CMS value', async () => {
      await expect(Parcel.deserialize(Buffer.concat([serialized, Buffer.from([0])]))).rejects.toThrow(
        RelaynetSyntaxError,
      );
    });

    test('a message over the parcel size limit is refused before any parsing', async () => {
      const huge = Buffer.concat([serialized.subarray(0, 7), Buffer.alloc(MAX_CARGO_ITEM_LENGTH)]);
      await expect(Parcel.deserialize(huge)).rejects.toThrow(/above the limit/);
    });
  });

  describe('field limits', () => {
    const recipient = { id: '0abc' };
    test.each([
      [{ id: 'x'.repeat(65) }, /Message id must not exceed 64/],
      [{ id: 'caf\u00e9' }, /printable ASCII/],
      [{ ttl: -1 }, /TTL must be an integer/],
      [{ ttl: MAX_TTL_SECONDS + 1 }, /TTL must be an integer/],
      [{ ttl: 1.5 }, /TTL must be an integer/],
    ])('refuses bad field #%#', (options, message) => {
      expect(() => new Parcel(recipient, pki.privateEndpoint.certificate, Buffer.alloc(0), options)).toThrow(message);
    });

    test.each([
      [{ id: 'x'.repeat(1025) }, /Recipient id must not exceed 1024/],
      [{ id: 'NOT-HEX' }, /Recipient id is malformed/],
      [{ id: '0abc', internetAddress: 'not a domain' }, /Internet address is malformed/],
      [{ id: '0abc', internetAddress: `${'a'.repeat(1021)}.com` }, /must not exceed 1024/],
      [{ id: '0abc', internetAddress: '127.0.0.1' }, /Internet address is malformed/],
    ])('refuses bad recipient #%#', (badRecipient, message) => {
      expect(() => new Parcel(badRecipient, pki.privateEndpoint.certificate, Buffer.alloc(0))).toThrow(message);
    });

    test('refuses a payload over 8 MiB', () => {
      expect(
        () => new Parcel(recipient, pki.privateEndpoint.certificate, Buffer.alloc(MAX_PAYLOAD_LENGTH + 1)),
      ).toThrow(/Payload must not exceed/);
    });
  });
});

describe('Cargo', () => {
  test('carries several parcels and PCAs in order', async () => {
    const parcels = await Promise.all(
      [1, 2, 3].map(async () => (await makeParcelToPublic()).serialize(pki.privateEndpoint.keyPair.privateKey)),
    );
    const pca = new ParcelCollectionAck('0aaa', '0bbb', 'parcel-1').serialize();
    const messageSet = new CargoMessageSet([...parcels, pca]);
    const { envelopedData } = await encryptPayload(messageSet.serialize(), {
      certificate: pki.internetGateway.certificate,
    });
    const cargo = new Cargo(
      { id: pki.internetGateway.certificate.calculateSubjectId() },
      pki.privateGateway.certificate,
      envelopedData,
    );
    const parsed = await Cargo.deserialize(await cargo.serialize(pki.privateGateway.keyPair.privateKey));
    await expect(parsed.validate([pki.internetGateway.certificate])).resolves.toHaveLength(2);
    const { payload } = await parsed.unwrapPayload(pki.internetGateway.keyPair.privateKey);
    expect(payload.messages).toEqual([...parcels, pca]);
    const firstParcel = await Parcel.deserialize(payload.messages[0]);
    expect(firstParcel.recipient.internetAddress).toBe(PUBLIC_ADDRESS);
  });

  test('a message set given as chunks encrypts to the very octets of its serialization', async () => {
    const parcels = await Promise.all(
      [1, 2].map(async () => (await makeParcelToPublic()).serialize(pki.privateEndpoint.keyPair.privateKey)),
    );
    // Items of every DER length form (short, one-octet and multi-octet lengths) around the parcels.
    const messageSet = new CargoMessageSet([
      Buffer.alloc(5, 1),
      ...parcels,
      Buffer.alloc(200, 2),
      Buffer.alloc(70_000, 3),
    ]);
    const chunks = messageSet.serializeChunks();
    const serialization = messageSet.serialize();
    expect(Buffer.concat(chunks.chunks as Buffer[])).toEqual(serialization);
    expect(chunks.length).toBe(serialization.length);
    // Not joined: the messages themselves are chunks, uncopied.
    for (const message of messageSet.messages) expect(chunks.chunks).toContain(message);

    const { envelopedData } = await encryptPayload(chunks, { certificate: pki.internetGateway.certificate });
    const cargo = new Cargo(
      { id: pki.internetGateway.certificate.calculateSubjectId() },
      pki.privateGateway.certificate,
      envelopedData,
    );
    const parsed = await Cargo.deserialize(await cargo.serialize(pki.privateGateway.keyPair.privateKey));
    const plaintext = await decryptSessionless(parsed.payload, pki.internetGateway.keyPair.privateKey);
    expect(plaintext.equals(serialization)).toBe(true);
    expect((await parsed.unwrapPayload(pki.internetGateway.keyPair.privateKey)).payload.messages).toEqual(
      messageSet.messages,
    );
  });
});

describe('CargoMessageSet batching', () => {
  const expiry = (offset: number) => new Date(Date.UTC(2030, 0, 1) + offset * 1000);

  test('puts everything in one set when it fits, keeping order and the latest expiry', async () => {
    const items = [Buffer.from('a'), Buffer.from('bb'), Buffer.from('ccc')].map((message, index) => ({
      message,
      expiryDate: expiry(index === 1 ? 100 : index),
    }));
    const batches = [];
    for await (const batch of batchMessages(items)) batches.push(batch);
    expect(batches).toHaveLength(1);
    expect(batches[0].messageSet.messages.map(String)).toEqual(['a', 'bb', 'ccc']);
    expect(batches[0].expiryDate).toEqual(expiry(100));
    expect(batches[0].serializedLength).toBe(batches[0].messageSet.serialize().length);
  });

  test('splits into as few sets as the limit allows, each within it', async () => {
    const message = Buffer.alloc(1000, 1);
    const items = Array.from({ length: 25 }, (_, i) => ({ message, expiryDate: expiry(i) }));
    const limit = 10_100; // room for ten 1004-octet items plus the SEQUENCE header
    const batches = [];
    for await (const batch of batchMessages(items, limit)) batches.push(batch);
    expect(batches.map((b) => b.messageSet.messages.length)).toEqual([10, 10, 5]);
    for (const batch of batches) {
      const serialized = batch.messageSet.serialize();
      expect(serialized.length).toBeLessThanOrEqual(limit);
      expect(batch.serializedLength).toBe(serialized.length);
    }
  });

  test('refuses an item too large for any cargo', async () => {
    const items = [{ message: Buffer.alloc(MAX_CARGO_ITEM_LENGTH + 1), expiryDate: expiry(0) }];
    await expect(async () => {
      for await (const _ of batchMessages(items)) void _;
    }).rejects.toThrow(/Cargo items must not exceed/);
  });

  test('refuses a malformed set', () => {
    expect(() => CargoMessageSet.deserialize(Buffer.from('3003020101', 'hex'))).toThrow(RelaynetSyntaxError);
    expect(() => CargoMessageSet.deserialize(Buffer.from('ff', 'hex'))).toThrow(RelaynetSyntaxError);
  });
});

describe('CargoCollectionAuthorization', () => {
  test('carries the CDA, encrypted for the collecting-from gateway', async () => {
    const request = new CargoCollectionRequest(pki.internetGateway.certificate);
    const { envelopedData } = await encryptPayload(request.serialize(), {
      certificate: pki.internetGateway.certificate,
    });
    const cca = new CargoCollectionAuthorization(
      { id: pki.internetGateway.certificate.calculateSubjectId(), internetAddress: 'gateway.example.com' },
      pki.privateGateway.certificate,
      envelopedData,
      { ttl: 3600 },
    );
    const serialized = await cca.serialize(pki.privateGateway.keyPair.privateKey);
    expect(serialized[5]).toBe(0x44);
    const parsed = await CargoCollectionAuthorization.deserialize(serialized);
    const { payload } = await parsed.unwrapPayload(pki.internetGateway.keyPair.privateKey);
    expect(payload.cargoDeliveryAuthorization.isEqual(pki.internetGateway.certificate)).toBe(true);
  });

  test('a request whose CDA is not a certificate is refused', () => {
    const bogus = Buffer.from('30058003010203', 'hex');
    expect(() => CargoCollectionRequest.deserialize(bogus)).toThrow(/malformed CDA/);
    expect(() => CargoCollectionRequest.deserialize(Buffer.from('3000', 'hex'))).toThrow(/1 field/);
  });
});

describe('ParcelCollectionAck', () => {
  test('round-trips', () => {
    const pca = new ParcelCollectionAck('0aaa', '0bbb', 'parcel-1');
    const serialized = pca.serialize();
    expect(serialized.subarray(0, 7)).toEqual(Buffer.from('Awala\x51\x00', 'latin1'));
    expect(ParcelCollectionAck.deserialize(serialized)).toEqual(pca);
  });

  test('refuses malformed input with specific errors', () => {
    const good = new ParcelCollectionAck('0aaa', '0bbb', 'p').serialize();
    expect(() => ParcelCollectionAck.deserialize(Buffer.concat([good, Buffer.from([0])]))).toThrow(/Trailing data/);
    expect(() => ParcelCollectionAck.deserialize(good.subarray(0, good.length - 1))).toThrow(RelaynetSyntaxError);
    const asParcel = Buffer.from(good);
    asParcel[5] = 0x50;
    expect(() => ParcelCollectionAck.deserialize(asParcel)).toThrow(/Expected a parcel collection acknowledgement/);
    expect(() => new ParcelCollectionAck('0', '0', 'x'.repeat(65))).toThrow(/parcel id must not exceed/);
  });
});

describe('ServiceMessage', () => {
  test('round-trips', () => {
    const message = new ServiceMessage('application/vnd.example+json', Buffer.from('{}'));
    expect(ServiceMessage.deserialize(message.serialize())).toEqual(message);
  });

  test('refuses malformed input and bad types', () => {
    expect(() => ServiceMessage.deserialize(Buffer.from('3000', 'hex'))).toThrow(/2 fields/);
    expect(() => ServiceMessage.deserialize(Buffer.from('00', 'hex'))).toThrow(RelaynetSyntaxError);
    expect(() => new ServiceMessage('', Buffer.alloc(0))).toThrow(/1..255/);
    expect(() => new ServiceMessage('t'.repeat(256), Buffer.alloc(0))).toThrow(/1..255/);
    expect(() => new ServiceMessage('caf\u00e9', Buffer.alloc(0))).toThrow(/printable ASCII/);
  });
});

test('node ids are derived from the identity key', () => {
  expect(getIdFromIdentityKey(pki.privateEndpoint.keyPair.publicKey)).toBe(
    pki.privateEndpoint.certificate.calculateSubjectId(),
  );
});
