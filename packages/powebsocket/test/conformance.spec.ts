import {
  type BindingFactory,
  describeBindingConformance,
  describeSlowLink,
} from '@twitter-relaynet/binding-conformance';
import { silentLogger } from '@twitter-relaynet/core';

import { MAX_PARCEL_SIZE, PoWebSocketConnection, PoWebSocketServer } from '../src';
import { encodeResponse } from '../src/proto';
import { TestIdentity, rawExchange, tempSocketPath, testSigner, testVerifier, wsFrame } from './helpers';

const identity = new TestIdentity();

/** PoWebSocket adapter: messages are parcels the endpoint delivers to the gateway. */
const factory: BindingFactory<'parcel'> = {
  name: 'PoWebSocket',
  field: 'parcel',
  maxMessageSize: MAX_PARCEL_SIZE,
  window: 5,
  frameOverhead: 1024,
  malformedInputs: [
    { name: 'text frame', bytes: wsFrame(0x1, Buffer.from('hello')), expectedReason: 'close:1003' },
    {
      name: 'invalid protobuf as handshake response',
      bytes: wsFrame(0x2, Buffer.from([0xff, 0xff, 0xff])),
      expectedReason: 'close:1003',
    },
    {
      name: 'unknown tag 0x07 before the handshake',
      bytes: wsFrame(0x2, Buffer.from([0x07, 0x01])),
      expectedReason: 'close:1003',
    },
    {
      name: 'parcel delivery before the handshake',
      bytes: wsFrame(0x2, Buffer.from([0x00, 0x0a, 0x01, 0x41])),
      expectedReason: 'close:1003',
    },
    {
      name: 'handshake response without signatures',
      bytes: wsFrame(0x2, Buffer.alloc(0)),
      expectedReason: 'close:1003',
    },
    {
      name: 'handshake signature that does not verify',
      bytes: wsFrame(0x2, encodeResponse([Buffer.concat([Buffer.from([0]), Buffer.alloc(64, 7)])])),
      expectedReason: 'close:1003',
    },
    {
      name: 'frame larger than 9 MiB + overhead',
      bytes: wsFrame(0x2, Buffer.alloc(0), { declaredLength: MAX_PARCEL_SIZE + 1025 }),
      expectedReason: 'close:1009',
    },
    {
      name: 'unmasked client frame',
      bytes: wsFrame(0x2, Buffer.from([1, 2, 3]), { mask: false }),
      expectedReason: 'close:1002',
    },
  ],
  // A binary frame announcing 100 octets, of which only 10 arrive.
  stalledInput: wsFrame(0x2, Buffer.alloc(10), { declaredLength: 100 }).subarray(0, 2 + 4 + 10),
  stallReason: 'close:4001',
  // Random octets after the upgrade: ws rejects the framing (1002) or our decoder the content (1003).
  garbageReason: /^close:(1002|1003)$/,
  async start({ onMessage, idleTimeoutMs }) {
    const { socketPath, cleanup } = tempSocketPath();
    const server = await PoWebSocketServer.listen({
      socketPath,
      verify: testVerifier([identity]),
      onParcelDelivered: (parcel) => onMessage(parcel),
      parcelSource: async function* () {},
      logger: silentLogger,
      idleTimeoutMs,
      pingIntervalMs: Math.floor(idleTimeoutMs / 4),
    });
    return {
      endpoint: { path: socketPath },
      async connectClient(via) {
        const connection = await PoWebSocketConnection.connect({
          socketPath: via && 'path' in via ? via.path : socketPath,
          sign: testSigner([{ identity, index: 0 }]),
          logger: silentLogger,
          idleTimeoutMs,
          pingIntervalMs: Math.floor(idleTimeoutMs / 4),
        });
        return {
          deliver: (parcels, options) => connection.deliverParcels(parcels, options),
          destroy: () => connection.destroy(),
          close: async () => {
            await connection.close();
          },
        };
      },
      sendRaw: (bytes) => rawExchange(socketPath, bytes),
      bufferedBytes: () => server.pendingIncomingBytes,
      async close() {
        await server.close();
        cleanup();
      },
    };
  },
};

describeBindingConformance(factory);
describeSlowLink(factory);
