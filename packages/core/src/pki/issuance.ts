/**
 * Issuance of the RS-002 certificate types. The Common Name is always the subject's node id.
 */
import type { KeyObject } from 'node:crypto';

import type { HashingAlgorithm } from '../cms/algorithms';
import { Certificate } from './Certificate';
import { getIdFromIdentityKey } from './keys';

export interface NodeCertificateIssuanceOptions {
  readonly subjectPublicKey: KeyObject;
  readonly issuerPrivateKey: KeyObject;
  readonly validityEndDate: Date;
  readonly validityStartDate?: Date;
  /** Absent when the certificate is self-issued. */
  readonly issuerCertificate?: Certificate;
  readonly hashAlgorithm?: HashingAlgorithm;
}

export interface DeliveryAuthorizationIssuanceOptions extends NodeCertificateIssuanceOptions {
  readonly issuerCertificate: Certificate;
}

/** A gateway certificate: CA with pathLenConstraint 2 when self-issued, 1 when issued by a peer. */
export function issueGatewayCertificate(options: NodeCertificateIssuanceOptions): Promise<Certificate> {
  const pathLenConstraint = options.issuerCertificate ? 1 : 2;
  return issueNodeCertificate(options, true, pathLenConstraint);
}

/** An endpoint certificate (self-issued or issued by its private gateway): CA, pathLenConstraint 0. */
export function issueEndpointCertificate(options: NodeCertificateIssuanceOptions): Promise<Certificate> {
  return issueNodeCertificate(options, true, 0);
}

/** A Parcel or Cargo Delivery Authorization (PDA/CDA): not a CA, pathLenConstraint 0. */
export function issueDeliveryAuthorization(options: DeliveryAuthorizationIssuanceOptions): Promise<Certificate> {
  return issueNodeCertificate(options, false, 0);
}

async function issueNodeCertificate(
  options: NodeCertificateIssuanceOptions,
  isCA: boolean,
  pathLenConstraint: number,
): Promise<Certificate> {
  return Certificate.issue({
    ...options,
    commonName: getIdFromIdentityKey(options.subjectPublicKey),
    isCA,
    pathLenConstraint,
  });
}
