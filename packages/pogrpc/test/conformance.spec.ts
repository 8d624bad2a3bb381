import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { type BindingFactory, describeBindingConformance, describeSlowLink } from '@twitter-relaynet/binding-conformance';

import {
  createPogRPCServer,
  generateSelfSignedCertificate,
  MAX_PARCEL_LENGTH,
  MESSAGE_OVERHEAD,
  PogRPCClient,
  type ClientTls,
  type ServerTls,
} from '../src';
import { grpcRawInputs, grpcRunningServer, indexedTestClient } from './helpers';

const identity = generateSelfSignedCertificate();
function makeFactory(mode: 'tls-tcp' | 'plaintext-unix'): BindingFactory {
  const tls = mode === 'tls-tcp';
  const serverTls: ServerTls = tls ? identity : { insecurePlaintextForTests: true };
  const clientTls: ClientTls = tls ? { pinnedCertificatePem: identity.certificatePem } : { insecurePlaintextForTests: true };
  return {
    name: `PogRPC (${mode})`,
    maxMessageSize: MAX_PARCEL_LENGTH,
    window: 5,
    frameOverhead: MESSAGE_OVERHEAD,
    ...grpcRawInputs(tls),
    async start({ onMessage, idleTimeoutMs }) {
      const dir = await mkdtemp(join(tmpdir(), 'pogrpc-'));
      const server = await createPogRPCServer({
        address: tls ? '127.0.0.1:0' : `unix://${join(dir, 'pogrpc.sock')}`,
        tls: serverTls,
        idleTimeoutMs,
        onParcel: (parcel) => onMessage(parcel),
      });
      return grpcRunningServer(server, tls, dir, (address) => {
        const client = new PogRPCClient(address, {
          tls: clientTls,
          gatewayAddress: 'rne+grpc://127.0.0.1:21473',
          // The client's deadline caps a whole call; the slow-link tests' calls last over 30 s by design.
          deadlineMs: 10 * 60_000,
        });
        return indexedTestClient(
          async (items, options) => {
            const report = await client.deliverParcels(
              (async function* () {
                for await (const { id, payload } of items) yield { id, parcel: payload };
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
