import * as fs from 'node:fs';
import * as http from 'node:http';

import WebSocket, { WebSocketServer } from 'ws';

import {
  CloseCode,
  HandshakeError,
  MAX_PARCEL_SIZE,
  PoWebSocketConnection,
  PoWebSocketServer,
  UntrustedSocketError,
  checkSocketOwnership,
} from '../src';
import {
  MessageTag,
  decodeOperation,
  encodeChallenge,
  encodeComplete,
  encodeEndpointCertificateResponse,
  encodeParcelDeliveryAck,
  encodeParcelDeliveryComplete,
  encodeParcelDeliveryPrefix,
} from '../src/proto';
import { TestIdentity, capturingLogger, delay, tempSocketPath, testSigner, testVerifier } from './helpers';

const alice = new TestIdentity();
const signAlice = testSigner([{ identity: alice, index: 0 }]);

interface FakeGateway {
  socketPath: string;
  pings: { count: number };
  closes: Array<{ code: number; reason: string }>;
  close(): Promise<void>;
}

const fakes: FakeGateway[] = [];
afterEach(async () => {
  await Promise.all(fakes.splice(0).map((f) => f.close()));
});

/** A scripted gateway: completes the handshake (unless told otherwise), then runs `script`. */
async function fakeGateway(
  script: (ws: WebSocket, next: () => Promise<Buffer>) => void | Promise<void>,
  options: { handshake?: boolean; autoPong?: boolean } = {},
): Promise<FakeGateway> {
  const { socketPath, cleanup } = tempSocketPath();
  const httpServer = http.createServer();
  const wss = new WebSocketServer({ server: httpServer, autoPong: options.autoPong ?? true });
  const pings = { count: 0 };
  const closes: FakeGateway['closes'] = [];
  wss.on('connection', (ws) => {
    const queue: Buffer[] = [];
    const waiters: Array<(b: Buffer) => void> = [];
    ws.on('message', (data: Buffer) => {
      const waiter = waiters.shift();
      if (waiter) waiter(data);
      else queue.push(data);
    });
    ws.on('ping', () => pings.count++);
    ws.on('close', (code, reason) => closes.push({ code, reason: reason.toString() }));
    const next = (): Promise<Buffer> =>
      queue.length > 0 ? Promise.resolve(queue.shift()!) : new Promise((resolve) => waiters.push(resolve));
    void (async () => {
      if (options.handshake ?? true) {
        ws.send(encodeChallenge('nonce'));
        await next();
        ws.send(encodeComplete(true));
      }
      await script(ws, next);
    })();
  });
  await new Promise<void>((resolve) => httpServer.listen(socketPath, resolve));
  const fake = {
    socketPath,
    pings,
    closes,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      wss.close();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
      cleanup();
    },
  };
  fakes.push(fake);
  return fake;
}

function connect(socketPath: string, extra: Partial<Parameters<typeof PoWebSocketConnection.connect>[0]> = {}) {
  return PoWebSocketConnection.connect({ socketPath, sign: signAlice, logger: capturingLogger(), ...extra });
}

function parcelDelivery(id: string, parcel: Buffer): Buffer {
  return Buffer.concat([encodeParcelDeliveryPrefix(id, parcel.length), parcel]);
}

describe('socket checks before connecting', () => {
  test('a socket owned by another user is refused', async () => {
    const fake = await fakeGateway(() => undefined);
    if (process.getuid?.() === 0) {
      fs.chownSync(fake.socketPath, 65534, 65534);
      await expect(connect(fake.socketPath)).rejects.toBeInstanceOf(UntrustedSocketError);
      await expect(connect(fake.socketPath)).rejects.toThrow(/owned by uid 65534/);
    }
    // Whatever the test user, a socket owned by someone outside the trusted list is refused.
    await expect(checkSocketOwnership(fake.socketPath, [123456])).rejects.toBeInstanceOf(UntrustedSocketError);
  });

  test('a regular file or a missing path is refused', async () => {
    const { socketPath, cleanup } = tempSocketPath();
    await expect(connect(socketPath)).rejects.toThrow(/Cannot stat/);
    fs.writeFileSync(socketPath, '');
    await expect(connect(socketPath)).rejects.toThrow(/not a socket/);
    cleanup();
  });
});

describe('a misbehaving gateway', () => {
  test('a parcel pushed before ParcelCollectionRequest: the endpoint closes with 1008', async () => {
    const fake = await fakeGateway((ws) => ws.send(parcelDelivery('p1', Buffer.from('unsolicited'))));
    const connection = await connect(fake.socketPath);
    expect(await connection.closed).toMatchObject({ code: CloseCode.PolicyViolation, local: true });
  });

  test('ParcelDeliveryComplete without a collection request: 1008', async () => {
    const fake = await fakeGateway((ws) => ws.send(encodeParcelDeliveryComplete()));
    const connection = await connect(fake.socketPath);
    expect(await connection.closed).toMatchObject({ code: CloseCode.PolicyViolation });
  });

  test('an unsolicited EndpointCertificateResponse: 1008', async () => {
    const fake = await fakeGateway((ws) =>
      ws.send(encodeEndpointCertificateResponse(Buffer.alloc(1), Buffer.alloc(1))),
    );
    const connection = await connect(fake.socketPath);
    expect(await connection.closed).toMatchObject({ code: CloseCode.PolicyViolation });
  });

  test.each([
    ['unknown tag', Buffer.from([0x09])],
    ['invalid protobuf', Buffer.from([MessageTag.ParcelDelivery, 0xff, 0xff])],
    ['ack for an unknown id', encodeParcelDeliveryAck('nope')],
  ])('%s: the endpoint closes with 1003', async (_name, message) => {
    const fake = await fakeGateway((ws) => ws.send(message));
    const logger = capturingLogger();
    const connection = await connect(fake.socketPath, { logger });
    expect(await connection.closed).toMatchObject({ code: CloseCode.UnsupportedData });
    expect(logger.entries).toContainEqual(
      expect.objectContaining({ level: 'warn', obj: expect.objectContaining({ closeCode: 1003 }) }),
    );
    await delay(20);
    expect(fake.closes).toContainEqual(expect.objectContaining({ code: CloseCode.UnsupportedData }));
  });

  test('an invalid challenge fails connect() with 1003', async () => {
    const fake = await fakeGateway((ws) => ws.send(Buffer.from([0xff, 0xff])), { handshake: false });
    await expect(connect(fake.socketPath)).rejects.toMatchObject({
      name: 'HandshakeError',
      closeCode: CloseCode.UnsupportedData,
    });
  });

  test('Complete{success:false} fails connect()', async () => {
    const fake = await fakeGateway(
      async (ws, next) => {
        ws.send(encodeChallenge('n'));
        await next();
        ws.send(encodeComplete(false));
      },
      { handshake: false },
    );
    await expect(connect(fake.socketPath)).rejects.toBeInstanceOf(HandshakeError);
  });

  test('a gateway that never completes the handshake: connect() fails with 4001', async () => {
    const fake = await fakeGateway(() => undefined, { handshake: false });
    await expect(connect(fake.socketPath, { handshakeTimeoutMs: 100 })).rejects.toMatchObject({
      closeCode: CloseCode.Timeout,
    });
  });

  test('the endpoint pings; a gateway that stops answering is dropped with 4001', async () => {
    const fake = await fakeGateway(() => undefined, { autoPong: false });
    const connection = await connect(fake.socketPath, { pingIntervalMs: 30, idleTimeoutMs: 200 });
    expect(await connection.closed).toMatchObject({ code: CloseCode.Timeout });
    expect(fake.pings.count).toBeGreaterThanOrEqual(3);
  });

  test('a gateway that never acks: deliverParcel fails with 4001 after ackTimeoutMs', async () => {
    const fake = await fakeGateway(() => undefined);
    const connection = await connect(fake.socketPath, { ackTimeoutMs: 100 });
    await expect(connection.deliverParcel(Buffer.from('x'))).rejects.toMatchObject({ code: CloseCode.Timeout });
  });

  test('collected parcels are acked only after onParcel resolves; a failing onParcel closes with 1011 unacked', async () => {
    const acks: string[] = [];
    const fake = await fakeGateway(async (ws, next) => {
      const request = decodeOperation(await next());
      expect(request).toEqual({ tag: MessageTag.ParcelCollectionRequest, message: { keepAlive: false } });
      ws.send(parcelDelivery('d1', Buffer.from('good')));
      ws.send(parcelDelivery('d2', Buffer.from('bad')));
      for (;;) {
        const op = decodeOperation(await next());
        if (op.tag === MessageTag.ParcelDeliveryAck) acks.push(op.message.id);
      }
    });
    const connection = await connect(fake.socketPath);
    const stored: string[] = [];
    const collection = connection.collectParcels({
      onParcel: async (parcel) => {
        await delay(20);
        if (parcel.toString() === 'bad') throw new Error('disk full');
        stored.push(parcel.toString());
      },
    });
    await expect(collection).rejects.toMatchObject({ code: CloseCode.InternalError });
    expect(stored).toEqual(['good']);
    await delay(20);
    expect(acks).toEqual(['d1']);
  });

  test('collectParcels resolves on ParcelDeliveryComplete, after the last ack', async () => {
    const fake = await fakeGateway(async (ws, next) => {
      await next(); // collection request
      ws.send(parcelDelivery('d1', Buffer.from('one')));
      await next(); // ack
      ws.send(encodeParcelDeliveryComplete());
    });
    const connection = await connect(fake.socketPath);
    const stored: string[] = [];
    await connection.collectParcels({ onParcel: async (p) => void stored.push(p.toString()) });
    expect(stored).toEqual(['one']);
    await expect(connection.collectParcels({ onParcel: async () => undefined })).rejects.toThrow(/already requested/);
    await connection.close();
  });
});

describe('endpoint API limits', () => {
  test('a parcel over 9 MiB is refused locally with nothing sent', async () => {
    const received: Buffer[] = [];
    const fake = await fakeGateway(async (_ws, next) => {
      for (;;) received.push(await next());
    });
    const connection = await connect(fake.socketPath);
    await expect(connection.deliverParcel(Buffer.alloc(MAX_PARCEL_SIZE + 1))).rejects.toBeInstanceOf(RangeError);
    await delay(20);
    expect(received).toEqual([]);
    expect(connection.isClosed).toBe(false);
    await connection.close();
  });

  test('an aborted signal stops deliverParcel waiting for a window slot', async () => {
    const fake = await fakeGateway(() => undefined);
    const connection = await connect(fake.socketPath, { window: 1 });
    const first = connection.deliverParcel(Buffer.from('1')).catch((err: unknown) => err);
    const controller = new AbortController();
    const second = connection.deliverParcel(Buffer.from('2'), { signal: controller.signal });
    controller.abort();
    await expect(second).rejects.toMatchObject({ name: 'AbortError' });
    expect(connection.unacknowledgedCount).toBe(1);
    await connection.close();
    expect(await first).toMatchObject({ code: CloseCode.Normal });
  });

  test('an aborted connect() signal closes the connection and rejects', async () => {
    const fake = await fakeGateway(() => undefined, { handshake: false });
    const controller = new AbortController();
    const attempt = connect(fake.socketPath, { signal: controller.signal });
    await delay(30);
    controller.abort();
    await expect(attempt).rejects.toMatchObject({ name: 'AbortError' });
  });

  test('end to end: 9 MiB parcels both ways over a real gateway', async () => {
    const { socketPath, cleanup } = tempSocketPath();
    const big = Buffer.alloc(MAX_PARCEL_SIZE, 0xab);
    const stored: Buffer[] = [];
    let queued = [big];
    const server = await PoWebSocketServer.listen({
      socketPath,
      verify: testVerifier([alice]),
      onParcelDelivered: async (parcel) => void stored.push(parcel),
      parcelSource: async function* () {
        for (const parcel of queued) yield { parcel, ack: async () => void (queued = []) };
      },
      logger: capturingLogger(),
    });
    const connection = await connect(socketPath);
    await connection.deliverParcel(big);
    const collected: Buffer[] = [];
    await connection.collectParcels({ onParcel: async (p) => void collected.push(p) });
    expect(stored[0]!.equals(big)).toBe(true);
    expect(collected[0]!.equals(big)).toBe(true);
    expect(queued).toEqual([]);
    await connection.close();
    await server.close();
    cleanup();
  });
});
