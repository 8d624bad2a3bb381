import { decodeAsn1, TagClass, UniversalTag } from '../asn1/decode';
import { integer, octetString, sequence, tlv } from '../asn1/encode';
import { Asn1SyntaxError, CertificateError, RelaynetSyntaxError } from '../errors';
import { getPkiFixture, PkiFixture } from '../testUtils/pki';
import { CertificationPath } from './CertificationPath';

let fixture: PkiFixture;

beforeAll(async () => {
  fixture = await getPkiFixture();
});

function catchError(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('Expected an error');
}

describe('serialize', () => {
  test('SEQUENCE { [0] leaf DER, [1] { OCTET STRING ca DER ... } }', () => {
    const { privateEndpoint, privateGateway, publicEndpoint } = fixture;
    const path = new CertificationPath(publicEndpoint.pda, [privateEndpoint.certificate, privateGateway.certificate]);
    const root = decodeAsn1(path.serialize());
    expect(root.isUniversal(UniversalTag.SEQUENCE)).toBe(true);
    const [leaf, cas] = root.children;
    expect(leaf.is(TagClass.Context, 0)).toBe(true);
    expect(leaf.constructed).toBe(false);
    expect(leaf.content).toEqual(publicEndpoint.pda.serialize());
    expect(cas.is(TagClass.Context, 1)).toBe(true);
    expect(cas.constructed).toBe(true);
    expect(cas.children.map((c) => c.isUniversal(UniversalTag.OCTET_STRING))).toEqual([true, true]);
    expect(cas.children.map((c) => c.content)).toEqual([
      privateEndpoint.certificate.serialize(),
      privateGateway.certificate.serialize(),
    ]);
  });
});

describe('deserialize', () => {
  test('round-trips', () => {
    const { privateEndpoint, privateGateway, publicEndpoint } = fixture;
    const original = new CertificationPath(publicEndpoint.pda, [
      privateEndpoint.certificate,
      privateGateway.certificate,
    ]);
    const path = CertificationPath.deserialize(original.serialize());
    expect(path.leafCertificate.isEqual(publicEndpoint.pda)).toBe(true);
    expect(path.certificateAuthorities).toHaveLength(2);
    expect(path.certificateAuthorities[0].isEqual(privateEndpoint.certificate)).toBe(true);
    expect(path.certificateAuthorities[1].isEqual(privateGateway.certificate)).toBe(true);
    expect(path.serialize()).toEqual(original.serialize());
  });

  test('refuses bytes that are not DER', () => {
    const error = catchError(() => CertificationPath.deserialize(Buffer.from('nope')));
    expect(error).toBeInstanceOf(RelaynetSyntaxError);
    expect(error.message).toBe('Serialization is not a valid CertificationPath');
    expect(error.cause).toBeInstanceOf(Asn1SyntaxError);
  });

  test('refuses a truncated value', () => {
    const der = new CertificationPath(fixture.internetGateway.certificate, []).serialize();
    expect(() => CertificationPath.deserialize(der.subarray(0, der.length - 2))).toThrow(RelaynetSyntaxError);
  });

  test('refuses the wrong number of fields or the wrong tags', () => {
    const leaf = fixture.internetGateway.certificate.serialize();
    const cases = [
      sequence(tlv(TagClass.Context, false, 0, leaf)),
      sequence(octetString(leaf), tlv(TagClass.Context, true, 1, [])),
      sequence(tlv(TagClass.Context, false, 0, leaf), sequence()),
      sequence(tlv(TagClass.Context, false, 0, leaf), tlv(TagClass.Context, true, 1, [integer(1)])),
      sequence(tlv(TagClass.Context, false, 0, leaf), tlv(TagClass.Context, true, 1, []), integer(1)),
    ];
    for (const der of cases) {
      const error = catchError(() => CertificationPath.deserialize(der));
      expect(error).toBeInstanceOf(RelaynetSyntaxError);
      expect(error.message).toBe('Serialization is not a valid CertificationPath');
      expect(error.cause).toBeInstanceOf(RelaynetSyntaxError);
    }
  });

  test('refuses a malformed leaf certificate', () => {
    const der = sequence(tlv(TagClass.Context, false, 0, Buffer.from('bad')), tlv(TagClass.Context, true, 1, []));
    const error = catchError(() => CertificationPath.deserialize(der));
    expect(error).toBeInstanceOf(RelaynetSyntaxError);
    expect(error.message).toBe('CertificationPath leaf certificate is malformed');
    expect(error.cause).toBeInstanceOf(CertificateError);
  });

  test('refuses a malformed CA certificate', () => {
    const leaf = fixture.internetGateway.certificate.serialize();
    const der = sequence(
      tlv(TagClass.Context, false, 0, leaf),
      tlv(TagClass.Context, true, 1, [octetString(leaf), octetString(Buffer.from('bad'))]),
    );
    const error = catchError(() => CertificationPath.deserialize(der));
    expect(error.message).toBe('CertificationPath contains a malformed CA certificate');
    expect(error.cause).toBeInstanceOf(CertificateError);
  });
});
