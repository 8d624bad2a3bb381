import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { type BindingFactory, describeBindingConformance, describeSlowLink } from '@twitter-relaynet/binding-conformance';

import {
  createPogRPCServer,
  generateSelfSignedCertificate,
  MAX_PARCEL_LENGTH,
  MESSAGE_OVERHEAD,
  parseAddress,
  PogRPCClient,
  type ClientTls,
  type ServerTls,
} from '../src';
import { sendRawBytes } from './helpers';

const identity = generateSelfSignedCertificate();
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
const CLIENT_HELLO_START = Buffer.from([0x16, 0x03, 0x01, 0x00, 0xc8, 0x01, 0x00]);

function makeFactory(mode: 'tls-tcp' | 'plaintext-unix'): BindingFactory {
  const tls = mode === 'tls-tcp';
  const serverTls: ServerTls = tls ? identity : { insecurePlaintextForTests: true };
  const clientTls: ClientTls = tls ? { pinnedCertificatePem: identity.certificatePem } : { insecurePlaintextForTests: true };
  return {
    name: `PogRPC (${mode})`,
    maxMessageSize: MAX_PARCEL_LENGTH,
    window: 5,
    frameOverhead: MESSAGE_OVERHEAD,
    garbageReason: tls ? 'closed' : 'goaway:INTERNAL_ERROR',
    stalledInput: tls ? CLIENT_HELLO_START : PREFACE.subarray(0, 10),
    stallReason: 'closed',
    malformedInputs: tls
      ? [
          { name: 'plaintext HTTP/2 preface on the TLS port', bytes: PREFACE, expectedReason: 'closed' },
          { name: 'HTTP/1.1 request on the TLS port', bytes: Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), expectedReason: 'closed' },
        ]
      : [
          { name: 'TLS ClientHello on the plaintext port', bytes: CLIENT_HELLO_START, expectedReason: 'goaway:INTERNAL_ERROR' },
          { name: 'HTTP/1.1 request', bytes: Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), expectedReason: 'goaway:INTERNAL_ERROR' },
          {
            name: 'HEADERS frame on stream 0',
            // A connection error; Node's HTTP/2 layer reports it with GOAWAY INTERNAL_ERROR.
            bytes: Buffer.concat([PREFACE, Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]), Buffer.from([0, 0, 1, 1, 4, 0, 0, 0, 0, 0x82])]),
            expectedReason: 'goaway:INTERNAL_ERROR',
          },
        ],

    async start({ onMessage, idleTimeoutMs }) {
      const dir = await mkdtemp(join(tmpdir(), 'pogrpc-'));
      const server = await createPogRPCServer({
        address: tls ? '127.0.0.1:0' : `unix://${join(dir, 'pogrpc.sock')}`,
        tls: serverTls,
        idleTimeoutMs,
        onParcel: (parcel) => onMessage(parcel),
      });
      const target = parseAddress(server.address);
      return {
        endpoint: target.path ? { path: target.path } : { host: target.host, port: target.port },
        async connectClient(via) {
          const address = !via ? server.address : 'path' in via ? `unix://${via.path}` : `${via.host ?? '127.0.0.1'}:${via.port}`;
          const client = new PogRPCClient(address, {
            tls: clientTls,
            gatewayAddress: 'rne+grpc://127.0.0.1:21473',
          });
          return {
            async deliver(messages, options = {}) {
              async function* items() {
                let index = 0;
                for await (const parcel of messages) yield { id: String(index++), parcel };
              }
              const report = await client.deliverParcels(items(), {
                signal: options.signal,
                onAck: (id) => options.onAck?.(Number(id)),
              });
              return {
                acked: report.acked.map(Number),
                unacked: report.unacked.map((u) => Number(u.id)),
                error: report.error,
              };
            },
            destroy: () => client.close(),
            close: async () => client.close(),
          };
        },
        sendRaw: async (bytes) => ({ reason: (await sendRawBytes(server.address, bytes, tls)).reason }),
        bufferedBytes: () => server.bufferedBytes(),
        async close() {
          await server.close();
          await rm(dir, { recursive: true, force: true });
        },
      };
    },
  };
}

describeBindingConformance(makeFactory('tls-tcp'));
describeBindingConformance(makeFactory('plaintext-unix'));
describeSlowLink(makeFactory('tls-tcp'));
