import { describeBindingConformance, describeSlowLink } from '@twitter-relaynet/binding-conformance';

import { createPogRPCServer, MAX_PARCEL_LENGTH, MESSAGE_OVERHEAD, PogRPCClient } from '../src';
import { grpcBindingFactory } from '@twitter-relaynet/binding-conformance/grpc';

function makeFactory(mode: 'tls-tcp' | 'plaintext-unix') {
  return grpcBindingFactory({
    name: 'PogRPC',
    mode,
    field: 'parcel',
    maxMessageSize: MAX_PARCEL_LENGTH,
    frameOverhead: MESSAGE_OVERHEAD,
    startServer: ({ onMessage, ...options }) =>
      createPogRPCServer({ ...options, onParcel: (parcel) => onMessage(parcel) }),
    connect(address, tls) {
      const client = new PogRPCClient(address, { tls, gatewayAddress: 'rne+grpc://127.0.0.1:21473' });
      return { deliver: (items, options) => client.deliverParcels(items, options), close: () => client.close() };
    },
  });
}

describeBindingConformance(makeFactory('tls-tcp'));
describeBindingConformance(makeFactory('plaintext-unix'));
describeSlowLink(makeFactory('tls-tcp'));
