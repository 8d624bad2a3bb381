/** An in-process user gateway's traffic for tests that talk to bin/relayer-gateway directly (CogRPC). */
import { generateRsaKeyPair, issueEndpointCertificate, Parcel } from '@twitter-relaynet/core';
import type { UserGateway } from '@twitter-relaynet/gateway';

/** A parcel from a new app endpoint of `user` to a public endpoint. */
export async function parcelFromApp(user: UserGateway): Promise<Buffer> {
  const [appKeys, adapterKeys] = await Promise.all([generateRsaKeyPair(), generateRsaKeyPair()]);
  const appCertificate = await user.registerEndpoint(appKeys.publicKey);
  const adapterCertificate = await issueEndpointCertificate({
    subjectPublicKey: adapterKeys.publicKey,
    issuerPrivateKey: adapterKeys.privateKey,
    validityEndDate: new Date(Date.now() + 86_400_000),
  });
  const parcel = new Parcel(
    { id: adapterCertificate.calculateSubjectId(), internetAddress: 'twitter.relaynet.test' },
    appCertificate,
    Buffer.from('tweet'),
    { ttl: 3_600, senderCaCertificateChain: [user.certificate] },
  );
  return parcel.serialize(appKeys.privateKey);
}
