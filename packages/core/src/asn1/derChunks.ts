/**
 * A DER writer for values that embed large payloads (signed or encrypted content up to 8 MiB).
 *
 * The helpers in ./encode.ts build each TLV with Buffer.concat, so nesting a payload N levels
 * deep copies it N times. Here a value is kept as a list of buffers plus its total length, and the
 * payload is copied at most once, when the outermost value is flattened (not at all when it was
 * allocated with room around it: see allocateWithRoom).
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

/** The parts side by side, without a header (e.g. a format signature before a DER value). */
export function joinChunks(...parts: readonly Part[]): DerChunks {
  return partsOf(parts);
}

/**
 * Join the pieces into one Buffer (the only copy of the payload).
 *
 * When one piece was allocated with room around it (see allocateWithRoom) and the other pieces
 * fit in that room, they are written there instead and the piece is not copied at all.
 */
export function flatten(value: DerChunks): Buffer {
  return flattenInRoom(value) ?? Buffer.concat(value.chunks as Buffer[], value.length);
}

// ---------------------------------------------------------------------------------------------
// Room around large values

/**
 * A large EnvelopedData becomes the payload of a RAMF message, which wraps it in a few hundred
 * octets of headers and a few kilobytes of certificates and signature. Allocating it with that
 * room on both sides lets the message be written around it, so the payload is materialised once
 * instead of twice (for an 8 MiB parcel, that is 8 MiB less at peak). The room that stays unused
 * is never written, so it is not resident.
 *
 * Only values at least this long get room: below it a copy costs less than the bookkeeping.
 */
export const MIN_LENGTH_WITH_ROOM = 64 * 1024;
/** Room before the value: the RAMF format signature and every header down to the payload. */
export const ROOM_BEFORE = 4 * 1024;
/**
 * Room after the value: the SignedData certificates and SignerInfo. A RAMF message may span 9 MiB
 * and its payload 8 MiB, so whatever follows a payload of the largest size fits in 1 MiB.
 */
export const ROOM_AFTER = 1024 * 1024;

interface Room {
  readonly before: number;
  readonly after: number;
}

/** Values that have room around them that nobody has claimed yet. */
const unclaimedRoom = new WeakMap<Buffer, Room>();

/**
 * A Buffer of `length` octets with room around it for flatten() to use once. The room is part of
 * the same ArrayBuffer, outside the returned view; the message written there shares the value's
 * memory. Zero-filled, as the room is reachable through `.buffer`. That fill makes the whole allocation
 * resident, room included, wherever it comes from glibc's heap (the daemons raise the mmap threshold
 * to 64 MiB, so a cargo-sized one does): the room costs its size in memory while the value lives.
 */
export function allocateWithRoom(length: number, before = ROOM_BEFORE, after = ROOM_AFTER): Buffer {
  const backing = Buffer.alloc(before + length + after);
  const value = backing.subarray(before, before + length);
  unclaimedRoom.set(value, { before, after });
  return value;
}

function flattenInRoom(value: DerChunks): Buffer | null {
  const { chunks } = value;
  let offset = 0;
  for (let index = 0; index < chunks.length; index++) {
    const chunk = chunks[index];
    const room = chunk.length >= MIN_LENGTH_WITH_ROOM ? unclaimedRoom.get(chunk) : undefined;
    if (room && offset <= room.before && value.length - offset - chunk.length <= room.after) {
      // Claimed once: a second message around the same value would overwrite this one's octets.
      unclaimedRoom.delete(chunk);
      const result = Buffer.from(chunk.buffer, chunk.byteOffset - offset, value.length);
      let position = 0;
      for (let other = 0; other < chunks.length; other++) {
        if (other !== index) chunks[other].copy(result, position);
        position += chunks[other].length;
      }
      return result;
    }
    offset += chunk.length;
  }
  return null;
}

/**
 * Re-encode a decoded value with definite, minimal lengths, so that values read from BER compare
 * equal to their DER counterparts (e.g. an issuer Name against the one in a certificate). Meant for
 * small values: it copies, unless the value is already encoded that way (as every value Awala
 * implementations write is), when it returns `element.encoded` itself.
 */
export function canonicalDer(element: Asn1Element): Buffer {
  const { encoded } = element;
  if (isCanonicalTlv(encoded, 0, encoded.length, 0) === encoded.length) return encoded;
  if (element.constructed && element.isUniversal(UniversalTag.OCTET_STRING)) {
    return tlv(element.tagClass, false, element.tagNumber, readOctetString(element, 'OCTET STRING'));
  }
  if (element.constructed) {
    return tlv(element.tagClass, true, element.tagNumber, element.children.map(canonicalDer));
  }
  return tlv(element.tagClass, false, element.tagNumber, element.content);
}

const CANONICAL_FAST_PATH_DEPTH = 6;

/**
 * Where the TLV at `start` ends if it is written exactly as canonicalDer would write it (short-form
 * tag, definite minimal length, no constructed OCTET STRING, the same recursively), or -1. It reads
 * octets only: re-encoding a value to compare it with itself cost an allocation per node, once per
 * signed attribute and issuer name in every message read. Anything unusual (long-form tags, values
 * nested deeper than names and attributes are, malformed values) gets -1 and goes the slow way,
 * which also raises the decoder's errors (its nesting limit included).
 */
function isCanonicalTlv(buf: Buffer, start: number, limit: number, depth: number): number {
  if (depth > CANONICAL_FAST_PATH_DEPTH || start + 2 > limit) return -1;
  const identifier = buf[start];
  if ((identifier & 0x1f) === 0x1f) return -1;
  let pos = start + 1;
  const first = buf[pos++];
  let length = first;
  if (first >= 0x80) {
    const octets = first & 0x7f;
    if (octets === 0 || octets > 4 || pos + octets > limit || buf[pos] === 0) return -1;
    length = 0;
    for (let i = 0; i < octets; i++) length = length * 256 + buf[pos++];
    if (length < 0x80) return -1;
  }
  const end = pos + length;
  if (end > limit) return -1;
  if ((identifier & 0x20) === 0) return end;
  if (identifier === 0x24) return -1; // constructed OCTET STRING: canonicalDer makes it primitive
  while (pos < end) {
    pos = isCanonicalTlv(buf, pos, end, depth + 1);
    if (pos < 0) return -1;
  }
  return end;
}
