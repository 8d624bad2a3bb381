/**
 * DER encoders. Each returns the complete TLV as a Buffer; compose them by nesting calls.
 * Everything written here is DER (definite, minimal lengths; primitive strings).
 */
import { TagClass, UniversalTag } from './decode';

export function encodeLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const octets: number[] = [];
  let remaining = length;
  while (remaining > 0) {
    octets.unshift(remaining & 0xff);
    remaining = Math.floor(remaining / 256);
  }
  return Buffer.from([0x80 | octets.length, ...octets]);
}

function identifier(tagClass: TagClass, constructed: boolean, tagNumber: number): Buffer {
  const first = (tagClass << 6) | (constructed ? 0x20 : 0);
  if (tagNumber < 0x1f) return Buffer.from([first | tagNumber]);
  const octets: number[] = [tagNumber & 0x7f];
  let remaining = tagNumber >>> 7;
  while (remaining > 0) {
    octets.unshift(0x80 | (remaining & 0x7f));
    remaining >>>= 7;
  }
  return Buffer.from([first | 0x1f, ...octets]);
}

export function tlv(
  tagClass: TagClass,
  constructed: boolean,
  tagNumber: number,
  content: Buffer | readonly Buffer[],
): Buffer {
  const parts = Buffer.isBuffer(content) ? [content] : content;
  const length = parts.reduce((sum, part) => sum + part.length, 0);
  return Buffer.concat([identifier(tagClass, constructed, tagNumber), encodeLength(length), ...parts]);
}

export function sequence(...items: readonly Buffer[]): Buffer {
  return tlv(TagClass.Universal, true, UniversalTag.SEQUENCE, items);
}

/** DER SET OF: the encodings sorted as octet strings. */
export function setOf(...items: readonly Buffer[]): Buffer {
  const sorted = [...items].sort(Buffer.compare);
  return tlv(TagClass.Universal, true, UniversalTag.SET, sorted);
}

/** A context-specific constructed tag wrapping the given values (EXPLICIT tagging). */
export function explicit(tagNumber: number, ...items: readonly Buffer[]): Buffer {
  return tlv(TagClass.Context, true, tagNumber, items);
}

/** Replace the tag of an encoded value with a context-specific one (IMPLICIT tagging). */
export function implicit(tagNumber: number, encoded: Buffer): Buffer {
  const constructed = (encoded[0] & 0x20) !== 0;
  let pos = 1;
  if ((encoded[0] & 0x1f) === 0x1f) {
    while (encoded[pos] & 0x80) pos++;
    pos++;
  }
  const rest = encoded.subarray(pos);
  return Buffer.concat([identifier(TagClass.Context, constructed, tagNumber), rest]);
}

/** A SEQUENCE whose items get implicit context tags [0], [1], ... (ASN.1 AUTOMATIC TAGS). */
export function implicitlyTaggedSequence(...items: readonly (Buffer | undefined)[]): Buffer {
  const tagged: Buffer[] = [];
  items.forEach((item, index) => {
    if (item) tagged.push(implicit(index, item));
  });
  return sequence(...tagged);
}

export function integer(value: bigint | number): Buffer {
  let big = BigInt(value);
  const octets: number[] = [];
  if (big === 0n) {
    octets.push(0);
  } else if (big > 0n) {
    while (big > 0n) {
      octets.unshift(Number(big & 0xffn));
      big >>= 8n;
    }
    if (octets[0] & 0x80) octets.unshift(0);
  } else {
    while (big < -1n || octets.length === 0 || (octets[0] & 0x80) === 0) {
      octets.unshift(Number(big & 0xffn));
      big >>= 8n;
      if (big === -1n && octets[0] & 0x80) break;
    }
  }
  return tlv(TagClass.Universal, false, UniversalTag.INTEGER, Buffer.from(octets));
}

/** An INTEGER from unsigned big-endian octets (serial numbers), made positive and minimal. */
export function unsignedInteger(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const trimmed = bytes.subarray(start);
  const content = trimmed[0] & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed;
  return tlv(TagClass.Universal, false, UniversalTag.INTEGER, content.length ? content : Buffer.from([0]));
}

/** An INTEGER whose content octets are already two's complement (as read from another value). */
export function integerFromContent(content: Buffer): Buffer {
  return tlv(TagClass.Universal, false, UniversalTag.INTEGER, content);
}

export function boolean(value: boolean): Buffer {
  return tlv(TagClass.Universal, false, UniversalTag.BOOLEAN, Buffer.from([value ? 0xff : 0]));
}

export function nullValue(): Buffer {
  return Buffer.from([0x05, 0x00]);
}

const oidCache = new Map<string, Buffer>();

export function oid(dotted: string): Buffer {
  const cached = oidCache.get(dotted);
  if (cached) return cached;
  const arcs = dotted.split('.').map((arc) => Number(arc));
  if (arcs.length < 2 || arcs.some((arc) => !Number.isSafeInteger(arc) || arc < 0)) {
    throw new TypeError(`Invalid OID "${dotted}"`);
  }
  const octets: number[] = [];
  const values = [arcs[0] * 40 + arcs[1], ...arcs.slice(2)];
  for (const value of values) {
    const group: number[] = [value % 128];
    let remaining = Math.floor(value / 128);
    while (remaining > 0) {
      group.unshift(0x80 | (remaining % 128));
      remaining = Math.floor(remaining / 128);
    }
    octets.push(...group);
  }
  const encoded = tlv(TagClass.Universal, false, UniversalTag.OID, Buffer.from(octets));
  oidCache.set(dotted, encoded);
  return encoded;
}

export function octetString(value: Buffer): Buffer {
  return tlv(TagClass.Universal, false, UniversalTag.OCTET_STRING, value);
}

export function bitString(value: Buffer): Buffer {
  return tlv(TagClass.Universal, false, UniversalTag.BIT_STRING, [Buffer.from([0]), value]);
}

export function visibleString(value: string): Buffer {
  return tlv(TagClass.Universal, false, UniversalTag.VISIBLE_STRING, Buffer.from(value, 'latin1'));
}

export function utf8String(value: string): Buffer {
  return tlv(TagClass.Universal, false, UniversalTag.UTF8_STRING, Buffer.from(value, 'utf8'));
}

export function printableString(value: string): Buffer {
  return tlv(TagClass.Universal, false, UniversalTag.PRINTABLE_STRING, Buffer.from(value, 'latin1'));
}

function pad(value: number, width = 2): string {
  return String(value).padStart(width, '0');
}

function compactUtc(date: Date): string {
  return (
    pad(date.getUTCFullYear(), 4) +
    pad(date.getUTCMonth() + 1) +
    pad(date.getUTCDate()) +
    pad(date.getUTCHours()) +
    pad(date.getUTCMinutes()) +
    pad(date.getUTCSeconds())
  );
}

export function utcTime(date: Date): Buffer {
  const text = compactUtc(date).slice(2) + 'Z';
  return tlv(TagClass.Universal, false, UniversalTag.UTC_TIME, Buffer.from(text, 'latin1'));
}

export function generalizedTime(date: Date): Buffer {
  const text = compactUtc(date) + 'Z';
  return tlv(TagClass.Universal, false, UniversalTag.GENERALIZED_TIME, Buffer.from(text, 'latin1'));
}

/** X.509 Time: UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5). */
export function x509Time(date: Date): Buffer {
  return date.getUTCFullYear() < 2050 ? utcTime(date) : generalizedTime(date);
}

/** RAMF DATE-TIME as the reference implementation writes it: "YYYYMMDDHHmmss" (UTC). */
export function ramfDateTime(date: Date): Buffer {
  return visibleString(compactUtc(date));
}
