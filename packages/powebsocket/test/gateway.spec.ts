import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';

import {
  CloseCode,
  ConnectionClosedError,
  type OutgoingParcel,
  type ParcelDeliveryDeauthorization,
  PoWebSocketConnection,
  PoWebSocketServer,
  type PoWebSocketServerOptions,
  RegistrationRefusedError,
  HandshakeError,
} from '../src';
import {
  MAX_PARCEL_SIZE,
  MessageTag,
  decodeChallenge,
  decodeOperation,
  encodeResponse,
  encodeParcelCollectionRequest,
  encodeParcelDeliveryAck,
  encodeParcelDeliveryComplete,
  encodeParcelDeliveryDeauthorization,
  encodeParcelDeliveryPrefix,
  encodeEndpointCertificateRequest,
  encodeEndpointCertificateResponse,
} from '../src/proto';
import {
  TestIdentity,
  capturingLogger,
  delay,
  rawExchange,
  rawWsClient,
  tempSocketPath,
  testSigner,
  testVerifier,
  wsFrame,
} from './helpers';

const alice = new TestIdentity();
const bob = new TestIdentity();
const carol = new TestIdentity();
const issued = [alice, bob, carol];

/** An in-memory parcel queue per endpoint id, with acks/nacks recorded. */
class ParcelQueue {
  readonly queued = new Map<string, Buffer[]>();
  readonly acked: Buffer[] = [];
  readonly nacked: Buffer[] = [];
  readonly sourceCalls: Array<{ ids: readonly string[]; keepAlive: boolean }> = [];
  pulled = 0;
  private waiters: Array<() => void> = [];

  add(id: string, parcel: Buffer): void {
    this.queued.set(id, [...(this.queued.get(id) ?? []), parcel]);
    this.waiters.splice(0).forEach((wake) => wake());
  }

  readonly source = (
    ids: readonly string[],
    signal: AbortSignal,
    { keepAlive }: { keepAlive: boolean },
  ): AsyncIterable<OutgoingParcel> => {
    this.sourceCalls.push({ ids, keepAlive });
    // An async generator cannot be an arrow function, so it reaches the fake through `self`.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    return (async function* () {
      for (;;) {
        const id = ids.find((candidate) => (self.queued.get(candidate) ?? []).length > 0);
        if (id) {
          const parcel = self.queued.get(id)!.shift()!;
          self.pulled++;
          yield {
            parcel,
            ack: async () => {
              self.acked.push(parcel);
            },
            nack: () => {
              self.nacked.push(parcel);
            },
          };
          continue;
        }
        if (!keepAlive || signal.aborted) return;
        await new Promise<void>((resolve) => {
          self.waiters.push(resolve);
          signal.addEventListener('abort', () => resolve(), { once: true });
        });
      }
    })();
  };
}

interface Harness {
  server: PoWebSocketServer;
  socketPath: string;
  queue: ParcelQueue;
  stored: Array<{ parcel: Buffer; ids: readonly string[] }>;
  logger: ReturnType<typeof capturingLogger>;
  cleanup(): Promise<void>;
}

const harnesses: Harness[] = [];

async function startGateway(overrides: Partial<PoWebSocketServerOptions> = {}): Promise<Harness> {
  const { socketPath, cleanup } = tempSocketPath();
  const queue = new ParcelQueue();
  const stored: Harness['stored'] = [];
  const logger = capturingLogger();
  const server = await PoWebSocketServer.listen({
    socketPath,
    verify: testVerifier(issued),
    onParcelDelivered: async (parcel, ids) => {
      stored.push({ parcel, ids });
    },
    parcelSource: queue.source,
    logger,
    pingIntervalMs: 1_000,
    ...overrides,
  });
  const harness = {
    server,
    socketPath: overrides.socketPath ?? socketPath,
    queue,
    stored,
    logger,
    cleanup: async () => {
      await server.close();
      cleanup();
    },
  };
  harnesses.push(harness);
  return harness;
}

afterEach(async () => {
  await Promise.all(harnesses.splice(0).map((h) => h.cleanup()));
});

const signAlice = testSigner([{ identity: alice, index: 0 }]);

function connect(
  h: Harness,
  sign = signAlice,
  extra: Partial<Parameters<typeof PoWebSocketConnection.connect>[0]> = {},
) {
  return PoWebSocketConnection.connect({ socketPath: h.socketPath, sign, logger: capturingLogger(), ...extra });
}

function expectCloseLogged(h: Harness, code: number): void {
  expect(h.logger.entries).toContainEqual(
    expect.objectContaining({
      msg: 'Closing PoWebSocket connection',
      obj: expect.objectContaining({ closeCode: code }),
    }),
  );
}

describe('listening', () => {
  test('the socket file is owner-only (0600)', async () => {
    const h = await startGateway();
    expect(fs.statSync(h.socketPath).mode & 0o777).toBe(0o600);
    expect(fs.statSync(h.socketPath).isSocket()).toBe(true);
  });

  test('a stale socket file is replaced; a live one or a regular file is refused', async () => {
    const h = await startGateway();
    await expect(startGateway({ socketPath: h.socketPath })).rejects.toThrow(/in use/);
    const regular = `${h.socketPath}.txt`;
    fs.writeFileSync(regular, 'x');
    await expect(startGateway({ socketPath: regular })).rejects.toThrow(/not a socket/);
    // Simulate a crash: the socket file stays behind with nobody listening.
    const stale = `${h.socketPath}.stale`;
    // A process that dies while listening leaves its socket file behind.
    const child = spawnSync(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, 'SIGKILL'))`,
    ]);
    expect(child.signal).toBe('SIGKILL');
    expect(fs.statSync(stale).isSocket()).toBe(true);
    const replacement = await startGateway({ socketPath: stale });
    const connection = await connect(replacement);
    await connection.deliverParcel(Buffer.from('after stale'));
    await connection.close();
    expect(replacement.stored).toHaveLength(1);
  });

  test('a plain HTTP request is answered 426', async () => {
    const h = await startGateway();
    const outcome = await rawExchange(h.socketPath, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), {
      upgrade: false,
    });
    expect(outcome.reason).toBe('http:426');
  });

  test('garbage instead of an HTTP request gets 400 and the connection ends', async () => {
    const h = await startGateway();
    const outcome = await rawExchange(h.socketPath, Buffer.from([0x16, 0x03, 0x01, 0xff, 0x00, 0x13, 0x37]), {
      upgrade: false,
    });
    expect(outcome.reason).toBe('http:400');
  });

  test('close() ends open connections with 1001', async () => {
    const h = await startGateway();
    const connection = await connect(h);
    await h.server.close();
    expect(await connection.closed).toMatchObject({ code: CloseCode.GoingAway });
  });
});

describe('handshake', () => {
  test('every identity claimed is verified and bound to the connection', async () => {
    const h = await startGateway();
    const connection = await connect(
      h,
      testSigner([
        { identity: alice, index: 0 },
        { identity: bob, index: 1 },
      ]),
    );
    await connection.deliverParcel(Buffer.from('p'));
    expect(h.stored).toEqual([{ parcel: Buffer.from('p'), ids: [alice.id, bob.id] }]);
    await connection.close();
  });

  test('one bad signature among good ones fails the handshake with 1003', async () => {
    const h = await startGateway();
    const sign = async (nonce: Buffer) => [alice.signWith(0, nonce), bob.signWith(0, nonce)]; // bob signs as alice
    await expect(connect(h, sign)).rejects.toMatchObject({
      name: 'HandshakeError',
      closeCode: CloseCode.UnsupportedData,
    });
    expectCloseLogged(h, CloseCode.UnsupportedData);
  });

  test('a verifier that does not vouch for every signature fails the handshake with 1003', async () => {
    const h = await startGateway({ verify: async () => [alice.id] });
    const sign = testSigner([
      { identity: alice, index: 0 },
      { identity: bob, index: 1 },
    ]);
    await expect(connect(h, sign)).rejects.toMatchObject({ closeCode: CloseCode.UnsupportedData });
  });

  test('too many identities is a policy violation (1008)', async () => {
    const h = await startGateway({ maxIdentities: 2 });
    const sign = testSigner([0, 1, 2].map((index) => ({ identity: issued[index]!, index })));
    await expect(connect(h, sign)).rejects.toMatchObject({ closeCode: CloseCode.PolicyViolation });
  });

  test('an endpoint that never answers the challenge is dropped with 4001', async () => {
    const h = await startGateway({ handshakeTimeoutMs: 150 });
    const client = await rawWsClient(h.socketPath);
    const started = Date.now();
    expect(await client.closed).toMatchObject({ code: CloseCode.Timeout });
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    expectCloseLogged(h, CloseCode.Timeout);
  });

  test('a tagged operation sent while the signatures are being verified is refused with 1008', async () => {
    let release: (() => void) | undefined;
    const h = await startGateway({
      verify: async (nonce, signatures) => {
        await new Promise<void>((resolve) => (release = resolve));
        return testVerifier(issued)(nonce, signatures);
      },
    });
    const client = await rawWsClient(h.socketPath);
    const nonce = decodeChallenge(await client.next());
    client.ws.send(encodeResponse(await signAlice(Buffer.from(nonce))));
    client.ws.send(encodeParcelCollectionRequest(false));
    expect(await client.closed).toMatchObject({ code: CloseCode.PolicyViolation });
    release?.();
  });
});

describe('malformed input after the handshake ends that connection only', () => {
  const cases: Array<[string, (h: Harness) => Buffer | string, number]> = [
    ['unknown tag 0x07', () => Buffer.from([0x07, 0x0a, 0x00]), CloseCode.UnsupportedData],
    ['unknown tag 0xff', () => Buffer.from([0xff]), CloseCode.UnsupportedData],
    ['empty message (no tag)', () => Buffer.alloc(0), CloseCode.UnsupportedData],
    [
      'invalid protobuf after a valid tag',
      () => Buffer.from([MessageTag.ParcelDeliveryAck, 0x0a, 0x05, 0x41]),
      CloseCode.UnsupportedData,
    ],
    ['text frame', () => 'hello', CloseCode.UnsupportedData],
    ['ack for a delivery id never sent', () => encodeParcelDeliveryAck('no-such-delivery'), CloseCode.UnsupportedData],
    [
      'ParcelDelivery without id',
      () => Buffer.concat([encodeParcelDeliveryPrefix('', 1), Buffer.from('x')]),
      CloseCode.UnsupportedData,
    ],
    ['ParcelDeliveryComplete from the endpoint', () => encodeParcelDeliveryComplete(), CloseCode.PolicyViolation],
    [
      'EndpointCertificateResponse from the endpoint',
      () => encodeEndpointCertificateResponse(Buffer.from('c'), Buffer.from('g')),
      CloseCode.PolicyViolation,
    ],
    [
      'deauthorization for an endpoint not authenticated here',
      () => encodeParcelDeliveryDeauthorization({ id: 'd1', endpointAddress: bob.id, pdaSerialNumbers: ['01'] }),
      CloseCode.PolicyViolation,
    ],
    [
      'a parcel over 9 MiB in a frame within maxPayload',
      () => Buffer.concat([encodeParcelDeliveryPrefix('big', MAX_PARCEL_SIZE + 1), Buffer.alloc(MAX_PARCEL_SIZE + 1)]),
      CloseCode.MessageTooBig,
    ],
  ];

  test.each(cases)('%s', async (_name, message, code) => {
    const h = await startGateway();
    const good = await connect(h);
    const bad = await rawWsClient(h.socketPath, { sign: signAlice });
    bad.ws.send(message(h));
    expect(await bad.closed).toMatchObject({ code });
    expectCloseLogged(h, code);
    // The other connection is still served.
    await good.deliverParcel(Buffer.from('still served'));
    expect(h.stored.map((s) => s.parcel.toString())).toEqual(['still served']);
    await good.close();
  });

  test('a frame over maxPayload is refused by ws with 1009 and logged', async () => {
    const h = await startGateway();
    const bad = await rawWsClient(h.socketPath, { sign: signAlice });
    bad.ws.send(Buffer.alloc(MAX_PARCEL_SIZE + 2048));
    expect(await bad.closed).toMatchObject({ code: CloseCode.MessageTooBig });
    expect(h.logger.entries).toContainEqual(
      expect.objectContaining({ level: 'warn', obj: expect.objectContaining({ closeCode: 1009 }) }),
    );
  });

  test('a second ParcelCollectionRequest is refused with 1008', async () => {
    const h = await startGateway();
    const bad = await rawWsClient(h.socketPath, { sign: signAlice });
    bad.ws.send(encodeParcelCollectionRequest(true));
    bad.ws.send(encodeParcelCollectionRequest(true));
    expect(await bad.closed).toMatchObject({ code: CloseCode.PolicyViolation });
  });

  test('more unacknowledged deliveries than the window is refused with 1008', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const h = await startGateway({ window: 2, onParcelDelivered: () => gate });
    const bad = await rawWsClient(h.socketPath, { sign: signAlice });
    for (const id of ['a', 'b', 'c']) bad.ws.send(Buffer.concat([encodeParcelDeliveryPrefix(id, 1), Buffer.from('x')]));
    expect(await bad.closed).toMatchObject({ code: CloseCode.PolicyViolation });
    release();
  });
});

describe('parcels from the endpoint', () => {
  test('the ack goes out only after the handler resolves; a failing handler closes with 1011, unacked', async () => {
    let release!: () => void;
    let calls = 0;
    const h = await startGateway({
      onParcelDelivered: async (parcel) => {
        calls++;
        if (parcel.toString() === 'fail') throw new Error('disk full');
        await new Promise<void>((resolve) => (release = resolve));
      },
    });
    const connection = await connect(h);
    let acked = false;
    const delivery = connection.deliverParcel(Buffer.from('slow')).then(() => (acked = true));
    while (calls === 0) await delay(5);
    await delay(50);
    expect(acked).toBe(false);
    release();
    await delivery;
    expect(acked).toBe(true);

    await expect(connection.deliverParcel(Buffer.from('fail'))).rejects.toMatchObject({
      code: CloseCode.InternalError,
    });
    expect(h.logger.entries).toContainEqual(
      expect.objectContaining({ level: 'error', obj: expect.objectContaining({ closeCode: 1011 }) }),
    );
  });

  test('deliverParcels reports every unacknowledged parcel when the gateway goes away', async () => {
    let storedCount = 0;
    const h = await startGateway({
      onParcelDelivered: async () => {
        storedCount++;
        if (storedCount >= 2) await new Promise(() => undefined); // never completes
      },
    });
    const connection = await connect(h);
    const parcels = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => ({ id: `d${i}`, parcel: Buffer.from(`parcel ${i}`) }));
    const acks: string[] = [];
    const delivery = connection.deliverParcels(parcels, { onAck: (id) => acks.push(id) });
    // d0 acked, then a whole window (d1…d5) handled at once and stuck.
    while (storedCount < 6) await delay(5);
    void h.server.close();
    const report = await delivery;

    expect(report.error).toBeInstanceOf(ConnectionClosedError);
    expect(report.acked).toEqual(['d0']);
    expect(acks).toEqual(['d0']);
    // Pulled lazily (window 5), in order, each either acked or reported with its octets.
    expect(report.unacked).toEqual(parcels.slice(1, 6));
  });

  test("a window's deliveries are handled together, each acked as soon as its own handler resolved", async () => {
    const releases = new Map<string, () => void>();
    const h = await startGateway({
      onParcelDelivered: (parcel) => new Promise<void>((resolve) => releases.set(parcel.toString(), resolve)),
    });
    const connection = await connect(h);
    const parcels = [0, 1, 2].map((i) => ({ id: `d${i}`, parcel: Buffer.from(`parcel ${i}`) }));
    const acks: string[] = [];
    const delivery = connection.deliverParcels(parcels, { onAck: (id) => acks.push(id) });
    // All three handlers run while none has resolved (one at a time, only the first would).
    while (releases.size < 3) await delay(5);
    releases.get('parcel 2')!();
    while (acks.length < 1) await delay(5);
    expect(acks).toEqual(['d2']);
    releases.get('parcel 0')!();
    releases.get('parcel 1')!();
    const report = await delivery;

    expect(report.error).toBeUndefined();
    expect([...report.acked].sort()).toEqual(['d0', 'd1', 'd2']);
  });

  test('the endpoint handles the parcels it collects together too: a slow first one does not hold the next', async () => {
    const h = await startGateway();
    h.queue.add(alice.id, Buffer.from('one'));
    h.queue.add(alice.id, Buffer.from('two'));
    const connection = await connect(h);
    const handled: string[] = [];
    let releaseFirst!: () => void;
    await connection.collectParcels({
      onParcel: async (parcel) => {
        if (parcel.toString() === 'one') await new Promise<void>((resolve) => (releaseFirst = resolve));
        handled.push(parcel.toString());
        if (handled.length === 1) releaseFirst();
      },
    });
    expect(handled).toEqual(['two', 'one']);
  });

  test('a deauthorization is stored then acknowledged; its fields survive the wire', async () => {
    const received: Array<{ pdd: ParcelDeliveryDeauthorization; ids: readonly string[] }> = [];
    const h = await startGateway({
      onDeauthorization: async (pdd, ids) => {
        received.push({ pdd, ids });
      },
    });
    const connection = await connect(h);
    const expiry = new Date('2030-01-02T03:04:05.678Z');
    await connection.deauthorize({ endpointAddress: alice.id, pdaSerialNumbers: ['0a', '0b'], expiry });
    expect(received).toEqual([
      { pdd: { endpointAddress: alice.id, pdaSerialNumbers: ['0a', '0b'], expiry }, ids: [alice.id] },
    ]);
    await connection.close();
  });

  test('without a deauthorization handler the PDD is acknowledged as refused and logged', async () => {
    const h = await startGateway();
    const connection = await connect(h);
    await connection.deauthorize({ endpointAddress: alice.id, pdaSerialNumbers: [] });
    expect(h.logger.entries).toContainEqual(
      expect.objectContaining({ level: 'warn', msg: expect.stringMatching(/PDD refused/) }),
    );
    await connection.close();
  });
});

describe('parcels to the endpoint', () => {
  test("nothing is pushed (or even pulled) before ParcelCollectionRequest; then only the bound endpoints' parcels", async () => {
    const h = await startGateway();
    h.queue.add(alice.id, Buffer.from('for alice'));
    h.queue.add(carol.id, Buffer.from('for carol'));
    h.queue.add(bob.id, Buffer.from('for bob'));
    const client = await rawWsClient(h.socketPath, {
      sign: testSigner([
        { identity: alice, index: 0 },
        { identity: bob, index: 1 },
      ]),
    });
    const early: Buffer[] = [];
    client.ws.on('message', (data: Buffer) => early.push(data));
    await delay(100);
    expect(early).toEqual([]);
    expect(h.queue.sourceCalls).toEqual([]);
    client.ws.removeAllListeners('message');
    client.ws.on('message', () => undefined);

    const connection = await connect(
      h,
      testSigner([
        { identity: alice, index: 0 },
        { identity: bob, index: 1 },
      ]),
    );
    const collected: string[] = [];
    await connection.collectParcels({
      onParcel: async (parcel) => {
        collected.push(parcel.toString());
      },
    });
    expect(collected).toEqual(['for alice', 'for bob']);
    expect(h.queue.sourceCalls).toEqual([{ ids: [alice.id, bob.id], keepAlive: false }]);
    expect(h.queue.acked.map(String)).toEqual(['for alice', 'for bob']);
    expect(h.queue.queued.get(carol.id)!.map(String)).toEqual(['for carol']);
    await connection.close();
    client.ws.close();
  });

  test('a slow endpoint slows the source: at most `window` parcels pulled ahead of the acks', async () => {
    const h = await startGateway({ window: 3 });
    for (let i = 0; i < 12; i++) h.queue.add(alice.id, Buffer.from(`p${i}`));
    const connection = await connect(h, signAlice, { window: 3 });
    let maxAhead = 0;
    const collected: string[] = [];
    await connection.collectParcels({
      onParcel: async (parcel) => {
        maxAhead = Math.max(maxAhead, h.queue.pulled - h.queue.acked.length);
        await delay(5);
        collected.push(parcel.toString());
      },
    });
    expect(collected).toEqual(Array.from({ length: 12 }, (_, i) => `p${i}`));
    expect(maxAhead).toBeLessThanOrEqual(3);
    expect(h.queue.nacked).toEqual([]);
    await connection.close();
  });

  test('keep-alive: new parcels are pushed as they arrive; aborting closes with 1000 and nacks nothing acked', async () => {
    const h = await startGateway();
    const connection = await connect(h);
    const controller = new AbortController();
    const collected: string[] = [];
    const collection = connection.collectParcels({
      keepAlive: true,
      signal: controller.signal,
      onParcel: async (parcel) => {
        collected.push(parcel.toString());
      },
    });
    h.queue.add(alice.id, Buffer.from('first'));
    while (h.queue.acked.length < 1) await delay(5);
    h.queue.add(alice.id, Buffer.from('second'));
    while (h.queue.acked.length < 2) await delay(5);
    controller.abort();
    await collection;
    expect(collected).toEqual(['first', 'second']);
    expect(await connection.closed).toMatchObject({ code: CloseCode.Normal, local: true });
    expect(h.queue.sourceCalls[0]!.keepAlive).toBe(true);
  });

  test('an endpoint that never acknowledges is dropped (4001) and the parcels are handed back (nack)', async () => {
    const h = await startGateway({ ackTimeoutMs: 150 });
    h.queue.add(alice.id, Buffer.from('one'));
    h.queue.add(alice.id, Buffer.from('two'));
    const client = await rawWsClient(h.socketPath, { sign: signAlice });
    client.ws.send(encodeParcelCollectionRequest(false));
    const first = decodeOperation(await client.next());
    expect(first.tag).toBe(MessageTag.ParcelDelivery);
    expect(await client.closed).toMatchObject({ code: CloseCode.Timeout });
    await delay(10);
    expect(h.queue.acked).toEqual([]);
    expect(h.queue.nacked.map(String).sort()).toEqual(['one', 'two']);
  });

  test('a failing parcel source closes with 1011', async () => {
    const h = await startGateway({
      parcelSource: () =>
        // eslint-disable-next-line require-yield -- a source that fails before its first parcel
        (async function* (): AsyncGenerator<OutgoingParcel> {
          throw new Error('queue corrupted');
        })(),
    });
    const connection = await connect(h);
    await expect(connection.collectParcels({ onParcel: async () => undefined })).rejects.toMatchObject({
      code: CloseCode.InternalError,
    });
  });
});

describe('liveness', () => {
  test('the gateway pings; an endpoint that stops answering pings is dropped with 4001', async () => {
    const h = await startGateway({ pingIntervalMs: 30, idleTimeoutMs: 200 });
    const client = await rawWsClient(h.socketPath, { sign: signAlice, autoPong: false });
    const started = Date.now();
    expect(await client.closed).toMatchObject({ code: CloseCode.Timeout });
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(client.pings.count).toBeGreaterThanOrEqual(3);
  });

  test('a responsive endpoint is not dropped by the idle timeout', async () => {
    // Three idle periods of pings and pongs; 500 ms rather than 100, so that a busy machine's pauses are not silence.
    const h = await startGateway({ pingIntervalMs: 100, idleTimeoutMs: 500 });
    const client = await rawWsClient(h.socketPath, { sign: signAlice });
    await delay(1_500);
    expect(client.ws.readyState).toBe(client.ws.OPEN);
    client.ws.close(1000);
  });

  test('the maximum connection time closes with 4000', async () => {
    const h = await startGateway({ maxConnectionMs: 100 });
    const connection = await connect(h);
    expect(await connection.closed).toMatchObject({ code: CloseCode.RetryNow });
  });
});

describe('registration (EndpointCertificateRequest/Response)', () => {
  const spki = alice.publicKey.export({ format: 'der', type: 'spki' });

  test('a registration-only connection gets both certificates and closes with 1000', async () => {
    const requests: Buffer[] = [];
    const h = await startGateway({
      issueEndpointCertificate: async (publicKey) => {
        requests.push(publicKey);
        return { endpointCertificate: Buffer.from('endpoint cert'), gatewayCertificate: Buffer.from('gateway cert') };
      },
    });
    const registration = await PoWebSocketConnection.register({
      socketPath: h.socketPath,
      publicKey: spki,
      logger: capturingLogger(),
    });
    expect(registration).toEqual({
      endpointCertificate: Buffer.from('endpoint cert'),
      gatewayCertificate: Buffer.from('gateway cert'),
    });
    expect(requests).toEqual([spki]);
    while (h.server.connectionCount > 0) await delay(5);
  });

  test.each([
    ['not offered', undefined, spki, CloseCode.PolicyViolation],
    [
      'refused by the gateway',
      async () => Promise.reject(new RegistrationRefusedError('quota')),
      spki,
      CloseCode.PolicyViolation,
    ],
    [
      'not a DER SPKI',
      async () => ({ endpointCertificate: Buffer.alloc(1), gatewayCertificate: Buffer.alloc(1) }),
      Buffer.from('junk'),
      CloseCode.UnsupportedData,
    ],
    ['issuer crashed', async () => Promise.reject(new Error('HSM offline')), spki, CloseCode.InternalError],
  ] as const)('registration %s closes with its code', async (_name, issue, publicKey, code) => {
    const h = await startGateway(issue ? { issueEndpointCertificate: issue } : {});
    const attempt = PoWebSocketConnection.register({ socketPath: h.socketPath, publicKey, logger: capturingLogger() });
    await expect(attempt).rejects.toBeInstanceOf(HandshakeError);
    await expect(attempt).rejects.toMatchObject({ closeCode: code });
    expectCloseLogged(h, code);
  });

  test('registration is also accepted after the handshake', async () => {
    const h = await startGateway({
      issueEndpointCertificate: async () => ({
        endpointCertificate: Buffer.from('e'),
        gatewayCertificate: Buffer.from('g'),
      }),
    });
    const client = await rawWsClient(h.socketPath, { sign: signAlice });
    client.ws.send(encodeEndpointCertificateRequest(spki));
    const response = decodeOperation(await client.next());
    expect(response).toEqual({
      tag: MessageTag.EndpointCertificateResponse,
      message: { certificate: Buffer.from('e'), gatewayCertificate: Buffer.from('g') },
    });
    client.ws.close(1000);
  });
});

test('ConnectionClosedError carries the code', () => {
  expect(new ConnectionClosedError(1011, 'x')).toMatchObject({ code: 1011, reason: 'x' });
});

test('wsFrame helper frames what ws accepts', async () => {
  const h = await startGateway();
  // A valid (masked) frame carrying a bad handshake response: proves the raw framing is right.
  const outcome = await rawExchange(h.socketPath, wsFrame(0x2, Buffer.from([0x0a, 0x01, 0x00])));
  expect(outcome.reason).toBe('close:1003');
});
