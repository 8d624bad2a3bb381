import { describeBindingConformance, describeSlowLink } from '@twitter-relaynet/binding-conformance';

import { grpcBindingFactory } from '@twitter-relaynet/binding-conformance/grpc';
import { CARGO_MESSAGE_OVERHEAD, CogRPCClient, createCogRPCServer, MAX_CARGO_LENGTH } from '../src';

/** The suite drives DeliverCargo (courier → gateway); CollectCargo has its own tests in cogrpc.spec.ts. */
function makeFactory(mode: 'tls-tcp' | 'plaintext-unix') {
  return grpcBindingFactory({
    name: 'CogRPC',
    mode,
    field: 'cargo',
    maxMessageSize: MAX_CARGO_LENGTH,
    frameOverhead: CARGO_MESSAGE_OVERHEAD,
    startServer: ({ onMessage, ...options }) =>
      createCogRPCServer({ ...options, storeCargo: (cargo) => onMessage(cargo), collectCargo: async () => [] }),
    connect(address, tls) {
      const client = new CogRPCClient(address, { tls });
      return { deliver: (items, options) => client.deliverCargo(items, options), close: () => client.close() };
    },
  });
}

describeBindingConformance(makeFactory('tls-tcp'));
describeBindingConformance(makeFactory('plaintext-unix'));
describeSlowLink(makeFactory('tls-tcp'));
