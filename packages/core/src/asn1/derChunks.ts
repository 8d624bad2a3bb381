/**
 * A DER writer for values that embed large payloads (signed or encrypted content up to 8 MiB).
 *
 * The helpers in ./encode.ts build each TLV with Buffer.concat, so nesting a payload N levels
 * deep copies it N times. Here a value is kept as a list of buffers plus its total length, and the
 * payload is copied exactly once, when the outermost value is flattened.
 */
import { readOctetString, UniversalTag, type Asn1Element } from './decode';
import { encodeLength, tlv } from './encode';

export interface DerChunks {
  readonly chunks: readonly Buffer[];
  readonly length: number;
}

type Part = Buffer | DerChunks;

function partsOf(parts: readonly Part[]): { chunks: Buffer[]; length: number } {
  const chunks: Buffer[] = [];
  let length = 0;
  for (const part of parts) {
    if (Buffer.isBuffer(part)) {
      chunks.push(part);
      length += part.length;
    } else {
      chunks.push(...part.chunks);
      length += part.length;
    }
  }
  return { chunks, length };
}

/**
 * A TLV whose identifier is a single octet (every tag the CMS structures here use is below 31).
 */
export function chunkedTlv(identifierOctet: number, ...content: readonly Part[]): DerChunks {
  const inner = partsOf(content);
  const header = Buffer.concat([Buffer.from([identifierOctet]), encodeLength(inner.length)]);
  return { chunks: [header, ...inner.chunks], length: header.length + inner.length };
}

export const DER_IDENTIFIER = {
  OCTET_STRING: 0x04,
  SEQUENCE: 0x30,
  CONTEXT_PRIMITIVE_0: 0x80,
  CONTEXT_CONSTRUCTED_0: 0xa0,
} as const;

/** Join the pieces into one Buffer (the only copy of the payload). */
export function flatten(value: DerChunks): Buffer {
  return Buffer.concat(value.chunks as Buffer[], value.length);
}

/**
 * Re-encode a decoded value with definite, minimal lengths, so that values read from BER compare
 * equal to their DER counterparts (e.g. an issuer Name against the one in a certificate). Meant for
 * small values: it copies.
 */
export function canonicalDer(element: Asn1Element): Buffer {
  if (element.constructed && element.isUniversal(UniversalTag.OCTET_STRING)) {
    return tlv(element.tagClass, false, element.tagNumber, readOctetString(element, 'OCTET STRING'));
  }
  if (element.constructed) {
    return tlv(element.tagClass, true, element.tagNumber, element.children.map(canonicalDer));
  }
  return tlv(element.tagClass, false, element.tagNumber, element.content);
}
