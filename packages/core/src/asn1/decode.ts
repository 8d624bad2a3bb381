import { Asn1SyntaxError } from '../errors';
import { LruCache } from '../lruCache';

/** Tag classes as encoded in the top two bits of the identifier octet. */
export const enum TagClass {
  Universal = 0,
  Application = 1,
  Context = 2,
  Private = 3,
}

export const UniversalTag = {
  BOOLEAN: 1,
  INTEGER: 2,
  BIT_STRING: 3,
  OCTET_STRING: 4,
  NULL: 5,
  OID: 6,
  UTF8_STRING: 12,
  SEQUENCE: 16,
  SET: 17,
  PRINTABLE_STRING: 19,
  IA5_STRING: 22,
  UTC_TIME: 23,
  GENERALIZED_TIME: 24,
  VISIBLE_STRING: 26,
  BMP_STRING: 30,
} as const;

/** Nesting deeper than this is refused, so hostile input cannot exhaust the stack. */
export const MAX_ASN1_DEPTH = 32;

/**
 * One decoded TLV. `content` is a view over the input for definite lengths; for BER indefinite
 * lengths only `children` is meaningful. `encoded` covers the whole TLV (header included).
 *
 * An element keeps offsets into the input and makes those views, and its children, when they are
 * first asked for: readers look at a few fields of each structure, and the views, closures and
 * tuples made for every node were most of what reading a message allocated.
 */
export class Asn1Element {
  private cachedContent: Buffer | undefined;
  private cachedEncoded: Buffer | undefined;

  /** @internal Made by the decoder. */
  constructor(
    public readonly tagClass: TagClass,
    public readonly constructed: boolean,
    public readonly tagNumber: number,
    private readonly input: Buffer,
    private readonly start: number,
    private readonly contentStart: number,
    private readonly contentEnd: number,
    /** Where the TLV ends: after the content, or after the end-of-contents octets. */
    readonly end: number,
    private childList: readonly Asn1Element[] | null | DeferredChildren,
  ) {}

  get content(): Buffer {
    this.cachedContent ??= this.input.subarray(this.contentStart, this.contentEnd);
    return this.cachedContent;
  }

  get encoded(): Buffer {
    this.cachedEncoded ??= this.input.subarray(this.start, this.end);
    return this.cachedEncoded;
  }

  /**
   * Definite-length children are decoded on first access: most consumers read a few fields of a
   * large structure (and certificates are decoded again by Certificate), so eager decoding of the
   * whole tree was the main cost of reading a message.
   */
  get children(): readonly Asn1Element[] {
    const list = this.childList;
    if (list instanceof DeferredChildren) {
      this.childList = decodeChildren(this.input, this.contentStart, this.contentEnd, list.ber, list.depth);
      return this.childList;
    }
    if (!list) {
      throw new Asn1SyntaxError(`Expected a constructed value, got primitive tag ${this.describe()}`);
    }
    return list;
  }

  is(tagClass: TagClass, tagNumber: number): boolean {
    return this.tagClass === tagClass && this.tagNumber === tagNumber;
  }

  isUniversal(tagNumber: number): boolean {
    return this.is(TagClass.Universal, tagNumber);
  }

  isContext(tagNumber: number): boolean {
    return this.is(TagClass.Context, tagNumber);
  }

  describe(): string {
    const cls = ['UNIVERSAL', 'APPLICATION', 'CONTEXT', 'PRIVATE'][this.tagClass];
    return `[${cls} ${this.tagNumber}${this.constructed ? ' constructed' : ''}]`;
  }
}

/** How to decode a definite-length element's children when they are asked for. */
class DeferredChildren {
  constructor(
    readonly ber: boolean,
    readonly depth: number,
  ) {}
}

/** One per mode and depth, so deferring costs no allocation per element. */
const DEFERRED = [false, true].map((ber) =>
  Array.from({ length: MAX_ASN1_DEPTH + 1 }, (_, depth) => new DeferredChildren(ber, depth)),
);

interface DecodeOptions {
  /** Accept BER (indefinite lengths, constructed strings). DER is always accepted. */
  readonly ber?: boolean;
}

/** Decode exactly one TLV that spans the whole buffer. */
export function decodeAsn1(input: Buffer, options: DecodeOptions = {}): Asn1Element {
  const element = decodeAt(input, 0, input.length, options.ber ?? false, 0);
  if (element.end !== input.length) {
    throw new Asn1SyntaxError(`Trailing data: ${input.length - element.end} octet(s) after the ASN.1 value`);
  }
  return element;
}

/** Decode one TLV at the start of the buffer and report where it ended (for framing). */
export function decodeAsn1Prefix(input: Buffer, options: DecodeOptions = {}): [Asn1Element, number] {
  const element = decodeAt(input, 0, input.length, options.ber ?? false, 0);
  return [element, element.end];
}

function decodeAt(buf: Buffer, start: number, limit: number, ber: boolean, depth: number): Asn1Element {
  if (depth > MAX_ASN1_DEPTH) {
    throw new Asn1SyntaxError(`ASN.1 nesting deeper than ${MAX_ASN1_DEPTH} levels`);
  }
  let pos = start;
  if (pos >= limit) {
    throw new Asn1SyntaxError('Truncated ASN.1 value: missing identifier octet');
  }
  const id = buf[pos++];
  const tagClass = (id >> 6) as TagClass;
  const constructed = (id & 0x20) !== 0;
  let tagNumber = id & 0x1f;
  if (tagNumber === 0x1f) {
    tagNumber = 0;
    let octets = 0;
    for (;;) {
      if (pos >= limit) throw new Asn1SyntaxError('Truncated ASN.1 value: incomplete long-form tag');
      const b = buf[pos++];
      if (octets === 0 && b === 0x80) throw new Asn1SyntaxError('Non-minimal long-form tag');
      tagNumber = tagNumber * 128 + (b & 0x7f);
      if (++octets > 4) throw new Asn1SyntaxError('Tag number too large');
      if ((b & 0x80) === 0) break;
    }
  }

  if (pos >= limit) throw new Asn1SyntaxError('Truncated ASN.1 value: missing length octet');
  const firstLengthOctet = buf[pos++];
  let length: number;
  if (firstLengthOctet < 0x80) {
    length = firstLengthOctet;
  } else if (firstLengthOctet === 0x80) {
    if (!ber) throw new Asn1SyntaxError('Indefinite length is not allowed in DER');
    if (!constructed) throw new Asn1SyntaxError('Indefinite length on a primitive value');
    return decodeIndefinite(buf, start, pos, limit, tagClass, tagNumber, depth);
  } else {
    const lengthOctets = firstLengthOctet & 0x7f;
    if (lengthOctets > 4) throw new Asn1SyntaxError(`Length field of ${lengthOctets} octets is too long`);
    if (pos + lengthOctets > limit) throw new Asn1SyntaxError('Truncated ASN.1 value: incomplete length');
    length = 0;
    for (let i = 0; i < lengthOctets; i++) {
      length = length * 256 + buf[pos++];
    }
    if (!ber && (length < 0x80 || buf[pos - lengthOctets] === 0)) {
      throw new Asn1SyntaxError('Non-minimal length encoding is not allowed in DER');
    }
  }
  const end = pos + length;
  if (end > limit) {
    throw new Asn1SyntaxError(`Truncated ASN.1 value: ${length} octet(s) declared, ${limit - pos} available`);
  }
  const children = constructed ? DEFERRED[ber ? 1 : 0][depth] : null;
  return new Asn1Element(tagClass, constructed, tagNumber, buf, start, pos, end, end, children);
}

function decodeChildren(buf: Buffer, start: number, end: number, ber: boolean, depth: number): Asn1Element[] {
  const children: Asn1Element[] = [];
  let childPos = start;
  while (childPos < end) {
    const child = decodeAt(buf, childPos, end, ber, depth + 1);
    children.push(child);
    childPos = child.end;
  }
  return children;
}

function decodeIndefinite(
  buf: Buffer,
  start: number,
  contentStart: number,
  limit: number,
  tagClass: TagClass,
  tagNumber: number,
  depth: number,
): Asn1Element {
  const children: Asn1Element[] = [];
  let pos = contentStart;
  for (;;) {
    if (pos + 2 > limit) throw new Asn1SyntaxError('Truncated ASN.1 value: missing end-of-contents');
    if (buf[pos] === 0 && buf[pos + 1] === 0) {
      return new Asn1Element(tagClass, true, tagNumber, buf, start, contentStart, pos, pos + 2, children);
    }
    const child = decodeAt(buf, pos, limit, true, depth + 1);
    children.push(child);
    pos = child.end;
  }
}

// ---------------------------------------------------------------------------------------------
// Typed readers. Each checks the tag it expects and says what it found otherwise.

export function expectTag(element: Asn1Element, tagClass: TagClass, tagNumber: number, what: string): Asn1Element {
  if (!element.is(tagClass, tagNumber)) {
    throw new Asn1SyntaxError(`${what}: unexpected tag ${element.describe()}`);
  }
  return element;
}

export function expectSequence(element: Asn1Element, what: string): readonly Asn1Element[] {
  expectTag(element, TagClass.Universal, UniversalTag.SEQUENCE, what);
  return element.children;
}

/** Read an OCTET STRING, joining BER constructed chunks when `ber` decoding produced them. */
export function readOctetString(element: Asn1Element, what: string, implicitTag?: number): Buffer {
  if (implicitTag === undefined) {
    expectTag(element, TagClass.Universal, UniversalTag.OCTET_STRING, what);
  } else {
    expectTag(element, TagClass.Context, implicitTag, what);
  }
  return readStringContent(element, what);
}

function readStringContent(element: Asn1Element, what: string): Buffer {
  if (!element.constructed) return element.content;
  const chunks: Buffer[] = [];
  collectChunks(element, chunks, what);
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
}

function collectChunks(element: Asn1Element, chunks: Buffer[], what: string): void {
  for (const child of element.children) {
    if (!child.isUniversal(UniversalTag.OCTET_STRING)) {
      throw new Asn1SyntaxError(`${what}: constructed string has a non-OCTET STRING chunk`);
    }
    if (child.constructed) collectChunks(child, chunks, what);
    else chunks.push(child.content);
  }
}

export function readInteger(element: Asn1Element, what: string, implicitTag?: number): bigint {
  const bytes = readIntegerBytes(element, what, implicitTag);
  // One hex parse is linear; shifting a BigInt octet by octet is quadratic (a 256 KiB INTEGER took ~1 min).
  let value = BigInt(`0x${bytes.toString('hex')}`);
  if (bytes[0] & 0x80) value -= 1n << BigInt(bytes.length * 8);
  return value;
}

/** The two's-complement content octets of an INTEGER (as used for serial numbers). */
export function readIntegerBytes(element: Asn1Element, what: string, implicitTag?: number): Buffer {
  if (implicitTag === undefined) {
    expectTag(element, TagClass.Universal, UniversalTag.INTEGER, what);
  } else {
    expectTag(element, TagClass.Context, implicitTag, what);
  }
  if (element.constructed) throw new Asn1SyntaxError(`${what}: INTEGER must be primitive`);
  const bytes = element.content;
  if (bytes.length === 0) throw new Asn1SyntaxError(`${what}: empty INTEGER`);
  return bytes;
}

export function readSmallInteger(element: Asn1Element, what: string, implicitTag?: number): number {
  const value = readInteger(element, what, implicitTag);
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new Asn1SyntaxError(`${what}: integer out of range`);
  }
  return Number(value);
}

export function readBoolean(element: Asn1Element, what: string): boolean {
  expectTag(element, TagClass.Universal, UniversalTag.BOOLEAN, what);
  if (element.content.length !== 1) throw new Asn1SyntaxError(`${what}: BOOLEAN must be one octet`);
  return element.content[0] !== 0;
}

/**
 * OIDs already read, by a hash of their octets: a message holds the same few OIDs (content types,
 * attribute types) every time, and spelling them out allocated an array and a string each. A hit
 * compares every octet; of two OIDs with the same hash, the first keeps the entry. Long OIDs are not
 * remembered.
 */
const OID_MEMO_MAX_OCTETS = 32;
const oidMemo = new LruCache<number, { readonly octets: Buffer; readonly dotted: string }>(256);

function hashOctets(bytes: Buffer): number {
  let hash = 0x811c9dc5 ^ bytes.length;
  for (let i = 0; i < bytes.length; i++) hash = Math.imul(hash ^ bytes[i], 0x01000193);
  return hash;
}

function sameOctets(a: Buffer, b: Buffer): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function readOid(element: Asn1Element, what: string): string {
  expectTag(element, TagClass.Universal, UniversalTag.OID, what);
  const bytes = element.content;
  const hash = hashOctets(bytes);
  const known = oidMemo.get(hash);
  if (known && sameOctets(known.octets, bytes)) return known.dotted;
  const dotted = decodeOid(bytes, what);
  if (!known && bytes.length <= OID_MEMO_MAX_OCTETS) oidMemo.set(hash, { octets: Buffer.from(bytes), dotted });
  return dotted;
}

function decodeOid(bytes: Buffer, what: string): string {
  if (bytes.length === 0 || bytes[bytes.length - 1] & 0x80) {
    throw new Asn1SyntaxError(`${what}: malformed OBJECT IDENTIFIER`);
  }
  const arcs: number[] = [];
  let value = 0;
  for (const b of bytes) {
    value = value * 128 + (b & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER) throw new Asn1SyntaxError(`${what}: OID arc too large`);
    if ((b & 0x80) === 0) {
      if (arcs.length === 0) {
        const first = value < 80 ? Math.floor(value / 40) : 2;
        arcs.push(first, value - first * 40);
      } else {
        arcs.push(value);
      }
      value = 0;
    }
  }
  return arcs.join('.');
}

export function readBitString(element: Asn1Element, what: string): Buffer {
  expectTag(element, TagClass.Universal, UniversalTag.BIT_STRING, what);
  if (element.constructed) throw new Asn1SyntaxError(`${what}: constructed BIT STRING is not supported`);
  const content = element.content;
  if (content.length === 0 || content[0] > 7) {
    throw new Asn1SyntaxError(`${what}: malformed BIT STRING`);
  }
  return content.subarray(1);
}

const VISIBLE_STRING_REGEX = /^[\x20-\x7e]*$/;

/** A VisibleString (printable ASCII), under its universal tag or an implicit context tag. */
export function readVisibleString(element: Asn1Element, what: string, implicitTag?: number): string {
  if (implicitTag === undefined) {
    expectTag(element, TagClass.Universal, UniversalTag.VISIBLE_STRING, what);
  } else {
    expectTag(element, TagClass.Context, implicitTag, what);
  }
  const text = readStringContent(element, what).toString('latin1');
  if (!VISIBLE_STRING_REGEX.test(text)) {
    throw new Asn1SyntaxError(`${what}: not a VisibleString (non-printable characters)`);
  }
  return text;
}

/** Any of the string types X.509 names use, decoded as text. */
export function readDirectoryString(element: Asn1Element, what: string): string {
  if (element.tagClass !== TagClass.Universal) {
    throw new Asn1SyntaxError(`${what}: unexpected tag ${element.describe()}`);
  }
  switch (element.tagNumber) {
    case UniversalTag.UTF8_STRING:
      return element.content.toString('utf8');
    case UniversalTag.PRINTABLE_STRING:
    case UniversalTag.IA5_STRING:
    case UniversalTag.VISIBLE_STRING:
      return element.content.toString('latin1');
    case UniversalTag.BMP_STRING:
      // Copy before swapping: swap16() works in place and would corrupt the caller's buffer.
      if (element.content.length % 2 !== 0) {
        throw new Asn1SyntaxError(`${what}: BMPString has an odd number of octets`);
      }
      return Buffer.from(element.content).swap16().toString('utf16le');
    default:
      throw new Asn1SyntaxError(`${what}: unexpected string tag ${element.describe()}`);
  }
}

const UTC_TIME_REGEX = /^\d{12}Z$/;
const GENERALIZED_TIME_REGEX = /^\d{14}(?:\.\d+)?Z$/;

/** UTCTime or GeneralizedTime (as X.509 validity and CMS signing time use them). */
export function readTime(element: Asn1Element, what: string): Date {
  const text = element.content.toString('latin1');
  if (element.isUniversal(UniversalTag.UTC_TIME)) {
    if (!UTC_TIME_REGEX.test(text)) throw new Asn1SyntaxError(`${what}: malformed UTCTime "${text}"`);
    const yy = decimalAt(text, 0, 2);
    return makeUtcDate(yy < 50 ? 2000 + yy : 1900 + yy, text, 2, what);
  }
  if (element.isUniversal(UniversalTag.GENERALIZED_TIME)) {
    if (!GENERALIZED_TIME_REGEX.test(text)) throw new Asn1SyntaxError(`${what}: malformed GeneralizedTime "${text}"`);
    return makeUtcDate(decimalAt(text, 0, 4), text, 4, what);
  }
  throw new Asn1SyntaxError(`${what}: expected a time, got ${element.describe()}`);
}

const DATE_TIME_REGEX = /^\d{14}$/;

/** The RAMF DATE-TIME form: "YYYYMMDDHHmmss" in UTC, under an implicit context tag. */
export function readDateTime(element: Asn1Element, what: string, implicitTag: number): Date {
  const text = readVisibleString(element, what, implicitTag);
  if (!DATE_TIME_REGEX.test(text)) throw new Asn1SyntaxError(`${what}: malformed DATE-TIME "${text}"`);
  return makeUtcDate(decimalAt(text, 0, 4), text, 4, what);
}

/** The number written in `text` from `start` to `end`, which the caller checked are ASCII digits. */
function decimalAt(text: string, start: number, end: number): number {
  let value = 0;
  for (let i = start; i < end; i++) value = value * 10 + text.charCodeAt(i) - 0x30;
  return value;
}

/** The date whose month, day, hours, minutes and seconds are two digits each from `offset` in `text`. */
function makeUtcDate(year: number, text: string, offset: number, what: string): Date {
  const month = decimalAt(text, offset, offset + 2);
  const day = decimalAt(text, offset + 2, offset + 4);
  const hour = decimalAt(text, offset + 4, offset + 6);
  const minute = decimalAt(text, offset + 6, offset + 8);
  const second = decimalAt(text, offset + 8, offset + 10);
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  if (
    date.getUTCFullYear() !== year ||
    date.getUTCMonth() !== month - 1 ||
    date.getUTCDate() !== day ||
    date.getUTCHours() !== hour ||
    date.getUTCMinutes() !== minute ||
    date.getUTCSeconds() !== second
  ) {
    throw new Asn1SyntaxError(`${what}: invalid date "${text}"`);
  }
  return date;
}
