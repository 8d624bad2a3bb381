import {
  decodeAsn1,
  decodeAsn1Prefix,
  MAX_ASN1_DEPTH,
  readBitString,
  readBoolean,
  readDateTime,
  readDirectoryString,
  readInteger,
  readOctetString,
  readOid,
  readSmallInteger,
  readTime,
  readVisibleString,
  TagClass,
} from './decode';
import {
  allocateWithRoom,
  canonicalDer,
  chunkedTlv,
  DER_IDENTIFIER,
  flatten,
  joinChunks,
  MIN_LENGTH_WITH_ROOM,
} from './derChunks';
import {
  bitString,
  boolean,
  encodeLength,
  explicit,
  generalizedTime,
  implicit,
  implicitlyTaggedSequence,
  integer,
  nullValue,
  octetString,
  oid,
  ramfDateTime,
  sequence,
  setOf,
  tlv,
  unsignedInteger,
  utcTime,
  utf8String,
  visibleString,
  x509Time,
} from './encode';
import { Asn1SyntaxError } from '../errors';

describe('DER encoding', () => {
  test.each([
    [0, '00'],
    [127, '7f'],
    [128, '8180'],
    [255, '81ff'],
    [256, '820100'],
    [9 * 1024 * 1024, '83900000'],
  ])('length %i encodes as %s', (length, hex) => {
    expect(encodeLength(length).toString('hex')).toBe(hex);
  });

  test.each([
    [0, '020100'],
    [127, '02017f'],
    [128, '02020080'],
    [256, '02020100'],
    [-1, '0201ff'],
    [-128, '020180'],
    [-129, '0202ff7f'],
    [15552000, '020400ed4e00'],
  ])('integer %i encodes as %s', (value, hex) => {
    expect(integer(value).toString('hex')).toBe(hex);
    expect(readInteger(decodeAsn1(integer(value)), 'x')).toBe(BigInt(value));
  });

  test('unsigned integers get a leading zero only when the top bit is set', () => {
    expect(unsignedInteger(Buffer.from('80', 'hex')).toString('hex')).toBe('02020080');
    expect(unsignedInteger(Buffer.from('00007f', 'hex')).toString('hex')).toBe('02017f');
  });

  test('OIDs round-trip, including multi-octet arcs', () => {
    for (const dotted of ['1.2.840.113549.1.1.10', '2.5.29.19', '1.3.6.1.4.1.58708.0.1.0', '2.999.3']) {
      expect(readOid(decodeAsn1(oid(dotted)), 'oid')).toBe(dotted);
    }
    expect(oid('1.2.840.113549').toString('hex')).toBe('06062a864886f70d');
  });

  test('OIDs read again come out the same, whatever the buffer they were read from', () => {
    // Read OIDs are remembered by their octets: a later read of other octets must not get them.
    const dotteds = ['1.2.840.113549.1.7.1', '1.2.840.113549.1.7.2', '1.2.840.113549.1.7.3'];
    for (let round = 0; round < 3; round++) {
      for (const dotted of dotteds) {
        const element = decodeAsn1(Buffer.concat([oid(dotted)]));
        expect(readOid(element, 'oid')).toBe(dotted);
        element.content.fill(0x01); // the input may be reused afterwards
      }
    }
    expect(() => readOid(decodeAsn1(Buffer.from('060188', 'hex')), 'O')).toThrow(/malformed OBJECT/);
  });

  test('invalid OIDs are refused', () => {
    expect(() => oid('1')).toThrow(TypeError);
    expect(() => oid('1.x')).toThrow(TypeError);
  });

  test('SET OF sorts its items', () => {
    const encoded = setOf(integer(2), integer(1));
    expect(encoded.toString('hex')).toBe('3106020101020102');
  });

  test('implicit tagging keeps the constructed bit and the content', () => {
    expect(implicit(0, visibleString('a')).toString('hex')).toBe('800161');
    expect(implicit(1, sequence(nullValue())).toString('hex')).toBe('a1020500');
    expect(implicitlyTaggedSequence(visibleString('a'), undefined, integer(1)).toString('hex')).toBe(
      '3006800161820101',
    );
  });

  test('explicit tagging wraps the value', () => {
    expect(explicit(3, integer(1)).toString('hex')).toBe('a303020101');
  });

  test('long-form tags are written and read', () => {
    const encoded = tlv(TagClass.Context, false, 200, Buffer.from('ab', 'hex'));
    expect(encoded.toString('hex')).toBe('9f814801ab');
    const element = decodeAsn1(encoded);
    expect(element.tagNumber).toBe(200);
    expect(element.content.toString('hex')).toBe('ab');
  });

  test('times are written as X.509 and RAMF expect them', () => {
    const date = new Date('2026-11-28T04:05:06Z');
    expect(utcTime(date).subarray(2).toString()).toBe('261128040506Z');
    expect(generalizedTime(date).subarray(2).toString()).toBe('20261128040506Z');
    expect(x509Time(new Date('2050-01-01T00:00:00Z'))[0]).toBe(0x18);
    expect(x509Time(date)[0]).toBe(0x17);
    expect(ramfDateTime(date).subarray(2).toString()).toBe('20261128040506');
    expect(readTime(decodeAsn1(utcTime(date)), 't')).toEqual(date);
    expect(readTime(decodeAsn1(generalizedTime(date)), 't')).toEqual(date);
    expect(readDateTime(decodeAsn1(implicit(2, ramfDateTime(date))), 't', 2)).toEqual(date);
  });

  test('scalars round-trip', () => {
    expect(readBoolean(decodeAsn1(boolean(true)), 'b')).toBe(true);
    expect(readBoolean(decodeAsn1(boolean(false)), 'b')).toBe(false);
    expect(readBitString(decodeAsn1(bitString(Buffer.from('ff', 'hex'))), 'b').toString('hex')).toBe('ff');
    expect(readDirectoryString(decodeAsn1(utf8String('héllo')), 's')).toBe('héllo');
    expect(readVisibleString(decodeAsn1(visibleString('hello')), 's')).toBe('hello');
    expect(readSmallInteger(decodeAsn1(integer(42)), 'i')).toBe(42);
  });
});

describe('DER/BER decoding', () => {
  test('decodes children lazily but reports their errors when read', () => {
    // A SEQUENCE whose only child is truncated: the outer value is fine until its children are read.
    const element = decodeAsn1(Buffer.from('30020401', 'hex'));
    expect(() => element.children).toThrow(/Truncated ASN.1 value/);
  });

  test('rejects trailing data', () => {
    expect(() => decodeAsn1(Buffer.from('050000', 'hex'))).toThrow(/Trailing data: 1 octet/);
  });

  test('decodeAsn1Prefix reports where the value ended', () => {
    const [element, end] = decodeAsn1Prefix(Buffer.from('0500ffff', 'hex'));
    expect(element.tagNumber).toBe(5);
    expect(end).toBe(2);
  });

  test.each([
    ['', /missing identifier/],
    ['04', /missing length/],
    ['0405aabb', /5 octet\(s\) declared, 2 available/],
    ['0485ffffffffff', /Length field of 5 octets/],
    ['048200', /incomplete length/],
    ['1f', /incomplete long-form tag/],
    ['1f8001', /Non-minimal long-form tag/],
    ['1f8181818181', /Tag number too large/],
  ])('rejects malformed input %s', (hex, message) => {
    expect(() => decodeAsn1(Buffer.from(hex, 'hex'))).toThrow(Asn1SyntaxError);
    expect(() => decodeAsn1(Buffer.from(hex, 'hex'))).toThrow(message);
  });

  test('DER mode refuses non-minimal lengths and indefinite lengths', () => {
    expect(() => decodeAsn1(Buffer.from('04810161', 'hex'))).toThrow(/Non-minimal length/);
    expect(() => decodeAsn1(Buffer.from('3080050000000', 'hex'))).toThrow(Asn1SyntaxError);
    expect(() => decodeAsn1(Buffer.from('308005000000', 'hex'))).toThrow(/Indefinite length/);
  });

  test('BER mode reads indefinite lengths and chunked OCTET STRINGs', () => {
    // SEQUENCE (indefinite) { OCTET STRING constructed (indefinite) { "ab", "cd" } }
    const ber = Buffer.from('3080' + '2480' + '0402abcd' + '0402ef01' + '0000' + '0000', 'hex');
    const root = decodeAsn1(ber, { ber: true });
    expect(root.children).toHaveLength(1);
    expect(readOctetString(root.children[0], 'o').toString('hex')).toBe('abcdef01');
  });

  test('BER mode refuses indefinite primitives and missing end-of-contents', () => {
    expect(() => decodeAsn1(Buffer.from('048004000000', 'hex'), { ber: true })).toThrow(
      /Indefinite length on a primitive/,
    );
    expect(() => decodeAsn1(Buffer.from('30800500', 'hex'), { ber: true })).toThrow(/end-of-contents/);
  });

  test('chunks of a constructed OCTET STRING must themselves be OCTET STRINGs', () => {
    const ber = Buffer.from('2403020101', 'hex');
    expect(() => readOctetString(decodeAsn1(ber, { ber: true }), 'o')).toThrow(/non-OCTET STRING chunk/);
  });

  test('refuses nesting deeper than the limit instead of overflowing the stack', () => {
    let value = nullValue();
    for (let i = 0; i <= MAX_ASN1_DEPTH + 1; i++) value = sequence(value);
    // Children are decoded when first read, so walk the tree to reach the bottom.
    const walk = (element: ReturnType<typeof decodeAsn1>): void => {
      if (element.constructed) element.children.forEach(walk);
    };
    expect(() => walk(decodeAsn1(value))).toThrow(/nesting deeper/);
  });

  test('typed readers name the field and the tag they got', () => {
    expect(() => readOctetString(decodeAsn1(integer(1)), 'Payload')).toThrow('Payload: unexpected tag [UNIVERSAL 2]');
    expect(() => readVisibleString(decodeAsn1(Buffer.from('1a0107', 'hex')), 'Id')).toThrow(/non-printable/);
    expect(() => readTime(decodeAsn1(Buffer.from('170161', 'hex')), 'Date')).toThrow(/malformed UTCTime/);
    expect(() => readTime(decodeAsn1(Buffer.from('170d3939313333323030303030305a', 'hex')), 'Date')).toThrow(
      /invalid date/,
    );
    expect(() => readBoolean(decodeAsn1(Buffer.from('01020000', 'hex')), 'B')).toThrow(/one octet/);
    expect(() => readOid(decodeAsn1(Buffer.from('060188', 'hex')), 'O')).toThrow(/malformed OBJECT/);
    expect(() => readBitString(decodeAsn1(Buffer.from('030108', 'hex')), 'B')).toThrow(/malformed BIT/);
    expect(() => readInteger(decodeAsn1(Buffer.from('0200', 'hex')), 'I')).toThrow(/empty INTEGER/);
    expect(() => decodeAsn1(integer(1)).children).toThrow(/Expected a constructed value/);
  });

  test('reads negative integers and refuses integers beyond the safe range as small integers', () => {
    expect(readInteger(decodeAsn1(Buffer.from('0201ff', 'hex')), 'i')).toBe(-1n);
    expect(() => readSmallInteger(decodeAsn1(integer(2n ** 60n)), 'i')).toThrow(/out of range/);
  });

  test('the content of a 9 MiB OCTET STRING is a view, not a copy', () => {
    const big = Buffer.alloc(9 * 1024 * 1024, 7);
    const encoded = octetString(big);
    const element = decodeAsn1(encoded);
    expect(element.content.buffer).toBe(encoded.buffer);
    expect(element.content.length).toBe(big.length);
  });
});

describe('DER chunks with room around a large value', () => {
  const LENGTH = MIN_LENGTH_WITH_ROOM + 1000;

  function filledWithRoom(): Buffer {
    const value = allocateWithRoom(LENGTH, 64, 64);
    for (let i = 0; i < value.length; i++) value[i] = i & 0xff;
    return value;
  }

  test('flatten writes the enclosing octets in the room instead of copying the value', () => {
    const value = filledWithRoom();
    const wrapped = joinChunks(
      Buffer.from('head'),
      chunkedTlv(DER_IDENTIFIER.OCTET_STRING, value),
      Buffer.from('tail'),
    );

    const flattened = flatten(wrapped);

    expect(flattened.buffer).toBe(value.buffer);
    expect(flattened.equals(Buffer.concat(wrapped.chunks as Buffer[]))).toBe(true);
    expect(flattened.subarray(flattened.length - 4).toString()).toBe('tail');
  });

  test('the room is used once: a second message around the same value is a copy, and both stay intact', () => {
    const value = filledWithRoom();
    const first = flatten(joinChunks(Buffer.from('first'), value, Buffer.from('1')));
    const second = flatten(joinChunks(Buffer.from('second'), value, Buffer.from('2')));

    expect(first.buffer).toBe(value.buffer);
    expect(second.buffer).not.toBe(value.buffer);
    expect(first.equals(Buffer.concat([Buffer.from('first'), value, Buffer.from('1')]))).toBe(true);
    expect(second.equals(Buffer.concat([Buffer.from('second'), value, Buffer.from('2')]))).toBe(true);
  });

  test('enclosing octets that do not fit in the room are copied as usual', () => {
    const value = filledWithRoom();
    const tooLong = Buffer.alloc(65, 1);

    const flattened = flatten(joinChunks(tooLong, value));

    expect(flattened.buffer).not.toBe(value.buffer);
    expect(flattened.equals(Buffer.concat([tooLong, value]))).toBe(true);
    // Nothing was claimed, so a message that fits still uses the room.
    expect(flatten(joinChunks(Buffer.from('ok'), value)).buffer).toBe(value.buffer);
  });
});

describe('canonicalDer', () => {
  const canonical = (hex: string) => canonicalDer(decodeAsn1(Buffer.from(hex, 'hex'), { ber: true })).toString('hex');

  test('a value already in DER is returned as it is, not re-encoded', () => {
    const der = sequence(setOf(sequence(oid('2.5.4.3'), visibleString('id'))), octetString(Buffer.alloc(200)));
    const element = decodeAsn1(der, { ber: true });
    expect(canonicalDer(element)).toBe(element.encoded);
  });

  test.each([
    ['a non-minimal length', '3081030201 01', '3003020101'],
    ['an indefinite length', '3080020101 0000', '3003020101'],
    ['a constructed OCTET STRING', '2480 0402abcd 0402ef01 0000', '0404abcdef01'],
    ['a long-form tag for a low tag number', '1f0201 00', '020100'],
    ['a BER value inside a DER one', '3005 048102abcd', '30040402abcd'],
    ['a non-minimal length of a long value', `0482${'0080'}${'00'.repeat(128)}`, `048180${'00'.repeat(128)}`],
  ])('%s is re-encoded', (_, ber, der) => {
    expect(canonical(ber.replace(/ /g, ''))).toBe(der);
  });
});
