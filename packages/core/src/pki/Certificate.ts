/**
 * X.509 v3 certificates as the Awala PKI (RS-002) uses them.
 *
 * A certificate is decoded once; derived values (public KeyObject, node id, common name) are
 * computed on first use and cached. Signatures are RSA-PSS only, made and checked with
 * node:crypto's asynchronous API so the work runs in libuv's threadpool.
 */
import { constants as cryptoConstants, KeyObject, randomBytes, sign, verify } from 'node:crypto';

import {
  Asn1Element,
  decodeAsn1,
  expectSequence,
  readBitString,
  readBoolean,
  readIntegerBytes,
  readOctetString,
  readOid,
  readSmallInteger,
  readTime,
  TagClass,
  UniversalTag,
} from '../asn1/decode';
import {
  bitString,
  boolean,
  explicit,
  integer,
  integerFromContent,
  octetString,
  oid,
  sequence,
  setOf,
  tlv,
  x509Time,
} from '../asn1/encode';
import {
  encodeRsaPssAlgorithmIdentifier,
  HASHING_ALGORITHMS,
  hashInfo,
  type HashingAlgorithm,
  readRsaPssAlgorithmIdentifier,
  type RsaPssParameters,
} from '../cms/algorithms';
import { CertificateError, CryptoError } from '../errors';
import { DerCache } from '../lruCache';
import { X509_OIDS } from '../oids';
import { assertRsaKey, derSerializePublicKey, getIdFromSpki, getPublicKeyDigest, importSpki } from './keys';

export interface CertificateIssuanceOptions {
  readonly commonName: string;
  readonly subjectPublicKey: KeyObject;
  readonly issuerPrivateKey: KeyObject;
  readonly validityEndDate: Date;
  /** Defaults to now. Milliseconds are dropped from both dates, as X.509 times have none. */
  readonly validityStartDate?: Date;
  /** Absent for self-issued certificates. Its expiry caps the new certificate's. */
  readonly issuerCertificate?: Certificate;
  readonly isCA?: boolean;
  /** 0 to 2 (RS-002). Defaults to 0. */
  readonly pathLenConstraint?: number;
  /** Hash for the RSA-PSS signature (and MGF1). Defaults to SHA-256. */
  readonly hashAlgorithm?: HashingAlgorithm;
}

/** RS-002 never needs a longer chain than internet gateway → private gateway → endpoint → PDA. */
const MAX_PATH_LENGTH_CONSTRAINT = 2;
/** Bound on path building, so hostile certificate bundles cannot make it loop for long. */
const MAX_CERTIFICATION_PATH_LENGTH = 8;
const SERIAL_NUMBER_LENGTH = 8;

// ---------------------------------------------------------------------------------------------

interface ParsedCertificate {
  readonly tbs: Buffer;
  readonly signatureAlgorithm: Buffer;
  readonly signature: Buffer;
  readonly serialNumber: Buffer;
  readonly issuerName: Buffer;
  readonly subjectNameElement: Asn1Element;
  readonly startTime: number;
  readonly expiryTime: number;
  readonly subjectPublicKeyInfo: Buffer;
  readonly subjectKeyIdentifier: Buffer | null;
  readonly authorityKeyIdentifier: Buffer | null;
  readonly isCA: boolean;
  readonly pathLenConstraint: number | null;
}

/**
 * Certificates already parsed, by their DER. Every parcel in a cargo carries the same few
 * certificates, and a Certificate is immutable (its lazily computed values depend only on its
 * bytes), so the same instance can be handed out again.
 */
const parsedCertificates = new DerCache<Certificate>(1024);

export class Certificate {
  /**
   * Parse a DER-encoded X.509 v3 certificate.
   *
   * @throws CertificateError if the value is malformed or is not a v3 certificate.
   */
  static deserialize(der: Buffer): Certificate {
    if (!((der as unknown) instanceof Uint8Array)) {
      throw new CertificateError('Certificate must be DER bytes');
    }
    const cached = parsedCertificates.get(der);
    if (cached) return cached;
    // Own copy: the caller's buffer may be reused, and a view would pin a larger buffer in memory. Outside
    // Buffer's shared pool, so that a cached certificate does not pin an 8 KiB slab either.
    const copy = Buffer.allocUnsafeSlow(der.length);
    copy.set(der);
    let parsed: ParsedCertificate;
    try {
      parsed = parseCertificate(copy);
    } catch (err) {
      if (err instanceof CertificateError) throw err;
      throw new CertificateError('Certificate is malformed', { cause: err });
    }
    const certificate = new Certificate(copy, parsed);
    parsedCertificates.set(copy, certificate);
    return certificate;
  }

  /** Issue a certificate signed with RSA-PSS by `issuerPrivateKey`. */
  static async issue(options: CertificateIssuanceOptions): Promise<Certificate> {
    const tbs = makeTbsCertificate(options);
    const hash = certificateHash(options.hashAlgorithm);
    const signature = await signRsaPss(tbs.encoded, options.issuerPrivateKey, hash);
    const der = sequence(tbs.encoded, tbs.signatureAlgorithm, bitString(signature));
    return Certificate.deserialize(der);
  }

  // Caches for derived values.
  private cachedCommonName: string | undefined;
  private cachedPublicKey: KeyObject | undefined;
  private cachedSubjectId: string | undefined;
  private cachedPssParameters: RsaPssParameters | undefined;
  private verifiedIssuerKeys: WeakSet<KeyObject> | undefined;

  private constructor(
    private readonly der: Buffer,
    private readonly parsed: ParsedCertificate,
  ) {}

  /** The DER encoding (the very bytes this certificate was parsed from). Do not mutate. */
  serialize(): Buffer {
    // A copy: instances are shared through the parse cache, so callers must not hold our bytes.
    return Buffer.from(this.der);
  }

  /** The subject's Common Name (the node id for Awala certificates). */
  get commonName(): string {
    if (this.cachedCommonName === undefined) {
      this.cachedCommonName = readCommonName(this.parsed.subjectNameElement);
    }
    return this.cachedCommonName;
  }

  /** The serial number's INTEGER content octets (two's complement, as encoded). */
  get serialNumber(): Buffer {
    return this.parsed.serialNumber;
  }

  /** DER of the issuer Name. */
  get issuerName(): Buffer {
    return this.parsed.issuerName;
  }

  /** DER of the subject Name. */
  get subjectName(): Buffer {
    return this.parsed.subjectNameElement.encoded;
  }

  get startDate(): Date {
    return new Date(this.parsed.startTime);
  }

  get expiryDate(): Date {
    return new Date(this.parsed.expiryTime);
  }

  /** DER of the SubjectPublicKeyInfo, as in the certificate. */
  get subjectPublicKeyInfo(): Buffer {
    return this.parsed.subjectPublicKeyInfo;
  }

  /**
   * The subject's public key.
   *
   * @throws CertificateError if it is not an RSA key of at least 2048 bits.
   */
  get publicKey(): KeyObject {
    if (this.cachedPublicKey === undefined) {
      let key: KeyObject;
      try {
        key = importSpki(this.parsed.subjectPublicKeyInfo);
      } catch (err) {
        throw new CertificateError('Certificate subject public key is malformed', { cause: err });
      }
      assertRsaKey(key, 'Certificate subject public key', CertificateError);
      this.cachedPublicKey = key;
    }
    return this.cachedPublicKey;
  }

  get subjectKeyIdentifier(): Buffer | null {
    return this.parsed.subjectKeyIdentifier;
  }

  get authorityKeyIdentifier(): Buffer | null {
    return this.parsed.authorityKeyIdentifier;
  }

  /** basicConstraints cA (false when the extension is absent). */
  get isCA(): boolean {
    return this.parsed.isCA;
  }

  get pathLenConstraint(): number | null {
    return this.parsed.pathLenConstraint;
  }

  /** The node id of the subject: "0" + hex SHA-256 of the SubjectPublicKeyInfo. */
  calculateSubjectId(): string {
    if (this.cachedSubjectId === undefined) {
      this.cachedSubjectId = getIdFromSpki(this.parsed.subjectPublicKeyInfo);
    }
    return this.cachedSubjectId;
  }

  /** The issuer's node id, taken from the authority key identifier (null without one). */
  getIssuerId(): string | null {
    const aki = this.parsed.authorityKeyIdentifier;
    return aki ? '0' + aki.toString('hex') : null;
  }

  isEqual(other: Certificate): boolean {
    return this === other || this.der.equals(other.der);
  }

  /**
   * Check that `at` (default: now) falls within the validity window.
   *
   * @throws CertificateError otherwise.
   */
  validate(at: Date = new Date()): void {
    const time = at.getTime();
    if (time < this.parsed.startTime) {
      throw new CertificateError(
        `Certificate is not yet valid: valid from ${this.startDate.toISOString()}, ` + `checked at ${at.toISOString()}`,
      );
    }
    if (this.parsed.expiryTime < time) {
      throw new CertificateError(
        `Certificate already expired: valid until ${this.expiryDate.toISOString()}, ` +
          `checked at ${at.toISOString()}`,
      );
    }
  }

  /**
   * Whether the signature verifies with `issuerPublicKey`.
   *
   * @throws CryptoError if the signature algorithm is not RSA-PSS with SHA-256/384/512, or the key is
   *   not an RSA key of at least 2048 bits.
   */
  async verifySignature(issuerPublicKey: KeyObject): Promise<boolean> {
    if (this.verifiedIssuerKeys?.has(issuerPublicKey)) return true;
    const parameters = this.getPssParameters();
    assertRsaKey(issuerPublicKey, 'Issuer public key', CryptoError, 'public');
    const valid = await verifyRsaPss(this.parsed.tbs, this.parsed.signature, issuerPublicKey, parameters);
    if (valid) {
      this.verifiedIssuerKeys ??= new WeakSet();
      this.verifiedIssuerKeys.add(issuerPublicKey);
    }
    return valid;
  }

  /**
   * Whether `issuer` issued this certificate: the issuer name equals the issuer's subject name, the
   * key identifiers match (when both are present) and the signature verifies with its key.
   *
   * @throws CryptoError if the signature algorithm is not supported (only RSA-PSS is).
   * @throws CertificateError if the issuer's key is not an acceptable RSA key.
   */
  async isIssuedBy(issuer: Certificate): Promise<boolean> {
    if (!this.parsed.issuerName.equals(issuer.subjectName)) return false;
    const aki = this.parsed.authorityKeyIdentifier;
    const ski = issuer.subjectKeyIdentifier;
    if (aki && ski && !aki.equals(ski)) return false;
    return this.verifySignature(issuer.publicKey);
  }

  /**
   * Build and check a certification path from this certificate to one of `trusted`.
   *
   * Every certificate on the path must be valid at `at`, have an RSA key of at least 2048 bits and,
   * above the leaf, be a CA whose pathLenConstraint allows the certificates below it. Issuers are
   * matched by name and key identifiers, and every signature is verified.
   *
   * @returns The path: this certificate first, the trusted certificate last.
   * @throws CertificateError if there is no such path.
   */
  async getCertificationPath(
    intermediates: readonly Certificate[],
    trusted: readonly Certificate[],
    at: Date = new Date(),
  ): Promise<Certificate[]> {
    try {
      this.validate(at);
      void this.publicKey;
    } catch (err) {
      throw new CertificateError(`Leaf certificate is invalid: ${(err as Error).message}`, { cause: err });
    }
    if (trusted.some((t) => t.isEqual(this))) {
      return [this];
    }
    const failures: Error[] = [];
    const path = await buildPath([this], intermediates, trusted, at, failures);
    if (path) return path;

    const subject = `certificate for ${this.calculateSubjectId()}`;
    if (failures.length === 0) {
      throw new CertificateError(
        `No certification path for ${subject}: no issuer found among ${intermediates.length} ` +
          `intermediate and ${trusted.length} trusted certificate(s)`,
      );
    }
    const reasons = failures.map((f) => f.message).join('; ');
    throw new CertificateError(`No certification path for ${subject}: ${reasons}`, {
      cause: failures.length === 1 ? failures[0] : new AggregateError(failures, reasons),
    });
  }

  /** @internal The PSS parameters of the signature, parsed on first use. */
  private getPssParameters(): RsaPssParameters {
    if (this.cachedPssParameters === undefined) {
      this.cachedPssParameters = parseSignatureAlgorithm(this.parsed.signatureAlgorithm);
    }
    return this.cachedPssParameters;
  }
}

// ---------------------------------------------------------------------------------------------
// Path building

async function buildPath(
  path: Certificate[],
  intermediates: readonly Certificate[],
  trusted: readonly Certificate[],
  at: Date,
  failures: Error[],
): Promise<Certificate[] | null> {
  const current = path[path.length - 1];
  const issuerName = current.issuerName;
  const isCandidate = (c: Certificate) => c.subjectName.equals(issuerName) && !path.some((p) => p.isEqual(c));

  // Trusted certificates first, so the shortest path to a trust anchor wins.
  for (const candidate of trusted) {
    if (!isCandidate(candidate)) continue;
    if (await checkIssuer(current, candidate, path, at, failures)) {
      return [...path, candidate];
    }
  }
  if (path.length + 1 >= MAX_CERTIFICATION_PATH_LENGTH) return null;
  for (const candidate of intermediates) {
    if (!isCandidate(candidate) || trusted.some((t) => t.isEqual(candidate))) continue;
    if (await checkIssuer(current, candidate, path, at, failures)) {
      const result = await buildPath([...path, candidate], intermediates, trusted, at, failures);
      if (result) return result;
    }
  }
  return null;
}

/** Whether `candidate` may be the issuer of `current` (the last certificate of `path`). */
async function checkIssuer(
  current: Certificate,
  candidate: Certificate,
  path: readonly Certificate[],
  at: Date,
  failures: Error[],
): Promise<boolean> {
  const name = `issuer ${describe(candidate)}`;
  const fail = (message: string, cause?: unknown) => {
    failures.push(new CertificateError(`${name} ${message}`, cause === undefined ? undefined : { cause }));
    return false;
  };
  try {
    candidate.validate(at);
  } catch (err) {
    return fail(`is not valid at ${at.toISOString()}`, err);
  }
  if (!candidate.isCA) {
    return fail('is not a CA');
  }
  const pathLen = candidate.pathLenConstraint;
  if (pathLen !== null) {
    // RFC 5280 §4.2.1.9: non-self-issued intermediates between the candidate and the leaf.
    const intermediatesBelow = path.slice(1).filter((c) => !c.subjectName.equals(c.issuerName)).length;
    if (pathLen < intermediatesBelow) {
      return fail(`has pathLenConstraint ${pathLen} but ${intermediatesBelow} intermediate(s) follow it`);
    }
  }
  const aki = current.authorityKeyIdentifier;
  const ski = candidate.subjectKeyIdentifier;
  if (aki && ski && !aki.equals(ski)) {
    return fail('has a subject key identifier that does not match the authority key identifier');
  }
  let valid: boolean;
  try {
    valid = await current.verifySignature(candidate.publicKey);
  } catch (err) {
    return fail(`cannot be checked: ${(err as Error).message}`, err);
  }
  return valid || fail(`did not sign ${describe(current)} (signature does not verify)`);
}

function describe(certificate: Certificate): string {
  try {
    return `"${certificate.commonName}"`;
  } catch {
    return certificate.calculateSubjectId();
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing

function parseCertificate(der: Buffer): ParsedCertificate {
  const root = decodeAsn1(der);
  const [tbsElement, signatureAlgorithmElement, signatureElement, ...extra] = expectSequence(root, 'Certificate');
  if (!signatureElement || extra.length > 0) {
    throw new CertificateError('Certificate must have exactly three fields');
  }
  expectSequence(signatureAlgorithmElement, 'Certificate signatureAlgorithm');
  const signature = readBitString(signatureElement, 'Certificate signature');

  const tbsFields = expectSequence(tbsElement, 'TBSCertificate');
  let index = 0;
  const next = (what: string): Asn1Element => {
    const field = tbsFields[index++];
    if (!field) throw new CertificateError(`TBSCertificate is missing ${what}`);
    return field;
  };

  let version = 0;
  if (tbsFields[0]?.is(TagClass.Context, 0)) {
    const versionWrapper = next('version');
    if (versionWrapper.children.length !== 1) throw new CertificateError('Malformed certificate version');
    version = readSmallInteger(versionWrapper.children[0], 'Certificate version');
  }
  if (version !== 2) {
    throw new CertificateError(`Only X.509 v3 certificates are supported (got v${version + 1})`);
  }
  const serialNumber = readIntegerBytes(next('serialNumber'), 'Certificate serialNumber');
  const innerSignatureAlgorithm = next('signature');
  if (!innerSignatureAlgorithm.encoded.equals(signatureAlgorithmElement.encoded)) {
    throw new CertificateError('TBSCertificate signature algorithm differs from the outer one');
  }
  const issuer = next('issuer');
  expectSequence(issuer, 'Certificate issuer');
  const validity = expectSequence(next('validity'), 'Certificate validity');
  if (validity.length !== 2) throw new CertificateError('Certificate validity must have two dates');
  const startTime = readTime(validity[0], 'Certificate notBefore').getTime();
  const expiryTime = readTime(validity[1], 'Certificate notAfter').getTime();
  const subject = next('subject');
  expectSequence(subject, 'Certificate subject');
  const spki = next('subjectPublicKeyInfo');
  const spkiFields = expectSequence(spki, 'SubjectPublicKeyInfo');
  if (spkiFields.length !== 2) throw new CertificateError('SubjectPublicKeyInfo must have two fields');
  expectSequence(spkiFields[0], 'SubjectPublicKeyInfo algorithm');
  readBitString(spkiFields[1], 'SubjectPublicKeyInfo subjectPublicKey');

  let extensionsElement: Asn1Element | undefined;
  while (index < tbsFields.length) {
    const field = tbsFields[index++];
    if (field.isContext(1) || field.isContext(2)) continue; // issuer/subject unique ids (unused)
    if (field.isContext(3) && !extensionsElement) {
      extensionsElement = field;
      continue;
    }
    throw new CertificateError(`Unexpected TBSCertificate field ${field.describe()}`);
  }
  const extensions = parseExtensions(extensionsElement);

  return {
    tbs: tbsElement.encoded,
    signatureAlgorithm: signatureAlgorithmElement.encoded,
    signature,
    serialNumber,
    issuerName: issuer.encoded,
    subjectNameElement: subject,
    startTime,
    expiryTime,
    subjectPublicKeyInfo: spki.encoded,
    ...extensions,
  };
}

interface ParsedExtensions {
  readonly subjectKeyIdentifier: Buffer | null;
  readonly authorityKeyIdentifier: Buffer | null;
  readonly isCA: boolean;
  readonly pathLenConstraint: number | null;
}

function parseExtensions(wrapper: Asn1Element | undefined): ParsedExtensions {
  const result = {
    subjectKeyIdentifier: null as Buffer | null,
    authorityKeyIdentifier: null as Buffer | null,
    isCA: false,
    pathLenConstraint: null as number | null,
  };
  if (!wrapper) return result;
  if (wrapper.children.length !== 1) throw new CertificateError('Malformed extensions field');
  const seen = new Set<string>();
  for (const extension of expectSequence(wrapper.children[0], 'Extensions')) {
    const fields = expectSequence(extension, 'Extension');
    if (fields.length < 2 || fields.length > 3) throw new CertificateError('Malformed extension');
    const extnId = readOid(fields[0], 'Extension extnID');
    if (seen.has(extnId)) throw new CertificateError(`Duplicated extension ${extnId}`);
    seen.add(extnId);
    if (fields.length === 3) readBoolean(fields[1], 'Extension critical');
    const value = readOctetString(fields[fields.length - 1], 'Extension extnValue');
    switch (extnId) {
      case X509_OIDS.BASIC_CONSTRAINTS: {
        const bc = parseBasicConstraints(value);
        result.isCA = bc.isCA;
        result.pathLenConstraint = bc.pathLenConstraint;
        break;
      }
      case X509_OIDS.SUBJECT_KEY_IDENTIFIER:
        result.subjectKeyIdentifier = readOctetString(decodeAsn1(value), 'SubjectKeyIdentifier');
        break;
      case X509_OIDS.AUTHORITY_KEY_IDENTIFIER:
        result.authorityKeyIdentifier = parseAuthorityKeyIdentifier(value);
        break;
      default:
        break;
    }
  }
  return result;
}

function parseBasicConstraints(value: Buffer): { isCA: boolean; pathLenConstraint: number | null } {
  const fields = expectSequence(decodeAsn1(value), 'BasicConstraints');
  let index = 0;
  let isCA = false;
  if (fields[index]?.isUniversal(UniversalTag.BOOLEAN)) {
    isCA = readBoolean(fields[index++], 'BasicConstraints cA');
  }
  let pathLenConstraint: number | null = null;
  if (fields[index]) {
    pathLenConstraint = readSmallInteger(fields[index++], 'BasicConstraints pathLenConstraint');
    if (pathLenConstraint < 0) throw new CertificateError('BasicConstraints pathLenConstraint is negative');
  }
  if (index !== fields.length) throw new CertificateError('Malformed BasicConstraints');
  return { isCA, pathLenConstraint };
}

function parseAuthorityKeyIdentifier(value: Buffer): Buffer | null {
  for (const field of expectSequence(decodeAsn1(value), 'AuthorityKeyIdentifier')) {
    if (field.isContext(0)) return readOctetString(field, 'AuthorityKeyIdentifier keyIdentifier', 0);
  }
  return null;
}

function readCommonName(name: Asn1Element): string {
  for (const rdn of name.children) {
    for (const attribute of rdn.children) {
      const [type, value] = expectSequence(attribute, 'AttributeTypeAndValue');
      if (value && readOid(type, 'Attribute type') === X509_OIDS.COMMON_NAME) {
        return readNameString(value);
      }
    }
  }
  throw new CertificateError('Distinguished Name does not contain a Common Name');
}

/** Decode a DirectoryString without touching the underlying buffer. */
function readNameString(element: Asn1Element): string {
  if (element.tagClass === TagClass.Universal && !element.constructed) {
    const content = element.content;
    switch (element.tagNumber) {
      case UniversalTag.BMP_STRING: {
        if (content.length % 2 !== 0) break;
        return Buffer.from(content).swap16().toString('utf16le');
      }
      case UniversalTag.UTF8_STRING:
        return content.toString('utf8');
      case UniversalTag.PRINTABLE_STRING:
      case UniversalTag.IA5_STRING:
      case UniversalTag.VISIBLE_STRING:
        return content.toString('latin1');
      default:
        break;
    }
  }
  throw new CertificateError(`Common Name has an unsupported encoding ${element.describe()}`);
}

// ---------------------------------------------------------------------------------------------
// Signature algorithm (RSASSA-PSS, RFC 4055)

const pssAlgorithmCache = new Map<HashingAlgorithm, Buffer>();

/** The RSASSA-PSS AlgorithmIdentifier (the same one CMS signatures use), encoded once per hash. */
function encodePssAlgorithmIdentifier(hash: HashingAlgorithm): Buffer {
  let encoded = pssAlgorithmCache.get(hash);
  if (!encoded) {
    encoded = encodeRsaPssAlgorithmIdentifier(hash);
    pssAlgorithmCache.set(hash, encoded);
  }
  return encoded;
}

/** The signature's RSA-PSS parameters, read with the same checks as a CMS signature's; any problem is a CryptoError. */
function parseSignatureAlgorithm(encoded: Buffer): RsaPssParameters {
  try {
    return readRsaPssAlgorithmIdentifier(decodeAsn1(encoded), 'Certificate signature algorithm');
  } catch (err) {
    if (err instanceof CryptoError) throw err;
    throw new CryptoError(`Malformed certificate signature algorithm: ${(err as Error).message}`, { cause: err });
  }
}

function certificateHash(name: HashingAlgorithm | undefined): HashingAlgorithm {
  const hash = name ?? 'SHA-256';
  if (!HASHING_ALGORITHMS.includes(hash)) throw new CertificateError(`Unsupported hash algorithm "${String(name)}"`);
  return hash;
}

function signRsaPss(data: Buffer, privateKey: KeyObject, hash: HashingAlgorithm): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    sign(
      hashInfo(hash).nodeName,
      data,
      { key: privateKey, padding: cryptoConstants.RSA_PKCS1_PSS_PADDING, saltLength: hashInfo(hash).lengthOctets },
      (err, signature) => {
        if (err) reject(new CryptoError('Could not sign the certificate', { cause: err }));
        else resolve(signature);
      },
    );
  });
}

function verifyRsaPss(
  data: Buffer,
  signature: Buffer,
  publicKey: KeyObject,
  params: RsaPssParameters,
): Promise<boolean> {
  return new Promise((resolve, reject) => {
    verify(
      hashInfo(params.hash).nodeName,
      data,
      { key: publicKey, padding: cryptoConstants.RSA_PKCS1_PSS_PADDING, saltLength: params.saltLength },
      signature,
      (err, valid) => {
        if (err) reject(new CryptoError('Could not verify the certificate signature', { cause: err }));
        else resolve(valid);
      },
    );
  });
}

// ---------------------------------------------------------------------------------------------
// Issuance

interface TbsCertificate {
  readonly encoded: Buffer;
  readonly signatureAlgorithm: Buffer;
}

function makeTbsCertificate(options: CertificateIssuanceOptions): TbsCertificate {
  const { commonName, issuerCertificate } = options;
  if (typeof commonName !== 'string' || commonName.length === 0) {
    throw new CertificateError('Common Name must be a non-empty string');
  }
  assertRsaKey(options.subjectPublicKey, 'Subject key', CertificateError);
  assertRsaKey(options.issuerPrivateKey, 'Issuer key', CertificateError, 'private');

  const startTime = truncateToSeconds(options.validityStartDate ?? new Date(), 'validityStartDate');
  let endTime = truncateToSeconds(options.validityEndDate, 'validityEndDate');
  if (issuerCertificate) {
    endTime = Math.min(endTime, issuerCertificate.expiryDate.getTime());
  }
  if (endTime < startTime) {
    throw new CertificateError('The end date must be later than the start date');
  }
  if (issuerCertificate && !issuerCertificate.isCA) {
    throw new CertificateError('Issuer certificate is not a CA');
  }
  const pathLenConstraint = options.pathLenConstraint ?? 0;
  if (!Number.isInteger(pathLenConstraint) || pathLenConstraint < 0 || MAX_PATH_LENGTH_CONSTRAINT < pathLenConstraint) {
    throw new CertificateError(
      `pathLenConstraint must be between 0 and ${MAX_PATH_LENGTH_CONSTRAINT} (got ${pathLenConstraint})`,
    );
  }

  const subjectSpki = derSerializePublicKey(options.subjectPublicKey);
  const issuerSpki = issuerCertificate ? issuerCertificate.subjectPublicKeyInfo : subjectSpki;
  const subjectName = encodeCommonNameOnlyName(commonName);
  const issuerName = issuerCertificate ? issuerCertificate.subjectName : subjectName;
  const signatureAlgorithm = encodePssAlgorithmIdentifier(certificateHash(options.hashAlgorithm));

  const extensions = sequence(
    encodeExtension(
      X509_OIDS.BASIC_CONSTRAINTS,
      true,
      sequence(...(options.isCA ? [boolean(true)] : []), integer(pathLenConstraint)),
    ),
    encodeExtension(
      X509_OIDS.AUTHORITY_KEY_IDENTIFIER,
      false,
      sequence(tlv(TagClass.Context, false, 0, getPublicKeyDigest(issuerSpki))),
    ),
    encodeExtension(X509_OIDS.SUBJECT_KEY_IDENTIFIER, false, octetString(getPublicKeyDigest(subjectSpki))),
  );

  const encoded = sequence(
    explicit(0, integer(2)),
    integerFromContent(generateSerialNumber()),
    signatureAlgorithm,
    issuerName,
    sequence(x509Time(new Date(startTime)), x509Time(new Date(endTime))),
    subjectName,
    subjectSpki,
    explicit(3, extensions),
  );
  return { encoded, signatureAlgorithm };
}

function truncateToSeconds(date: Date, what: string): number {
  const time = date instanceof Date ? date.getTime() : NaN;
  if (Number.isNaN(time)) throw new CertificateError(`${what} must be a valid Date`);
  return Math.floor(time / 1000) * 1000;
}

/** 64 random bits as a positive, minimally encoded INTEGER. */
function generateSerialNumber(): Buffer {
  const serial = randomBytes(SERIAL_NUMBER_LENGTH);
  serial[0] &= 0x7f;
  if (serial[0] === 0) serial[0] = 1;
  return serial;
}

function encodeCommonNameOnlyName(commonName: string): Buffer {
  const bmp = Buffer.from(commonName, 'utf16le').swap16();
  const attribute = sequence(oid(X509_OIDS.COMMON_NAME), tlv(TagClass.Universal, false, UniversalTag.BMP_STRING, bmp));
  return sequence(setOf(attribute));
}

function encodeExtension(extnId: string, critical: boolean, value: Buffer): Buffer {
  return critical
    ? sequence(oid(extnId), boolean(true), octetString(value))
    : sequence(oid(extnId), octetString(value));
}
