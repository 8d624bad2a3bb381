/**
 * CertificationPath ::= SEQUENCE {
 *   leafCertificate        [0] IMPLICIT OCTET STRING,
 *   certificateAuthorities [1] IMPLICIT SEQUENCE OF OCTET STRING }
 *
 * Each OCTET STRING holds a DER certificate; the CA list starts with the leaf's issuer. The context
 * tags are how the reference implementation encodes it (its sequences are implicitly tagged).
 */
import { Asn1Element, decodeAsn1, expectSequence, readOctetString, TagClass } from '../asn1/decode';
import { octetString, sequence, tlv } from '../asn1/encode';
import { RelaynetSyntaxError } from '../errors';
import { Certificate } from './Certificate';

export class CertificationPath {
  /**
   * @throws RelaynetSyntaxError if the value is malformed (the cause says which part).
   */
  static deserialize(der: Buffer): CertificationPath {
    let fields: readonly Asn1Element[];
    let leafDer: Buffer;
    let caDers: Buffer[];
    try {
      fields = expectSequence(decodeAsn1(der), 'CertificationPath');
      if (fields.length !== 2) {
        throw new RelaynetSyntaxError(`CertificationPath must have 2 fields (got ${fields.length})`);
      }
      leafDer = readOctetString(fields[0], 'CertificationPath leafCertificate', 0);
      const casElement = fields[1];
      if (!casElement.is(TagClass.Context, 1) || !casElement.constructed) {
        throw new RelaynetSyntaxError('CertificationPath certificateAuthorities must be [1] SEQUENCE OF');
      }
      caDers = casElement.children.map((c) => readOctetString(c, 'CertificationPath certificate authority'));
    } catch (err) {
      throw new RelaynetSyntaxError('Serialization is not a valid CertificationPath', { cause: err });
    }

    let leaf: Certificate;
    try {
      leaf = Certificate.deserialize(leafDer);
    } catch (err) {
      throw new RelaynetSyntaxError('CertificationPath leaf certificate is malformed', { cause: err });
    }
    let certificateAuthorities: Certificate[];
    try {
      certificateAuthorities = caDers.map((c) => Certificate.deserialize(c));
    } catch (err) {
      throw new RelaynetSyntaxError('CertificationPath contains a malformed CA certificate', { cause: err });
    }
    return new CertificationPath(leaf, certificateAuthorities);
  }

  constructor(
    public readonly leafCertificate: Certificate,
    public readonly certificateAuthorities: readonly Certificate[],
  ) {}

  serialize(): Buffer {
    const cas = this.certificateAuthorities.map((c) => octetString(c.serialize()));
    return sequence(
      tlv(TagClass.Context, false, 0, this.leafCertificate.serialize()),
      tlv(TagClass.Context, true, 1, cas),
    );
  }
}
