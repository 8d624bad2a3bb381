/** An in-process user gateway's traffic for tests that talk to bin/relayer-gateway directly (CogRPC). */
import { generateRsaKeyPair, issueEndpointCertificate, Parcel } from '@twitter-relaynet/core';
import type { UserGateway } from '@twitter-relaynet/gateway';

export const PUBLIC_ADDRESS = 'twitter.relaynet.test';

/** `count` parcels (ids `<prefix>0`…) from a new app endpoint of `user` to a public endpoint at PUBLIC_ADDRESS. */
export async function parcelsFromApp(user: UserGateway, count: number, prefix = 'parcel-'): Promise<Buffer[]> {
  const [appKeys, adapterKeys] = await Promise.all([generateRsaKeyPair(), generateRsaKeyPair()]);
  const appCertificate = await user.registerEndpoint(appKeys.publicKey);
  const adapterCertificate = await issueEndpointCertificate({
    subjectPublicKey: adapterKeys.publicKey,
    issuerPrivateKey: adapterKeys.privateKey,
    validityEndDate: new Date(Date.now() + 86_400_000),
  });
  return Promise.all(
    Array.from({ length: count }, (_, index) =>
      new Parcel(
        { id: adapterCertificate.calculateSubjectId(), internetAddress: PUBLIC_ADDRESS },
        appCertificate,
        Buffer.from('tweet'),
        { id: `${prefix}${index}`, ttl: 3_600, senderCaCertificateChain: [user.certificate] },
      ).serialize(appKeys.privateKey),
    ),
  );
}

/** A parcel from a new app endpoint of `user` to a public endpoint. */
export async function parcelFromApp(user: UserGateway): Promise<Buffer> {
  const [parcel] = await parcelsFromApp(user, 1, `parcel-${Date.now()}-`);
  return parcel;
}
