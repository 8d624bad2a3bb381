/**
 * PKI test fixtures. Key generation is slow, so keys and the sample chain are generated once per
 * test file (per module registry) and shared: call the getters from `beforeAll`.
 */
import { constants as cryptoConstants, generateKeyPairSync, KeyObject, sign } from 'node:crypto';

import { issuePkiChain } from '@twitter-relaynet/test-support';

import {
  bitString,
  boolean,
  explicit,
  integer,
  nullValue,
  octetString,
  oid,
  sequence,
  setOf,
  tlv,
  x509Time,
} from '../asn1/encode';
import { TagClass, UniversalTag } from '../asn1/decode';
import { ALGORITHM_OIDS, X509_OIDS } from '../oids';
import { Certificate } from '../pki/Certificate';
import { issueEndpointCertificate } from '../pki/issuance';
import { derSerializePublicKey, generateRsaKeyPair, getPublicKeyDigest, KeyPair } from '../pki/keys';

export const TEST_KEY_POOL_SIZE = 6;

let keyPoolPromise: Promise<readonly KeyPair[]> | undefined;

/** A pool of RSA-2048 key pairs generated (in parallel) once per test file. */
export function getRsaKeyPairs(): Promise<readonly KeyPair[]> {
  keyPoolPromise ??= Promise.all(Array.from({ length: TEST_KEY_POOL_SIZE }, () => generateRsaKeyPair()));
  return keyPoolPromise;
}

let weakKeyPair: KeyPair | undefined;

/** An RSA-1024 key pair, which the PKI must refuse. */
export function getWeakRsaKeyPair(): KeyPair {
  weakKeyPair ??= generateKeyPairSync('rsa', { modulusLength: 1024 });
  return weakKeyPair;
}

export interface NodeFixture {
  readonly keyPair: KeyPair;
  readonly certificate: Certificate;
}

/**
 * internet gateway (self-issued) → private gateway → private endpoint → PDA for a public endpoint.
 * The public endpoint also has a self-issued certificate.
 */
export interface PkiFixture {
  readonly internetGateway: NodeFixture;
  readonly privateGateway: NodeFixture;
  readonly privateEndpoint: NodeFixture;
  readonly publicEndpoint: NodeFixture & { readonly pda: Certificate };
  /** Start of every certificate's validity (one hour ago, whole seconds). */
  readonly startDate: Date;
  /** The requested end of validity (30 days from now, whole seconds). */
  readonly endDate: Date;
}

let fixturePromise: Promise<PkiFixture> | undefined;

export function getPkiFixture(): Promise<PkiFixture> {
  fixturePromise ??= makePkiFixture();
  return fixturePromise;
}

async function makePkiFixture(): Promise<PkiFixture> {
  const [igKeys, pgKeys, peKeys, pubKeys] = await getRsaKeyPairs();
  const now = Math.floor(Date.now() / 1000) * 1000;
  const startDate = new Date(now - 3_600_000);
  const endDate = new Date(now + 30 * 86_400_000);
  const dates = { validityStartDate: startDate, validityEndDate: endDate };

  const chain = await issuePkiChain(
    { internetGateway: igKeys, privateGateway: pgKeys, privateEndpoint: peKeys, publicEndpoint: pubKeys },
    dates,
  );
  const pubCert = await issueEndpointCertificate({
    ...dates,
    subjectPublicKey: pubKeys.publicKey,
    issuerPrivateKey: pubKeys.privateKey,
  });
  return {
    internetGateway: { keyPair: igKeys, certificate: chain.internetGateway },
    privateGateway: { keyPair: pgKeys, certificate: chain.privateGateway },
    privateEndpoint: { keyPair: peKeys, certificate: chain.privateEndpoint },
    publicEndpoint: { keyPair: pubKeys, certificate: pubCert, pda: chain.pda },
    startDate,
    endDate,
  };
}

// ---------------------------------------------------------------------------------------------
// Hand-made certificates, for the cases the issuance API refuses to produce.

export function encodeCommonNameName(commonName: string, tag: number = UniversalTag.BMP_STRING): Buffer {
  const value =
    tag === UniversalTag.BMP_STRING
      ? Buffer.from(commonName, 'utf16le').swap16()
      : Buffer.from(commonName, tag === UniversalTag.UTF8_STRING ? 'utf8' : 'latin1');
  return sequence(setOf(sequence(oid(X509_OIDS.COMMON_NAME), tlv(TagClass.Universal, false, tag, value))));
}

export function pssAlgorithmIdentifier(hashOid: string = ALGORITHM_OIDS.SHA256, saltLength = 32): Buffer {
  const hash = sequence(oid(hashOid), nullValue());
  return sequence(
    oid(ALGORITHM_OIDS.RSA_PSS),
    sequence(
      explicit(0, hash),
      explicit(1, sequence(oid(ALGORITHM_OIDS.MGF1), hash)),
      explicit(2, integer(saltLength)),
    ),
  );
}

export const SHA256_WITH_RSA_ALGORITHM_IDENTIFIER = sequence(oid(ALGORITHM_OIDS.SHA256_WITH_RSA), nullValue());

export function basicConstraintsExtension(isCA: boolean, pathLen?: number): Buffer {
  const value = sequence(...(isCA ? [boolean(true)] : []), ...(pathLen === undefined ? [] : [integer(pathLen)]));
  return sequence(oid(X509_OIDS.BASIC_CONSTRAINTS), boolean(true), octetString(value));
}

export function authorityKeyIdExtension(keyId: Buffer): Buffer {
  return sequence(
    oid(X509_OIDS.AUTHORITY_KEY_IDENTIFIER),
    octetString(sequence(tlv(TagClass.Context, false, 0, keyId))),
  );
}

export function subjectKeyIdExtension(keyId: Buffer): Buffer {
  return sequence(oid(X509_OIDS.SUBJECT_KEY_IDENTIFIER), octetString(octetString(keyId)));
}

export interface CraftOptions {
  readonly subjectPublicKey: KeyObject;
  readonly issuerPrivateKey: KeyObject;
  readonly commonName?: string;
  /** DER Name; defaults to CN = commonName. */
  readonly subjectName?: Buffer;
  /** DER Name; defaults to the subject name (self-issued). */
  readonly issuerName?: Buffer;
  /** X.509 version number minus one; null omits the field (v1). Default 2 (v3). */
  readonly version?: number | null;
  readonly serialNumber?: bigint;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  /** Extension DERs; null omits the extensions field. Default: CA with pathLen 2 and SKI. */
  readonly extensions?: readonly Buffer[] | null;
  /** 'pss' (RSA-PSS SHA-256, the default) or 'pkcs1' (sha256WithRSAEncryption). */
  readonly signatureScheme?: 'pss' | 'pkcs1';
  readonly signatureAlgorithm?: Buffer;
  /** Override the outer signature algorithm (default: same as the TBS one). */
  readonly outerSignatureAlgorithm?: Buffer;
}

/** Build and sign a certificate field by field (synchronously). */
export function craftCertificate(options: CraftOptions): Buffer {
  const scheme = options.signatureScheme ?? 'pss';
  const signatureAlgorithm =
    options.signatureAlgorithm ?? (scheme === 'pss' ? pssAlgorithmIdentifier() : SHA256_WITH_RSA_ALGORITHM_IDENTIFIER);
  const subjectSpki = derSerializePublicKey(options.subjectPublicKey);
  const subjectName = options.subjectName ?? encodeCommonNameName(options.commonName ?? 'subject');
  const issuerName = options.issuerName ?? subjectName;
  const notBefore = options.notBefore ?? new Date(Date.now() - 60_000);
  const notAfter = options.notAfter ?? new Date(Date.now() + 86_400_000);
  const extensions =
    options.extensions === undefined
      ? [basicConstraintsExtension(true, 2), subjectKeyIdExtension(getPublicKeyDigest(subjectSpki))]
      : options.extensions;
  const version = options.version === undefined ? 2 : options.version;

  const tbs = sequence(
    ...(version === null ? [] : [explicit(0, integer(version))]),
    integer(options.serialNumber ?? 1234n),
    signatureAlgorithm,
    issuerName,
    sequence(x509Time(notBefore), x509Time(notAfter)),
    subjectName,
    subjectSpki,
    ...(extensions === null ? [] : [explicit(3, sequence(...extensions))]),
  );
  const signature =
    scheme === 'pss'
      ? sign('sha256', tbs, {
          key: options.issuerPrivateKey,
          padding: cryptoConstants.RSA_PKCS1_PSS_PADDING,
          saltLength: 32,
        })
      : sign('sha256', tbs, options.issuerPrivateKey);
  return sequence(tbs, options.outerSignatureAlgorithm ?? signatureAlgorithm, bitString(signature));
}
