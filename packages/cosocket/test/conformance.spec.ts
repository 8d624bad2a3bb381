import { join } from 'node:path';

import {
  type BindingFactory,
  describeBindingConformance,
  describeSlowLink,
} from '@twitter-relaynet/binding-conformance';

import { CoSocketClient, createCoSocketServer, MAX_FRAME_OVERHEAD, MAX_MESSAGE_LENGTH } from '../src';
import { makeTempDir, sendRawBytes } from './helpers';

const tag = (t: number) => Buffer.from([t & 0xff, t >> 8]);
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};

const factory: BindingFactory<'cargo'> = {
  name: 'CoSocket',
  field: 'cargo',
  maxMessageSize: MAX_MESSAGE_LENGTH,
  window: 5,
  frameOverhead: MAX_FRAME_OVERHEAD,
  garbageReason: 'quit:invalid-packet',
  stalledInput: Buffer.concat([tag(0x01), Buffer.from([2]), Buffer.from('id'), u32(1000), Buffer.alloc(10)]),
  stallReason: 'quit:timeout',
  malformedInputs: [
    { name: 'unknown tag', bytes: tag(0x1234), expectedReason: 'quit:invalid-packet' },
    { name: 'fd-variant delivery', bytes: tag(0x02), expectedReason: 'quit:invalid-packet' },
    {
      name: 'oversized cargo length',
      bytes: Buffer.concat([tag(0x01), Buffer.from([1]), Buffer.from('x'), u32(MAX_MESSAGE_LENGTH + 1)]),
      expectedReason: 'quit:invalid-packet',
    },
    {
      name: 'zero-length cargo',
      bytes: Buffer.concat([tag(0x01), Buffer.from([1]), Buffer.from('x'), u32(0)]),
      expectedReason: 'quit:invalid-packet',
    },
    {
      name: 'empty delivery id',
      bytes: Buffer.concat([tag(0x01), Buffer.from([0]), u32(1), Buffer.from([1])]),
      expectedReason: 'quit:invalid-packet',
    },
    {
      name: 'non-UTF-8 delivery id',
      bytes: Buffer.concat([tag(0x01), Buffer.from([2, 0xc3, 0x28]), u32(1), Buffer.from([1])]),
      expectedReason: 'quit:invalid-packet',
    },
    {
      name: 'ack for an unknown delivery id',
      bytes: Buffer.concat([tag(0x03), Buffer.from([3]), Buffer.from('abc')]),
      expectedReason: 'quit:invalid-packet',
    },
    {
      name: 'CCA delivery from the relayer',
      bytes: Buffer.concat([tag(0x10), Buffer.from([1]), Buffer.from('x'), u32(1), Buffer.from([1])]),
      expectedReason: 'quit:invalid-packet',
    },
    {
      name: 'handshake complete without challenge',
      bytes: tag(0xf2),
      expectedReason: 'quit:handshake-error',
    },
    {
      name: 'handshake challenge to a server without a signer',
      bytes: Buffer.concat([tag(0xf0), Buffer.alloc(32)]),
      expectedReason: 'quit:handshake-error',
    },
  ],

  async start({ onMessage, idleTimeoutMs }) {
    const temp = await makeTempDir();
    const socketPath = join(temp.dir, 'cosocket.sock');
    const server = await createCoSocketServer({
      socketPath,
      idleTimeoutMs,
      onCargoDelivered: (cargo) => onMessage(cargo),
    });
    return {
      endpoint: { path: socketPath },
      async connectClient(via) {
        // Through a proxy (the slow-link tests) the client gets the same idle timeout as the server: its sending
        // side must count the octets a large cargo moves too, not wait for a packet back.
        const client = via
          ? await CoSocketClient.connect('path' in via ? via.path : socketPath, { idleTimeoutMs })
          : await CoSocketClient.connect(socketPath);
        return {
          deliver: (cargo, options) => client.deliverCargo(cargo, options),
          destroy: () => client.destroy(),
          close: () => client.close(),
        };
      },
      sendRaw: async (bytes) => ({ reason: (await sendRawBytes(socketPath, bytes)).reason }),
      bufferedBytes: () => server.bufferedBytes(),
      async close() {
        await server.close();
        await temp.cleanup();
      },
    };
  },
};

describeBindingConformance(factory);
describeSlowLink(factory);
