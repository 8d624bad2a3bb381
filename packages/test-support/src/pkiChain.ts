import {
  type Certificate,
  issueDeliveryAuthorization,
  issueEndpointCertificate,
  issueGatewayCertificate,
  type KeyPair,
} from '@twitter-relaynet/core';

/** The keys of the four nodes of `issuePkiChain`'s chain. */
export interface PkiChainKeys {
  readonly internetGateway: KeyPair;
  readonly privateGateway: KeyPair;
  readonly privateEndpoint: KeyPair;
  readonly publicEndpoint: KeyPair;
}

export interface PkiChain {
  readonly internetGateway: Certificate;
  readonly privateGateway: Certificate;
  readonly privateEndpoint: Certificate;
  /** The private endpoint's delivery authorization for the public endpoint's key. */
  readonly pda: Certificate;
}

/**
 * The chain tests and benchmarks build with the public API: internet gateway (self-issued) → private gateway →
 * private endpoint → PDA for a public endpoint, all valid over `dates`.
 */
export async function issuePkiChain(
  keys: PkiChainKeys,
  dates: { readonly validityStartDate: Date; readonly validityEndDate: Date },
): Promise<PkiChain> {
  const internetGateway = await issueGatewayCertificate({
    ...dates,
    subjectPublicKey: keys.internetGateway.publicKey,
    issuerPrivateKey: keys.internetGateway.privateKey,
  });
  const privateGateway = await issueGatewayCertificate({
    ...dates,
    subjectPublicKey: keys.privateGateway.publicKey,
    issuerPrivateKey: keys.internetGateway.privateKey,
    issuerCertificate: internetGateway,
  });
  const privateEndpoint = await issueEndpointCertificate({
    ...dates,
    subjectPublicKey: keys.privateEndpoint.publicKey,
    issuerPrivateKey: keys.privateGateway.privateKey,
    issuerCertificate: privateGateway,
  });
  const pda = await issueDeliveryAuthorization({
    ...dates,
    subjectPublicKey: keys.publicEndpoint.publicKey,
    issuerPrivateKey: keys.privateEndpoint.privateKey,
    issuerCertificate: privateEndpoint,
  });
  return { internetGateway, privateGateway, privateEndpoint, pda };
}
