/**
 * Default handshake crypto over the protocol core: each identity signs the nonce as a detached CMS
 * SignedData with its certificate attached; the gateway verifies each signature and checks that it
 * issued the signer's certificate (and that the certificate is currently valid).
 */
import type { KeyObject } from 'node:crypto';

import {
  Certificate,
  derDeserializeRsaPublicKey,
  issueEndpointCertificate,
  signSignedData,
  verifySignedData,
} from '@twitter-relaynet/core';

import { RegistrationRefusedError } from './errors';
import type { EndpointRegistration } from './server';

export interface EndpointIdentity {
  readonly privateKey: KeyObject;
  /** The endpoint's certificate, issued by its gateway. */
  readonly certificate: Certificate;
}

/** Endpoint side: `sign` for `PoWebSocketConnection.connect`: one signature per identity, in order. */
export function makeHandshakeSigner(identities: readonly EndpointIdentity[]): (nonce: Buffer) => Promise<Buffer[]> {
  return (nonce) =>
    Promise.all(
      identities.map(({ privateKey, certificate }) =>
        signSignedData(nonce, privateKey, certificate, [], { encapsulatePlaintext: false }),
      ),
    );
}

/**
 * Gateway side: `verify` for `PoWebSocketServer.listen`. Resolves with the endpoint id of each signer;
 * throws if a signature does not verify, its certificate is not valid now, or the gateway did not issue it.
 */
export function makeHandshakeVerifier(
  gatewayCertificate: Certificate,
): (nonce: Buffer, signatures: readonly Buffer[]) => Promise<string[]> {
  return (nonce, signatures) =>
    Promise.all(
      signatures.map(async (signature, index) => {
        const { signerCertificate } = await verifySignedData(signature, { detachedPlaintext: nonce });
        signerCertificate.validate();
        if (!(await signerCertificate.isIssuedBy(gatewayCertificate))) {
          throw new Error(`Signature #${index}: the signer certificate was not issued by this gateway`);
        }
        return signerCertificate.calculateSubjectId();
      }),
    );
}

/**
 * Gateway side: `issueEndpointCertificate` for `PoWebSocketServer.listen`. Issues an endpoint
 * certificate (RS-002) for the requested RSA public key, valid for `validityMs` (default 180 days).
 */
export function makeEndpointCertificateIssuer(options: {
  readonly gatewayPrivateKey: KeyObject;
  readonly gatewayCertificate: Certificate;
  readonly validityMs?: number;
}): (publicKey: Buffer) => Promise<EndpointRegistration> {
  const validityMs = options.validityMs ?? 180 * 24 * 3_600_000;
  return async (publicKeyDer) => {
    let subjectPublicKey: KeyObject;
    try {
      subjectPublicKey = derDeserializeRsaPublicKey(publicKeyDer);
    } catch (err) {
      throw new RegistrationRefusedError(`Unacceptable endpoint key: ${(err as Error).message}`);
    }
    const now = Date.now();
    const certificate = await issueEndpointCertificate({
      subjectPublicKey,
      issuerPrivateKey: options.gatewayPrivateKey,
      issuerCertificate: options.gatewayCertificate,
      validityStartDate: new Date(now - 3_600_000),
      validityEndDate: new Date(Math.min(now + validityMs, options.gatewayCertificate.expiryDate.getTime())),
    });
    return { endpointCertificate: certificate.serialize(), gatewayCertificate: options.gatewayCertificate.serialize() };
  };
}
