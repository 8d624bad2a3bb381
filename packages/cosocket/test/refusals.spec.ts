/**
 * The refusal reports extension: a relayer that opts in (a Cargo Delivery Completion naming
 * REFUSAL_REPORTS_OPT_IN, first on the connection) is told why the gateway refuses a cargo or a
 * collection request (Refusal packet 0x11); any other relayer sees what RS-004 offers (an ack, a Quit).
 */
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';

import {
  CoSocketClient,
  CoSocketQuitError,
  CoSocketRefusalError,
  createCoSocketServer,
  encodePacket,
  MAX_REFUSAL_REASON_LENGTH,
  type Packet,
  PacketDecoder,
  PacketTag,
  QuitReason,
  REFUSAL_REPORTS_OPT_IN,
  RefusalDisposition,
  type CoSocketServer,
  type CoSocketServerOptions,
} from '../src';
import { makeTempDir, sendRawBytes } from './helpers';

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let socketPath: string;
const closers: Array<() => Promise<void>> = [];

beforeEach(async () => {
  temp = await makeTempDir();
  socketPath = join(temp.dir, 'gw.sock');
});

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
  await temp.cleanup();
});

async function startServer(options: Partial<CoSocketServerOptions>): Promise<CoSocketServer> {
  const server = await createCoSocketServer({
    socketPath,
    onCargoDelivered: async () => undefined,
    ...options,
  } as CoSocketServerOptions);
  closers.push(() => server.close());
  return server;
}

async function connect(refusalReports?: boolean): Promise<CoSocketClient> {
  const client = await CoSocketClient.connect(socketPath, { refusalReports });
  closers.push(() => client.close());
  return client;
}

/** Refuses cargo "final" for good and cargo "later" for now; stores the rest. */
function refusingStore(stored: string[]) {
  return async (cargo: Buffer) => {
    const text = cargo.toString();
    if (text === 'final') throw new CoSocketRefusalError('addressed to another gateway', RefusalDisposition.FINAL);
    if (text === 'later') throw new CoSocketRefusalError('dated 3.0 h ahead of this clock', RefusalDisposition.LATER);
    stored.push(text);
  };
}

const cargoes = (...names: string[]) => names.map((name) => ({ id: name, cargo: Buffer.from(name) }));

describe('cargo delivery', () => {
  test('a relayer that opted in gets each refusal with its reason instead of an ack, and delivery goes on', async () => {
    const stored: string[] = [];
    await startServer({ onCargoDelivered: refusingStore(stored) });
    const client = await connect();
    const refusals: string[] = [];

    const report = await client.deliverCargo(cargoes('a', 'final', 'later', 'b'), {
      onRefusal: (refusal) => refusals.push(refusal.id),
    });

    expect(report.error).toBeUndefined();
    expect(report.acked).toEqual(['a', 'b']);
    expect(report.unacked).toEqual([]);
    expect(
      report.refused.map(({ id, reason, disposition, cargo }) => ({
        id,
        reason,
        disposition,
        cargo: cargo.toString(),
      })),
    ).toEqual([
      { id: 'final', reason: 'addressed to another gateway', disposition: RefusalDisposition.FINAL, cargo: 'final' },
      { id: 'later', reason: 'dated 3.0 h ahead of this clock', disposition: RefusalDisposition.LATER, cargo: 'later' },
    ]);
    expect(refusals).toEqual(['final', 'later']);
    expect(stored).toEqual(['a', 'b']);
  });

  test('a relayer that did not opt in sees what RS-004 offers: a final refusal acked, a later one quits internal-error', async () => {
    const stored: string[] = [];
    await startServer({ onCargoDelivered: refusingStore(stored) });

    const first = await connect(false);
    expect(await first.deliverCargo(cargoes('a', 'final', 'b'))).toEqual({
      acked: ['a', 'final', 'b'],
      unacked: [],
      refused: [],
    });

    const second = await connect(false);
    const report = await second.deliverCargo(cargoes('c', 'later', 'd'));
    expect(report.acked).toEqual(['c']);
    expect(report.unacked.map((u) => u.id).sort()).toEqual(['d', 'later']);
    expect(report.refused).toEqual([]);
    expect(report.error).toBeInstanceOf(CoSocketQuitError);
    expect((report.error as CoSocketQuitError).quitReason).toBe(QuitReason.INTERNAL_ERROR);
    expect(stored).toEqual(['a', 'b', 'c']);
  });
});

describe('cargo collection', () => {
  test('a refused request: the relayer that opted in gets the reason, then the connection is still usable', async () => {
    let calls = 0;
    await startServer({
      onCargoCollectionRequest: (cca) => {
        calls++;
        if (cca?.toString() === 'bad')
          throw new CoSocketRefusalError('CCA refused: not from a gateway registered here', RefusalDisposition.FINAL);
        return { items: [{ cargo: Buffer.from('for you') }] };
      },
    });
    const client = await connect();

    const refusal = await drain(client.collectCargo(Buffer.from('bad'))).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(CoSocketRefusalError);
    expect(refusal).toMatchObject({
      reason: 'CCA refused: not from a gateway registered here',
      disposition: RefusalDisposition.FINAL,
    });

    expect(await drain(client.collectCargo(Buffer.from('good')))).toEqual(['for you']);
    expect(calls).toBe(2);
  });

  test('a refused request, relayer not opted in: Quit invalid-packet, as before', async () => {
    await startServer({
      onCargoCollectionRequest: () => {
        throw new CoSocketRefusalError('CCA refused', RefusalDisposition.FINAL);
      },
    });
    const client = await connect(false);
    const error = await drain(client.collectCargo(Buffer.from('bad'))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CoSocketQuitError);
    expect((error as CoSocketQuitError).quitReason).toBe(QuitReason.INVALID_PACKET);
  });

  test('an answer with nothing and a reason (a spent CCA): the reason for who opted in, a plain completion otherwise', async () => {
    await startServer({
      onCargoCollectionRequest: () => ({
        items: [],
        refusal: { reason: 'CCA 42 was already used', disposition: RefusalDisposition.FINAL },
      }),
    });
    const optedIn = await connect();
    await expect(drain(optedIn.collectCargo(Buffer.from('spent')))).rejects.toMatchObject({
      reason: 'CCA 42 was already used',
      disposition: RefusalDisposition.FINAL,
    });
    const legacy = await connect(false);
    expect(await drain(legacy.collectCargo(Buffer.from('spent')))).toEqual([]);
  });
});

describe('on the wire', () => {
  test('the opt-in is a Cargo Delivery Completion, first on the connection; a gateway without the extension just goes on', async () => {
    // A gateway that knows RS-004 only: it takes the completion as news about some gateway, and acks cargo.
    const received: Packet[] = [];
    const server = await rawGateway((packet, socket) => {
      received.push(packet);
      if (packet.tag === PacketTag.CARGO_DELIVERY) {
        for (const part of encodePacket({ tag: PacketTag.CARGO_COLLECTION, deliveryId: packet.deliveryId }))
          socket.write(part);
      }
    });
    const client = await connect();
    expect(await client.deliverCargo(cargoes('a', 'b'))).toEqual({ acked: ['a', 'b'], unacked: [], refused: [] });
    expect(received[0]).toEqual({ tag: PacketTag.CARGO_DELIVERY_COMPLETION, gatewayAddress: REFUSAL_REPORTS_OPT_IN });
    expect(received.slice(1).map((p) => p.tag)).toEqual([PacketTag.CARGO_DELIVERY, PacketTag.CARGO_DELIVERY]);
    await client.close();
    await new Promise<void>((done) => server.close(() => done()));
  });

  test('a Refusal round-trips through the decoder whatever the chunking; a reason too long is cut on a character', () => {
    const reason = 'é'.repeat(MAX_REFUSAL_REASON_LENGTH); // 2 octets each: twice the limit
    const bytes = Buffer.concat(
      encodePacket({ tag: PacketTag.REFUSAL, subject: 'delivery-1', disposition: RefusalDisposition.LATER, reason }),
    );
    for (const step of [1, 7, bytes.length]) {
      const decoder = new PacketDecoder();
      const packets: Packet[] = [];
      for (let offset = 0; offset < bytes.length; offset += step)
        packets.push(...decoder.push(bytes.subarray(offset, offset + step)));
      expect(packets).toEqual([
        {
          tag: PacketTag.REFUSAL,
          subject: 'delivery-1',
          disposition: RefusalDisposition.LATER,
          reason: 'é'.repeat(MAX_REFUSAL_REASON_LENGTH / 2),
        },
      ]);
    }
  });

  test('a Refusal with an unknown disposition, an oversized or non-UTF-8 reason is an invalid packet', () => {
    const frame = (disposition: number, reason: Buffer, declared = reason.length) =>
      Buffer.concat([
        Buffer.from([0x11, 0x00, 0x01, 0x78, disposition]),
        Buffer.from([declared & 0xff, declared >> 8]),
        reason,
      ]);
    expect(() => new PacketDecoder().push(frame(2, Buffer.from('x')))).toThrow(/Unknown refusal disposition/);
    expect(() => new PacketDecoder().push(frame(0, Buffer.alloc(0), MAX_REFUSAL_REASON_LENGTH + 1))).toThrow(
      /exceeds the limit/,
    );
    expect(() => new PacketDecoder().push(frame(0, Buffer.from([0xc3, 0x28])))).toThrow(/not valid UTF-8/);
  });

  test('a gateway never takes a Refusal from a relayer', async () => {
    await startServer({});
    const { reason } = await sendRawBytes(
      socketPath,
      Buffer.concat(
        encodePacket({ tag: PacketTag.REFUSAL, subject: '', disposition: RefusalDisposition.FINAL, reason: 'no' }),
      ),
    );
    expect(reason).toBe('quit:invalid-packet');
  });
});

async function drain(messages: AsyncIterable<{ message: Buffer; ack(): Promise<void> }>): Promise<string[]> {
  const out: string[] = [];
  for await (const message of messages) {
    out.push(message.message.toString());
    await message.ack();
  }
  return out;
}

/** A bare RS-004 peer listening on socketPath: decodes packets and hands them to `onPacket`. */
async function rawGateway(onPacket: (packet: Packet, socket: Socket) => void): Promise<Server> {
  const server = createServer((socket) => {
    const decoder = new PacketDecoder();
    socket.on('data', (chunk: Buffer) => {
      for (const packet of decoder.push(chunk)) {
        if (packet.tag === PacketTag.QUIT) socket.end();
        else onPacket(packet, socket);
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((done) => server.listen(socketPath, done));
  return server;
}
