/** The operations under test, with @twitter-relaynet/core's public API. */
import { Cargo, CargoMessageSet, encryptPayload, Parcel, ServiceMessage } from '@twitter-relaynet/core';

import type { CoreFixture } from './coreFixture';
import { GATEWAY_ADDRESS, SERVICE_MESSAGE_TYPE, type CoreOps, type PayloadMode } from './coreShared';

export function makeOurOps(fixture: CoreFixture): CoreOps {
  const { privateEndpoint, publicEndpoint, privateGateway, internetGateway } = fixture;
  const peId = privateEndpoint.certificate.calculateSubjectId();
  const igId = internetGateway.certificate.calculateSubjectId();

  return {
    async serializeParcel(mode: PayloadMode, content: Buffer) {
      const plaintext = new ServiceMessage(SERVICE_MESSAGE_TYPE, content).serializeChunks();
      const { envelopedData } = await encryptPayload(
        plaintext,
        mode === 'sessionless'
          ? { certificate: privateEndpoint.certificate }
          : { sessionKey: fixture.privateEndpointSession.sessionKey },
      );
      const parcel = new Parcel({ id: peId }, publicEndpoint.certificate, envelopedData, {
        senderCaCertificateChain: [privateEndpoint.certificate],
      });
      return parcel.serialize(publicEndpoint.keyPair.privateKey);
    },

    async unwrapParcel(mode: PayloadMode, serialized: Buffer) {
      const parcel = await Parcel.deserialize(serialized);
      await parcel.validate([privateEndpoint.certificate]);
      const key =
        mode === 'sessionless' ? privateEndpoint.keyPair.privateKey : fixture.privateEndpointSession.privateKey;
      const { payload } = await parcel.unwrapPayload(key);
      return payload.content;
    },

    async buildCargo(parcels: readonly Buffer[]) {
      const { envelopedData } = await encryptPayload(new CargoMessageSet(parcels).serialize(), {
        sessionKey: fixture.internetGatewaySession.sessionKey,
      });
      const cargo = new Cargo(
        { id: igId, internetAddress: GATEWAY_ADDRESS },
        privateGateway.certificate,
        envelopedData,
      );
      return cargo.serialize(privateGateway.keyPair.privateKey);
    },

    async unwrapCargo(serialized: Buffer) {
      const cargo = await Cargo.deserialize(serialized);
      await cargo.validate([internetGateway.certificate]);
      const { payload } = await cargo.unwrapPayload(fixture.internetGatewaySession.privateKey);
      const parcels = await Promise.all(payload.messages.map((message) => Parcel.deserialize(message)));
      return parcels.length;
    },
  };
}
