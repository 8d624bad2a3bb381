/**
 * Property-based fuzzing of every deserializer of the protocol core.
 *
 * For each deserializer: (1) arbitrary bytes, (2) random DER/BER trees (wrapped in the envelope the
 * deserializer expects, so the fuzzer gets past the first checks), (3) mutated valid serializations
 * (raw byte mutations and structure-aware TLV tree mutations), and (4) pathological inputs. Each
 * must either succeed or fail with one of the expected RelaynetError branches, within 2 s. Signed
 * messages that still deserialize after a mutation must carry the original signed content.
 *
 * FUZZ_RUNS=100000 for a long run; FUZZ_SEED=<n>|random to change seeds (see test/fuzzUtils.ts).
 */
import { createPublicKey, type KeyObject } from 'node:crypto';

import fc from 'fast-check';

import {
  Asn1Element,
  decodeAsn1,
  expectSequence,
  readBitString,
  readBoolean,
  readDateTime,
  readDirectoryString,
  readInteger,
  readIntegerBytes,
  readOctetString,
  readOid,
  readSmallInteger,
  readTime,
  readVisibleString,
} from '../src/asn1/decode';
import { implicitlyTaggedSequence, octetString, oid, sequence, tlv } from '../src/asn1/encode';
import {
  decryptSessionless,
  decryptWithSessionKey,
  encryptSessionless,
  encryptWithSessionKey,
  inspectEnvelopedData,
} from '../src/cms/envelopedData';
import { signSignedData, verifySignedData } from '../src/cms/signedData';
import { Asn1SyntaxError, CertificateError, CryptoError, RelaynetError, RelaynetSyntaxError } from '../src/errors';
import { Cargo } from '../src/messages/Cargo';
import { CargoCollectionAuthorization } from '../src/messages/CargoCollectionAuthorization';
import { Parcel } from '../src/messages/Parcel';
import { ParcelCollectionAck } from '../src/messages/ParcelCollectionAck';
import { CargoCollectionRequest } from '../src/messages/payloads/CargoCollectionRequest';
import { CargoMessageSet } from '../src/messages/payloads/CargoMessageSet';
import { ServiceMessage } from '../src/messages/payloads/ServiceMessage';
import { ALGORITHM_OIDS, CMS_OIDS } from '../src/oids';
import { Certificate } from '../src/pki/Certificate';
import { CertificationPath } from '../src/pki/CertificationPath';
import {
  derDeserializeEcdhPrivateKey,
  derDeserializeEcdhPublicKey,
  derDeserializeRsaPrivateKey,
  derDeserializeRsaPublicKey,
  derSerializePrivateKey,
  derSerializePublicKey,
  generateSessionKeyPair,
  type SessionKeyPair,
} from '../src/pki/keys';
import { derToPem, pemOrDerToDer, pemToDer } from '../src/pki/pem';
import { makeFormatSignature, MessageType, readMessageType } from '../src/ramf/formatSignature';
import { FORMAT_SIGNATURE_LENGTH } from '../src/ramf/limits';
import type { RamfMessage } from '../src/ramf/RamfMessage';
import { decodeRamfFields, encodeRamfFields } from '../src/ramf/serialization';
import { getPkiFixture, type PkiFixture } from '../src/testUtils/pki';
import {
  anyMutation,
  applyMutation,
  arbitraryBytes,
  derTreeBytes,
  expectTyped,
  FUZZ_RUNS,
  fuzzParameters,
  hex,
  mutateTree,
  outcomeOf,
  outcomeOfAsync,
  pathologicalInputs,
  TEST_TIMEOUT_MS,
  treeMutations,
  type Outcome,
} from './fuzzUtils';

type ErrorClass = abstract new (...args: never[]) => Error;

// ---------------------------------------------------------------------------------------------
// Valid samples (built once: RSA key generation is slow)

interface Samples {
  readonly pki: PkiFixture;
  readonly session: SessionKeyPair;
  readonly certificate: Buffer;
  readonly certificationPath: Buffer;
  readonly certificatePem: Buffer;
  readonly rsaPublicKey: Buffer;
  readonly rsaPrivateKey: Buffer;
  readonly ecdhPublicKey: Buffer;
  readonly ecdhPrivateKey: Buffer;
  readonly signedPlaintext: Buffer;
  readonly signedData: Buffer;
  readonly sessionlessEnvelopedData: Buffer;
  readonly sessionEnvelopedData: Buffer;
  readonly serviceMessage: Buffer;
  readonly cargoMessageSet: Buffer;
  readonly cargoCollectionRequest: Buffer;
  readonly pca: Buffer;
  readonly parcel: Buffer;
  readonly cargo: Buffer;
  readonly cca: Buffer;
  readonly parcelObject: Parcel;
  readonly cargoObject: Cargo;
  readonly ccaObject: CargoCollectionAuthorization;
  readonly ramfFields: Buffer;
}

let samples: Samples;

beforeAll(async () => {
  const pki = await getPkiFixture();
  const session = await generateSessionKeyPair();
  const serviceMessage = new ServiceMessage('application/vnd.relaynet.tweet', Buffer.from('hello, fuzz')).serialize();
  const pca = new ParcelCollectionAck('0aaa', '0bbb', 'parcel-1').serialize();
  const cargoCollectionRequest = new CargoCollectionRequest(pki.publicEndpoint.pda).serialize();
  const signedPlaintext = Buffer.from('signed plaintext');

  const parcelObject = new Parcel(
    { id: pki.publicEndpoint.certificate.calculateSubjectId(), internetAddress: 'twitter.relaycorp.test' },
    pki.privateEndpoint.certificate,
    await encryptSessionless(serviceMessage, pki.publicEndpoint.certificate),
    { id: 'parcel-1', ttl: 3600, senderCaCertificateChain: [pki.privateGateway.certificate] },
  );
  const parcel = await parcelObject.serialize(pki.privateEndpoint.keyPair.privateKey);
  // A small parcel inside the cargo keeps the cargo (and each fuzz case) small.
  const cargoMessageSet = new CargoMessageSet([pca, Buffer.from('not a parcel')]).serialize();
  const cargoObject = new Cargo(
    { id: pki.internetGateway.certificate.calculateSubjectId() },
    pki.privateGateway.certificate,
    (await encryptWithSessionKey(cargoMessageSet, session.sessionKey)).envelopedData,
    { ttl: 86_400 },
  );
  const ccaObject = new CargoCollectionAuthorization(
    { id: pki.internetGateway.certificate.calculateSubjectId(), internetAddress: 'gw.example.com' },
    pki.privateGateway.certificate,
    await encryptSessionless(cargoCollectionRequest, pki.internetGateway.certificate),
  );

  samples = {
    pki,
    session,
    certificate: pki.privateEndpoint.certificate.serialize(),
    certificationPath: new CertificationPath(pki.privateEndpoint.certificate, [
      pki.privateGateway.certificate,
      pki.internetGateway.certificate,
    ]).serialize(),
    certificatePem: Buffer.from(derToPem(pki.privateEndpoint.certificate.serialize(), 'CERTIFICATE'), 'latin1'),
    rsaPublicKey: derSerializePublicKey(pki.privateEndpoint.keyPair.publicKey),
    rsaPrivateKey: derSerializePrivateKey(pki.privateEndpoint.keyPair.privateKey),
    ecdhPublicKey: derSerializePublicKey(session.sessionKey.publicKey),
    ecdhPrivateKey: derSerializePrivateKey(session.privateKey),
    signedPlaintext,
    signedData: await signSignedData(
      signedPlaintext,
      pki.privateEndpoint.keyPair.privateKey,
      pki.privateEndpoint.certificate,
      [pki.privateGateway.certificate],
    ),
    sessionlessEnvelopedData: await encryptSessionless(serviceMessage, pki.publicEndpoint.certificate),
    sessionEnvelopedData: (await encryptWithSessionKey(serviceMessage, session.sessionKey)).envelopedData,
    serviceMessage,
    cargoMessageSet,
    cargoCollectionRequest,
    pca,
    parcel,
    cargo: await cargoObject.serialize(pki.privateGateway.keyPair.privateKey),
    cca: await ccaObject.serialize(pki.privateGateway.keyPair.privateKey),
    parcelObject,
    cargoObject,
    ccaObject,
    ramfFields: encodeRamfFields({ ...parcelObject, payload: parcelObject.payloadSerialized }),
  };
}, 120_000);

// ---------------------------------------------------------------------------------------------
// The deserializers under test

interface Target {
  readonly name: string;
  readonly run: (input: Buffer) => unknown;
  readonly async?: boolean;
  /** Errors allowed for arbitrary bytes (garbage must be a syntax error). */
  readonly garbageErrors: readonly ErrorClass[];
  /** Errors allowed for structured and mutated inputs, which get further. */
  readonly structuredErrors: readonly ErrorClass[];
  /** Valid serializations to mutate. */
  readonly valid: () => readonly Buffer[];
  /** Octets before the DER (format signature) that tree mutations leave alone. */
  readonly prefixLength?: number;
  /** Put a random DER tree where this deserializer looks for its structure. */
  readonly wrapTree?: (tree: Buffer) => Buffer;
  /** Extra checks on a successful result (`original` is set for mutated inputs). */
  readonly onSuccess?: (result: unknown, input: Buffer, original: Buffer | null) => void;
}

const SYNTAX = [RelaynetSyntaxError];
const ASN1 = [Asn1SyntaxError];

function contentInfo(contentType: string, content: Buffer): Buffer {
  return sequence(oid(contentType), tlv(2, true, 0, content));
}

function ramfEnvelope(type: number) {
  return (tree: Buffer): Buffer => Buffer.concat([makeFormatSignature(type), contentInfo(CMS_OIDS.SIGNED_DATA, tree)]);
}

function spkiOf(key: KeyObject): Buffer {
  return (key.type === 'public' ? key : createPublicKey(key)).export({ type: 'spki', format: 'der' });
}

/** Every reader applied to every element: each must return or throw Asn1SyntaxError. */
function readEverything(input: Buffer): number {
  const root = decodeAsn1(input, { ber: true });
  const elements: Asn1Element[] = [];
  const visit = (element: Asn1Element): void => {
    if (elements.length >= 256) return;
    elements.push(element);
    if (element.constructed) element.children.forEach(visit);
  };
  visit(root);
  const what = 'fuzz';
  let successes = 0;
  const before = Buffer.from(input);
  for (const element of elements) {
    const tag = element.tagNumber;
    const readers: Array<() => unknown> = [
      () => element.children,
      () => expectSequence(element, what),
      () => readOctetString(element, what),
      () => readOctetString(element, what, tag),
      () => readInteger(element, what),
      () => readIntegerBytes(element, what, tag),
      () => readSmallInteger(element, what),
      () => readSmallInteger(element, what, tag),
      () => readBoolean(element, what),
      () => readOid(element, what),
      () => readBitString(element, what),
      () => readVisibleString(element, what),
      () => readVisibleString(element, what, tag),
      () => readDirectoryString(element, what),
      () => readTime(element, what),
      () => readDateTime(element, what, tag),
    ];
    for (const read of readers) {
      try {
        read();
        successes++;
      } catch (error) {
        if (!(error instanceof Asn1SyntaxError)) throw error;
      }
    }
  }
  if (!before.equals(input)) throw new Error('A reader modified its input in place');
  return successes;
}

/** After a certificate deserializes, its lazy accessors must also fail only with typed errors. */
function exerciseCertificate(result: unknown): void {
  const certificate = result as Certificate;
  const serialization = Buffer.from(certificate.serialize());
  const accessors: Array<() => unknown> = [
    () => certificate.commonName,
    () => certificate.publicKey,
    () => certificate.calculateSubjectId(),
    () => certificate.getIssuerId(),
    () => certificate.subjectKeyIdentifier,
    () => certificate.startDate.getTime(),
    () => certificate.issuerName,
    () => certificate.validate(),
  ];
  for (const access of accessors) {
    try {
      access();
    } catch (error) {
      if (!(error instanceof RelaynetError)) {
        throw new Error(
          `Certificate accessor threw an untyped ${(error as Error)?.constructor?.name}: ${String(error)}`,
          {
            cause: error,
          },
        );
      }
    }
  }
  if (!certificate.serialize().equals(serialization)) throw new Error('Certificate accessors modified its DER');
}

/** A signed RAMF message that survives a mutation must carry exactly the original signed content. */
function sameSignedContent(getOriginal: () => RamfMessage<unknown>) {
  return (result: unknown, _input: Buffer, original: Buffer | null): void => {
    if (!original) return;
    const message = result as RamfMessage<unknown>;
    const expected = getOriginal();
    const differences: string[] = [];
    if (message.id !== expected.id) differences.push('id');
    if (message.ttl !== expected.ttl) differences.push('ttl');
    if (message.creationDate.getTime() !== expected.creationDate.getTime()) differences.push('creationDate');
    if (JSON.stringify(message.recipient) !== JSON.stringify(expected.recipient)) differences.push('recipient');
    if (!message.payloadSerialized.equals(expected.payloadSerialized)) differences.push('payload');
    if (!spkiOf(message.senderCertificate.publicKey).equals(spkiOf(expected.senderCertificate.publicKey))) {
      differences.push('sender key');
    }
    if (differences.length) {
      throw new Error(`Mutated message verified with different ${differences.join(', ')}`);
    }
  };
}

const TARGETS: readonly Target[] = [
  {
    name: 'decodeAsn1 (DER)',
    run: (input) => decodeAsn1(input),
    garbageErrors: ASN1,
    structuredErrors: ASN1,
    valid: () => [samples.certificate, samples.certificationPath],
    onSuccess: (result, input) => {
      if (!(result as Asn1Element).encoded.equals(input)) throw new Error('Decoded value does not span the input');
    },
  },
  {
    name: 'decodeAsn1 (BER)',
    run: (input) => decodeAsn1(input, { ber: true }),
    garbageErrors: ASN1,
    structuredErrors: ASN1,
    valid: () => [samples.signedData, samples.sessionEnvelopedData],
    onSuccess: (result, input) => {
      if (!(result as Asn1Element).encoded.equals(input)) throw new Error('Decoded value does not span the input');
    },
  },
  {
    name: 'typed ASN.1 readers',
    run: readEverything,
    garbageErrors: ASN1,
    structuredErrors: ASN1,
    valid: () => [samples.certificate, samples.ramfFields, samples.signedData],
  },
  {
    name: 'Certificate.deserialize',
    run: (input) => Certificate.deserialize(input),
    garbageErrors: [CertificateError],
    structuredErrors: [CertificateError],
    valid: () => [samples.certificate, samples.pki.publicEndpoint.pda.serialize()],
    wrapTree: (tree) => sequence(tree, sequence(oid(ALGORITHM_OIDS.RSA_PSS)), Buffer.from([0x03, 0x01, 0x00])),
    onSuccess: exerciseCertificate,
  },
  {
    name: 'CertificationPath.deserialize',
    run: (input) => CertificationPath.deserialize(input),
    garbageErrors: SYNTAX,
    structuredErrors: SYNTAX,
    valid: () => [samples.certificationPath],
    wrapTree: (tree) => sequence(tlv(2, false, 0, samples.certificate), tlv(2, true, 1, [octetString(tree)])),
  },
  {
    name: 'pemToDer',
    run: (input) => pemToDer(input, 'CERTIFICATE'),
    garbageErrors: SYNTAX,
    structuredErrors: SYNTAX,
    valid: () => [samples.certificatePem],
    wrapTree: (tree) => Buffer.from(derToPem(tree, 'CERTIFICATE'), 'latin1'),
  },
  {
    name: 'pemOrDerToDer',
    run: (input) => pemOrDerToDer(input, 'CERTIFICATE'),
    garbageErrors: SYNTAX,
    structuredErrors: SYNTAX,
    valid: () => [samples.certificatePem, samples.certificate],
  },
  {
    name: 'derDeserializeRsaPublicKey',
    run: (input) => derDeserializeRsaPublicKey(input),
    garbageErrors: SYNTAX,
    structuredErrors: SYNTAX,
    valid: () => [samples.rsaPublicKey, samples.ecdhPublicKey],
  },
  {
    name: 'derDeserializeRsaPrivateKey',
    run: (input) => derDeserializeRsaPrivateKey(input),
    garbageErrors: SYNTAX,
    structuredErrors: SYNTAX,
    valid: () => [samples.rsaPrivateKey, samples.ecdhPrivateKey],
  },
  {
    name: 'derDeserializeEcdhPublicKey',
    run: (input) => derDeserializeEcdhPublicKey(input),
    garbageErrors: SYNTAX,
    structuredErrors: SYNTAX,
    valid: () => [samples.ecdhPublicKey, samples.rsaPublicKey],
  },
  {
    name: 'derDeserializeEcdhPrivateKey',
    run: (input) => derDeserializeEcdhPrivateKey(input),
    garbageErrors: SYNTAX,
    structuredErrors: SYNTAX,
    valid: () => [samples.ecdhPrivateKey, samples.rsaPrivateKey],
  },
  {
    name: 'verifySignedData',
    run: (input) => verifySignedData(input),
    async: true,
    garbageErrors: SYNTAX,
    structuredErrors: [RelaynetSyntaxError, CryptoError, CertificateError],
    valid: () => [samples.signedData],
    wrapTree: (tree) => contentInfo(CMS_OIDS.SIGNED_DATA, tree),
    onSuccess: (result, _input, original) => {
      if (!original) return;
      const verification = result as Awaited<ReturnType<typeof verifySignedData>>;
      if (!verification.plaintext.equals(samples.signedPlaintext)) {
        throw new Error('Mutated SignedData verified with a different plaintext');
      }
      const expectedKey = spkiOf(samples.pki.privateEndpoint.keyPair.publicKey);
      if (!spkiOf(verification.signerCertificate.publicKey).equals(expectedKey)) {
        throw new Error('Mutated SignedData verified with a different signer key');
      }
    },
  },
  {
    name: 'inspectEnvelopedData',
    run: (input) => inspectEnvelopedData(input),
    garbageErrors: SYNTAX,
    structuredErrors: [RelaynetSyntaxError, CryptoError],
    valid: () => [samples.sessionlessEnvelopedData, samples.sessionEnvelopedData],
    wrapTree: (tree) => contentInfo(CMS_OIDS.ENVELOPED_DATA, tree),
  },
  {
    name: 'decryptSessionless',
    run: (input) => decryptSessionless(input, samples.pki.publicEndpoint.keyPair.privateKey),
    async: true,
    garbageErrors: SYNTAX,
    structuredErrors: [RelaynetSyntaxError, CryptoError],
    valid: () => [samples.sessionlessEnvelopedData],
    wrapTree: (tree) => contentInfo(CMS_OIDS.ENVELOPED_DATA, tree),
  },
  {
    name: 'decryptWithSessionKey',
    run: (input) => decryptWithSessionKey(input, samples.session.privateKey),
    async: true,
    garbageErrors: SYNTAX,
    structuredErrors: [RelaynetSyntaxError, CryptoError],
    valid: () => [samples.sessionEnvelopedData],
    wrapTree: (tree) => contentInfo(CMS_OIDS.ENVELOPED_DATA, tree),
  },
  {
    name: 'readMessageType',
    run: (input) => readMessageType(input),
    garbageErrors: SYNTAX,
    structuredErrors: SYNTAX,
    valid: () => [samples.parcel.subarray(0, 64), samples.pca],
    prefixLength: FORMAT_SIGNATURE_LENGTH,
  },
  {
    name: 'Parcel.deserialize',
    run: (input) => Parcel.deserialize(input),
    async: true,
    garbageErrors: SYNTAX,
    structuredErrors: [RelaynetSyntaxError, CryptoError],
    valid: () => [samples.parcel],
    prefixLength: FORMAT_SIGNATURE_LENGTH,
    wrapTree: ramfEnvelope(MessageType.PARCEL),
    onSuccess: sameSignedContent(() => samples.parcelObject),
  },
  {
    name: 'Cargo.deserialize',
    run: (input) => Cargo.deserialize(input),
    async: true,
    garbageErrors: SYNTAX,
    structuredErrors: [RelaynetSyntaxError, CryptoError],
    valid: () => [samples.cargo],
    prefixLength: FORMAT_SIGNATURE_LENGTH,
    wrapTree: ramfEnvelope(MessageType.CARGO),
    onSuccess: sameSignedContent(() => samples.cargoObject),
  },
  {
    name: 'CargoCollectionAuthorization.deserialize',
    run: (input) => CargoCollectionAuthorization.deserialize(input),
    async: true,
    garbageErrors: SYNTAX,
    structuredErrors: [RelaynetSyntaxError, CryptoError],
    valid: () => [samples.cca],
    prefixLength: FORMAT_SIGNATURE_LENGTH,
    wrapTree: ramfEnvelope(MessageType.CARGO_COLLECTION_AUTHORIZATION),
    onSuccess: sameSignedContent(() => samples.ccaObject),
  },
  {
    name: 'ParcelCollectionAck.deserialize',
    run: (input) => ParcelCollectionAck.deserialize(input),
    garbageErrors: SYNTAX,
    structuredErrors: SYNTAX,
    valid: () => [samples.pca],
    prefixLength: FORMAT_SIGNATURE_LENGTH,
    wrapTree: (tree) => Buffer.concat([makeFormatSignature(MessageType.PARCEL_COLLECTION_ACK), tree]),
  },
  {
    name: 'ServiceMessage.deserialize',
    run: (input) => ServiceMessage.deserialize(input),
    garbageErrors: SYNTAX,
    structuredErrors: SYNTAX,
    valid: () => [samples.serviceMessage],
  },
  {
    name: 'CargoMessageSet.deserialize',
    run: (input) => CargoMessageSet.deserialize(input),
    garbageErrors: SYNTAX,
    structuredErrors: SYNTAX,
    valid: () => [samples.cargoMessageSet],
  },
  {
    name: 'CargoCollectionRequest.deserialize',
    run: (input) => CargoCollectionRequest.deserialize(input),
    garbageErrors: SYNTAX,
    structuredErrors: SYNTAX,
    valid: () => [samples.cargoCollectionRequest],
    wrapTree: (tree) => implicitlyTaggedSequence(octetString(tree)),
    onSuccess: (result) => exerciseCertificate((result as CargoCollectionRequest).cargoDeliveryAuthorization),
  },
  {
    name: 'RAMF fields (decodeRamfFields)',
    run: (input) => decodeRamfFields(input),
    garbageErrors: SYNTAX,
    structuredErrors: SYNTAX,
    valid: () => [samples.ramfFields],
  },
];

// ---------------------------------------------------------------------------------------------
// Properties

async function check(
  target: Target,
  input: Buffer,
  allowed: readonly ErrorClass[],
  original: Buffer | null,
): Promise<void> {
  const outcome: Outcome<unknown> = target.async
    ? await outcomeOfAsync(() => target.run(input) as Promise<unknown>)
    : outcomeOf(() => target.run(input));
  if (outcome.ok && target.onSuccess) {
    try {
      target.onSuccess(outcome.value, input, original);
    } catch (error) {
      throw new Error(`${(error as Error).message}\ninput hex ${hex(input)}`, { cause: error });
    }
  }
  expectTyped(outcome, allowed, input);
}

function checkSync(target: Target, input: Buffer, allowed: readonly ErrorClass[], original: Buffer | null): void {
  const outcome = outcomeOf(() => target.run(input));
  if (outcome.ok && target.onSuccess) {
    try {
      target.onSuccess(outcome.value, input, original);
    } catch (error) {
      throw new Error(`${(error as Error).message}\ninput hex ${hex(input)}`, { cause: error });
    }
  }
  expectTyped(outcome, allowed, input);
}

/** fc.assert over `arbitrary`, sync or async as the target is. */
async function assertProperty<T>(
  name: string,
  target: Target,
  arbitrary: fc.Arbitrary<T>,
  toInput: (value: T) => { input: Buffer; original: Buffer | null },
  allowed: readonly ErrorClass[],
): Promise<void> {
  if (target.async) {
    await fc.assert(
      fc.asyncProperty(arbitrary, async (value) => {
        const { input, original } = toInput(value);
        await check(target, input, allowed, original);
      }),
      fuzzParameters(name),
    );
  } else {
    fc.assert(
      fc.property(arbitrary, (value) => {
        const { input, original } = toInput(value);
        checkSync(target, input, allowed, original);
      }),
      fuzzParameters(name),
    );
  }
}

describe.each(TARGETS.map((target) => [target.name, target] as const))('%s', (name, target) => {
  test(
    'arbitrary bytes: succeeds or raises a syntax error',
    () =>
      assertProperty(
        `${name} / bytes`,
        target,
        arbitraryBytes,
        (input) => ({ input, original: null }),
        target.garbageErrors,
      ),
    TEST_TIMEOUT_MS,
  );

  test(
    'random DER/BER trees: succeeds or raises a typed error',
    () =>
      assertProperty(
        `${name} / trees`,
        target,
        derTreeBytes,
        (tree) => ({ input: target.wrapTree ? target.wrapTree(tree) : tree, original: null }),
        target.structuredErrors,
      ),
    TEST_TIMEOUT_MS,
  );

  test(
    'mutated valid serializations: succeed (unchanged content) or raise a typed error',
    () =>
      assertProperty(
        `${name} / mutations`,
        target,
        fc.tuple(fc.nat(), anyMutation),
        ([which, mutation]) => {
          const valid = target.valid();
          const original = valid[which % valid.length];
          return { input: applyMutation(original, mutation, target.prefixLength ?? 0), original };
        },
        target.structuredErrors,
      ),
    TEST_TIMEOUT_MS,
  );

  test(
    'valid serializations deserialize (sanity check of the fixtures)',
    async () => {
      for (const valid of target.valid().slice(0, 1)) {
        const outcome = target.async
          ? await outcomeOfAsync(() => target.run(valid) as Promise<unknown>)
          : outcomeOf(() => target.run(valid));
        if (!outcome.ok) throw outcome.error;
      }
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'pathological inputs (deep nesting, huge lengths, long tags, indefinite lengths) fail fast',
    async () => {
      const wrappings: Array<(bytes: Buffer) => Buffer> = [(bytes) => bytes];
      if (target.wrapTree) wrappings.push(target.wrapTree);
      if (target.prefixLength) {
        const prefix = target.valid()[0].subarray(0, target.prefixLength);
        wrappings.push((bytes) => Buffer.concat([prefix, bytes]));
      }
      for (const { bytes } of pathologicalInputs()) {
        for (const wrap of wrappings) {
          await check(target, wrap(bytes), target.structuredErrors, null);
        }
      }
    },
    TEST_TIMEOUT_MS,
  );
});

describe('signed RAMF messages with fuzzed (but validly signed) fields', () => {
  // The signature verifies, so the field decoder and validator are reached on every case.
  test(
    'Parcel.deserialize succeeds or raises a syntax error',
    async () => {
      const { privateKey } = samples.pki.privateEndpoint.keyPair;
      const signer = samples.pki.privateEndpoint.certificate;
      await fc.assert(
        fc.asyncProperty(treeMutations, async (mutations) => {
          const fields = mutateTree(samples.ramfFields, mutations);
          const signedData = await signSignedData(fields, privateKey, signer);
          const input = Buffer.concat([makeFormatSignature(MessageType.PARCEL), signedData]);
          const outcome = await outcomeOfAsync(() => Parcel.deserialize(input));
          const parcel = expectTyped(outcome, SYNTAX, fields);
          if (parcel) {
            const decoded = decodeRamfFields(fields);
            if (parcel.id !== decoded.id || !parcel.payloadSerialized.equals(decoded.payload)) {
              throw new Error(`Parcel fields differ from the signed ones\nfields hex ${hex(fields)}`);
            }
          }
        }),
        // Signing costs an RSA operation per case: half the runs keep the default run time in budget.
        fuzzParameters('signed RAMF fields', Math.max(1, Math.ceil(FUZZ_RUNS / 2))),
      );
    },
    TEST_TIMEOUT_MS,
  );
});

describe('regressions', () => {
  test('a 256 KiB INTEGER as a RAMF TTL is read in linear time (was quadratic: ~1 min)', () => {
    const ttl = Buffer.concat([Buffer.from([0x83, 0x83, 0x04, 0x00, 0x00]), Buffer.alloc(256 * 1024, 0x7f)]);
    const fields = Buffer.from(samples.ramfFields);
    const root = decodeAsn1(fields);
    const [recipient, id, date, , payload] = root.children;
    const mutated = implicitlyTaggedSequence(recipient.encoded, id.encoded, date.encoded, ttl, payload.encoded);
    const outcome = outcomeOf(() => decodeRamfFields(mutated));
    expectTyped(outcome, SYNTAX, mutated);
    expect(outcome.ok).toBe(false);
  });

  test('readDirectoryString neither throws RangeError on an odd BMPString nor swaps the input in place', () => {
    const odd = Buffer.from([0x1e, 0x03, 0x00, 0x41, 0x00]);
    expect(() => readDirectoryString(decodeAsn1(odd), 'name')).toThrow(Asn1SyntaxError);
    const even = Buffer.from([0x1e, 0x02, 0x00, 0x41]);
    expect(readDirectoryString(decodeAsn1(even), 'name')).toBe('A');
    expect(readDirectoryString(decodeAsn1(even), 'name')).toBe('A');
    expect(even).toEqual(Buffer.from([0x1e, 0x02, 0x00, 0x41]));
  });
});
