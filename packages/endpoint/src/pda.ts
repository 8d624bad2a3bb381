/**
 * Parcel Delivery Authorizations: what a private endpoint gives a public endpoint so it may send it parcels.
 * Carried between the two (inside an app message) as an RS-012 CertificationPath: the PDA as the leaf, then
 * [private endpoint certificate, private gateway certificate].
 */
import { Certificate, CertificationPath } from '@twitter-relaynet/core';

import { isCoreError, PeerError } from './errors';

export interface DeliveryAuthorization {
  /** The PDA: the public endpoint's key, certified by the private endpoint. */
  readonly pda: Certificate;
  /** What the public endpoint attaches to its parcels: [private endpoint certificate, gateway certificate]. */
  readonly chain: readonly Certificate[];
}

export function serializeDeliveryAuthorization(authorization: DeliveryAuthorization): Buffer {
  return new CertificationPath(authorization.pda, authorization.chain).serialize();
}

export function deserializeDeliveryAuthorization(serialization: Buffer): DeliveryAuthorization {
  try {
    const path = CertificationPath.deserialize(serialization);
    return { pda: path.leafCertificate, chain: path.certificateAuthorities };
  } catch (error) {
    if (isCoreError(error)) {
      throw new PeerError(`Malformed delivery authorization: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

/**
 * Check that `authorization` lets `holderId` send parcels to the endpoint that issued it, at `now`, and
 * return that endpoint's id and certificate.
 *
 * @throws PeerError otherwise.
 */
export async function checkDeliveryAuthorization(
  authorization: DeliveryAuthorization,
  holderId: string,
  now: Date,
): Promise<{ recipientId: string; recipientCertificate: Certificate }> {
  const { pda, chain } = authorization;
  if (pda.calculateSubjectId() !== holderId) {
    throw new PeerError(`The PDA was issued to ${pda.calculateSubjectId()}, not to this endpoint (${holderId})`);
  }
  if (chain.length === 0) throw new PeerError('The PDA comes without the certificate of the endpoint that issued it');
  const recipientCertificate = chain[0];
  try {
    const path = await pda.getCertificationPath(chain, [chain[chain.length - 1]], now);
    if (!path[1]?.isEqual(recipientCertificate)) {
      throw new PeerError('The PDA was not issued by the first certificate of its chain');
    }
  } catch (error) {
    if (error instanceof PeerError) throw error;
    throw new PeerError(`Unusable PDA: ${(error as Error).message}`, { cause: error });
  }
  return { recipientId: recipientCertificate.calculateSubjectId(), recipientCertificate };
}
