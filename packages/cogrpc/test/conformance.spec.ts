import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { type BindingFactory, describeBindingConformance, describeSlowLink } from '@twitter-relaynet/binding-conformance';

import { grpcRawInputs, grpcRunningServer, indexedTestClient } from '../../pogrpc/test/helpers';
import {
  CARGO_MESSAGE_OVERHEAD,
  CogRPCClient,
  createCogRPCServer,
  generateSelfSignedCertificate,
  MAX_CARGO_LENGTH,
  type ClientTls,
  type ServerTls,
} from '../src';

const identity = generateSelfSignedCertificate();

/** The suite drives DeliverCargo (courier → gateway); CollectCargo has its own tests in cogrpc.spec.ts. */
function makeFactory(mode: 'tls-tcp' | 'plaintext-unix'): BindingFactory {
  const tls = mode === 'tls-tcp';
  const serverTls: ServerTls = tls ? identity : { insecurePlaintextForTests: true };
  const clientTls: ClientTls = tls ? { pinnedCertificatePem: identity.certificatePem } : { insecurePlaintextForTests: true };
  return {
    name: `CogRPC (${mode})`,
    maxMessageSize: MAX_CARGO_LENGTH,
    window: 5,
    frameOverhead: CARGO_MESSAGE_OVERHEAD,
    ...grpcRawInputs(tls),
    async start({ onMessage, idleTimeoutMs }) {
      const dir = await mkdtemp(join(tmpdir(), 'cogrpc-'));
      const server = await createCogRPCServer({
        address: tls ? '127.0.0.1:0' : `unix://${join(dir, 'cogrpc.sock')}`,
        tls: serverTls,
        idleTimeoutMs,
        storeCargo: (cargo) => onMessage(cargo),
        collectCargo: async () => [],
      });
      return grpcRunningServer(server, tls, dir, (address) => {
        const client = new CogRPCClient(address, { tls: clientTls });
        return indexedTestClient(
          async (items, options) => {
            const report = await client.deliverCargo(
              (async function* () {
                for await (const { id, payload } of items) yield { id, cargo: payload };
              })(),
              options,
            );
            return { ...report, unacked: report.unacked.map((u) => ({ id: u.id })) };
          },
          () => client.close(),
        );
      });
    },
  };
}

describeBindingConformance(makeFactory('tls-tcp'));
describeBindingConformance(makeFactory('plaintext-unix'));
describeSlowLink(makeFactory('tls-tcp'));
