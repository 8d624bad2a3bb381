/**
 * bin/relayer-gateway instances over one PostgreSQL database, as an operator sees them: an outage of the database
 * is one line in the log (not one per request) and makes the instance not ready (GET /healthz, `relayer-gateway
 * health`) until it answers again, without a restart; a courier registration request gets the same answer from
 * every instance; a collection cut off mid-way may be retried once with the same CCA, at another instance.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { CogRPCClient, CourierRegistrationClient } from '@twitter-relaynet/cogrpc';
import { generateRsaKeyPair } from '@twitter-relaynet/core';
import { CoSocketClient } from '@twitter-relaynet/cosocket';
import {
  createCourierRegistrationRequest,
  createMemoryStores,
  INTERNET_QUEUE,
  peerQueue,
  RelayingGateway,
  selfIssueGatewayCertificate,
  UserGateway,
} from '@twitter-relaynet/gateway';
import { openPostgresStores } from '@twitter-relaynet/gateway-postgres';
import {
  createTestDatabase,
  describeWithPostgres,
  runProcess,
  startThrottlingProxy,
  type ThrottlingProxy,
  useTestDatabase,
} from '@twitter-relaynet/test-support';
import pg from 'pg';

import { parcelFromApp } from './userGateway';
import { buildExecutables, type Daemon, readIdentity, REPO, relayerInstance, waitFor } from './world';

const LEASE_MS = 3_000;
const PLAINTEXT = { insecurePlaintextForTests: true } as const;

jest.setTimeout(180_000);

async function drain<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

/** `bin/relayer-gateway health …`: its exit status and what it printed. */
async function healthCommand(args: readonly string[]): Promise<{ status: number | null; stdout: string }> {
  const { status, stdout } = await runProcess(join(REPO, 'bin', 'relayer-gateway'), ['health', ...args]);
  return { status, stdout };
}

describeWithPostgres('relayer-gateway instances, operated', () => {
  const database = useTestDatabase(pg, 'operations_cli');
  let root: string;
  const instances: Daemon[] = [];
  const proxies: ThrottlingProxy[] = [];
  const clients: { close(): void }[] = [];
  let user: UserGateway;
  let userGatewayId: string;

  const dataDir = (index: number) => join(root, `i${index}`, 'relayer-gateway');
  const copyIdentity = (index: number) => {
    mkdirSync(dataDir(index), { recursive: true, mode: 0o700 });
    for (const file of ['identity-key.pem', 'identity-certificate.pem']) {
      copyFileSync(join(dataDir(0), file), join(dataDir(index), file));
    }
  };
  const cogrpcAddress = (index: number) =>
    (JSON.parse(readFileSync(join(dataDir(index), 'cogrpc.json'), 'utf8')) as { address: string }).address;
  const cogrpcClient = (target: string) => {
    const client = new CogRPCClient(target, { tls: PLAINTEXT });
    clients.push(client);
    return client;
  };
  const registrationClient = (index: number) => {
    const client = new CourierRegistrationClient(cogrpcAddress(index), { tls: PLAINTEXT });
    clients.push(client);
    return client;
  };
  const start = async (index: number, databaseUrl = database.current().url, extraArgs: string[] = []) => {
    if (index > 0) copyIdentity(index);
    const instance = relayerInstance(root, index, databaseUrl, LEASE_MS, extraArgs);
    instances[index] = instance;
    await instance.start();
    return instance;
  };
  const withStores = async <T>(
    task: (stores: Awaited<ReturnType<typeof openPostgresStores>>) => Promise<T>,
    url = database.current().url,
  ) => {
    const stores = await openPostgresStores({ connectionString: url, maxConnections: 1 });
    try {
      return await task(stores);
    } finally {
      await stores.close();
    }
  };

  beforeAll(async () => {
    buildExecutables();
    root = mkdtempSync(join(tmpdir(), 'relayer-operations-'));
    await start(0);
    await start(1);
    // The user gateway registers through the library, on the same database and identity.
    const { keyPair, certificate } = readIdentity(dataDir(0));
    await withStores(async (stores) => {
      const registrar = new RelayingGateway({ identity: { privateKey: keyPair.privateKey, certificate }, stores });
      const userKeys = await generateRsaKeyPair();
      const userCertificate = await registrar.registerUserGateway(userKeys.publicKey);
      userGatewayId = userCertificate.calculateSubjectId();
      user = new UserGateway({
        identity: { privateKey: userKeys.privateKey, certificate: userCertificate },
        relayingGateway: { certificate },
        stores: createMemoryStores(),
      });
    });
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    await Promise.all(proxies.map((proxy) => proxy.close()));
    await Promise.all(instances.map((instance) => instance?.stop()));
    if (root) rmSync(root, { recursive: true, force: true });
  });

  test('a courier registration request gets the same answer from both instances, even at the same moment', async () => {
    const keyPair = await generateRsaKeyPair();
    const identity = { keyPair, certificate: await selfIssueGatewayCertificate(keyPair) };
    const atOnce = await createCourierRegistrationRequest(identity);
    const [fromFirst, fromSecond] = await Promise.all([
      registrationClient(0).register(atOnce),
      registrationClient(1).register(atOnce),
    ]);
    expect(fromSecond.equals(fromFirst)).toBe(true);

    // One after the other (a courier that lost the first answer and asks another instance).
    const later = await createCourierRegistrationRequest(identity);
    const first = await registrationClient(1).register(later);
    const again = await registrationClient(0).register(later);
    expect(again.equals(first)).toBe(true);
    expect(first.equals(fromFirst)).toBe(false);
    // Kept in the database, not in either instance's folder.
    await withStores(async (stores) => {
      const { rows } = await stores.pool.query<{ n: string }>('SELECT count(*) AS n FROM courier_answers');
      expect(Number(rows[0].n)).toBe(2);
    });
  });

  test('a collection cut off mid-way: the CCA is served once more, by the other instance, with every cargo; then never again', async () => {
    // Three cargoes' worth for the user gateway (one large parcel each), queued in the shared database.
    const PARCELS = 3;
    await withStores(async (stores) => {
      for (let index = 0; index < PARCELS; index += 1) {
        await stores.parcels.put({
          queue: peerQueue(userGatewayId),
          senderId: '0public-endpoint',
          id: `cut-${index}`,
          recipientId: userGatewayId,
          recipientInternetAddress: null,
          expiryDate: new Date(Date.now() + 3_600_000),
          serialized: Buffer.alloc(5 * 1024 * 1024, index + 1),
        });
      }
    });
    const cca = await user.generateCca();

    // Through a proxy to instance 0: the connection is cut as the first cargo arrives, before any is acknowledged.
    const [host, port] = cogrpcAddress(0).split(':');
    const proxy = await startThrottlingProxy({ target: { host, port: Number(port) } });
    proxies.push(proxy);
    let received = 0;
    const cut = await cogrpcClient(proxy.address).collectCargo(cca, {
      onCargo: async () => {
        received += 1;
        proxy.cut();
        throw new Error('connection cut');
      },
    });
    expect(received).toBeGreaterThanOrEqual(1);
    expect(cut.collected).toBe(0);
    await waitFor(
      'instance 0 to see the collection cut off',
      () => instances[0].logs().some((line) => line.msg === 'CCA collection cut off: it may be presented once more'),
      30_000,
    );

    // The same CCA at instance 1: served again, whole (the parcels stayed queued).
    const cargoes: Buffer[] = [];
    const retried = await cogrpcClient(cogrpcAddress(1)).collectCargo(cca, {
      onCargo: async (cargo) => void cargoes.push(cargo),
    });
    expect(retried.error).toBeUndefined();
    expect(cargoes).toHaveLength(PARCELS);
    expect(
      instances[1].logs().filter((line) => line.msg === 'CCA accepted again: its first collection was cut off'),
    ).toHaveLength(1);

    // A third time, at either instance: refused as reused (PERMISSION_DENIED), nothing handed out.
    for (const index of [0, 1]) {
      let handedOut = 0;
      const refused = await cogrpcClient(cogrpcAddress(index)).collectCargo(cca, {
        onCargo: async () => void (handedOut += 1),
      });
      expect(handedOut).toBe(0);
      expect(refused.error?.message).toMatch(/PERMISSION_DENIED|reused/);
    }

    // A collection that completes spends its CCA at once: no retry.
    const whole = await user.generateCca();
    const complete = await cogrpcClient(cogrpcAddress(0)).collectCargo(whole, { onCargo: async () => undefined });
    expect(complete).toEqual({ collected: PARCELS });
    const reused = await cogrpcClient(cogrpcAddress(1)).collectCargo(whole, { onCargo: async () => undefined });
    expect(reused.collected).toBe(0);
    expect(reused.error?.message).toMatch(/PERMISSION_DENIED|reused/);
  });

  test('database cut off: one log line for the outage and one for its end, every request refused, not ready until it answers', async () => {
    const server = new URL(database.current().url);
    const target = { host: server.hostname, port: Number(server.port || 5432) };
    let proxy = await startThrottlingProxy({ target });
    const viaProxy = new URL(database.current().url);
    viaProxy.host = proxy.address;
    const instance = await start(2, viaProxy.toString(), ['--health-address', '127.0.0.1:0']);
    const healthAddress = /relayer-gateway: health: http:\/\/([^/]+)\/healthz/.exec(instance.stdout)![1];
    const probe = async () => (await fetch(`http://${healthAddress}/healthz`)).status;
    const byFile = () => healthCommand(['--data-root', join(root, 'i2')]);
    const byEndpoint = () => healthCommand(['--data-root', join(root, 'i2'), '--health-address', healthAddress]);
    expect(await probe()).toBe(200);
    expect(await byFile()).toEqual({ status: 0, stdout: expect.stringContaining('ready since') });
    expect((await byEndpoint()).status).toBe(0);

    const courier = cogrpcClient(cogrpcAddress(2));
    const registration = registrationClient(2);
    await user.receiveParcelFromEndpoint(await parcelFromApp(user));
    const [cargo] = await drain(user.generateCargoForRelayingGateway());
    const deliver = () => courier.deliverCargo([{ id: 'c', cargo: cargo.serialized }]);
    const keyPair = await generateRsaKeyPair();
    const request = await createCourierRegistrationRequest({
      keyPair,
      certificate: await selfIssueGatewayCertificate(keyPair),
    });
    const linesSince = (from: number) => instance.logs().slice(from);
    const before = instance.logs().length;

    // The cable is cut and nothing listens any more: every request is refused, UNAVAILABLE, and nothing acknowledged.
    proxy.cut();
    await proxy.close();
    const outcomes: { acked: number; error: string | undefined }[] = [];
    for (let round = 0; round < 3; round += 1) {
      const delivery = await deliver();
      outcomes.push({ acked: delivery.acked.length, error: delivery.error?.message });
      const collection = await courier.collectCargo(await user.generateCca(), { onCargo: async () => undefined });
      outcomes.push({ acked: collection.collected, error: collection.error?.message });
      const registered = await registration.register(request).then(
        () => ({ acked: 1, error: undefined }),
        (error: Error) => ({ acked: 0, error: error.message }),
      );
      outcomes.push(registered);
      // The same cargo over the instance's CoSocket (the relay on the server's own machine).
      const local = await CoSocketClient.connect(join(dataDir(2), 'cosocket.sock'));
      const overCoSocket = await local.deliverCargo([{ id: 'c', cargo: cargo.serialized }]);
      await local.close();
      outcomes.push({ acked: overCoSocket.acked.length, error: overCoSocket.error?.message });
    }
    // health.json is rewritten just after the endpoint's state changes: wait for both.
    await waitFor('GET /healthz to answer 503', async () => (await probe()) === 503, 30_000);
    await waitFor('health.json to say not ready', async () => (await byFile()).status === 1, 30_000);
    const notReady = await byFile();
    expect(notReady.status).toBe(1);
    expect(notReady.stdout).toMatch(/not ready since .*: PostgreSQL unreachable/);
    expect((await byEndpoint()).status).toBe(1);

    // Twelve requests, one line: no line per request about the outage (error or warning), only the stores' own.
    const duringOutage = linesSince(before);
    expect(duringOutage.filter((line) => line.msg.startsWith('PostgreSQL unreachable'))).toHaveLength(1);
    const perRequest = duringOutage.filter(
      (line) =>
        (line.level === 'error' || line.level === 'warn') &&
        !line.msg.startsWith('PostgreSQL unreachable') &&
        !line.msg.startsWith('PostgreSQL notification connection lost'),
    );
    expect(perRequest.map((line) => line.msg)).toEqual([]);
    for (const outcome of outcomes) {
      expect(outcome).toEqual({
        acked: 0,
        error: expect.stringMatching(/UNAVAILABLE|[Dd]atabase unreachable|Peer quit: internal-error/),
      });
    }

    // The database is back on the same address: the same process (never restarted) is ready and takes the cargo.
    proxy = await startThrottlingProxy({ target, listen: { host: '127.0.0.1', port: Number(viaProxy.port) } });
    proxies.push(proxy);
    await waitFor('GET /healthz to answer 200', async () => (await probe()) === 200, 30_000, 100);
    await waitFor('health.json to say ready', async () => (await byFile()).status === 0, 30_000);
    expect(await byFile()).toEqual({ status: 0, stdout: expect.stringContaining('ready since') });
    expect((await byEndpoint()).status).toBe(0);
    expect((await deliver()).acked).toEqual(['c']);
    const after = linesSince(before);
    expect(after.filter((line) => line.msg.startsWith('PostgreSQL unreachable'))).toHaveLength(1);
    expect(after.filter((line) => line.msg === 'PostgreSQL answers again')).toHaveLength(1);
    expect(instance.running).toBe(true);
  });
  test('an instance that starts leaves the delivery leases of the live instances alone', async () => {
    // A database of its own, so that no running instance takes the parcel meanwhile.
    const own = await createTestDatabase(pg, 'operations_leases');
    try {
      const leaseUntil = new Date(Date.now() + 3_600_000);
      await withStores(async (stores) => {
        await stores.parcels.put({
          queue: INTERNET_QUEUE,
          senderId: '0sender',
          id: 'leased',
          recipientId: '0endpoint',
          recipientInternetAddress: 'endpoint.example',
          expiryDate: new Date(Date.now() + 7_200_000),
          serialized: Buffer.from('claimed by a live instance'),
        });
        const claimed = await stores.parcels.claimDue(INTERNET_QUEUE, new Date(), leaseUntil, 10);
        expect(claimed.map((parcel) => parcel.id)).toEqual(['leased']);
      }, own.url);
      const instance = await start(3, own.url);
      expect(instance.running).toBe(true);
      // Its start is over once it is ready: a release there would have made the parcel due (and claimed again).
      const parcel = await withStores(
        (stores) => stores.parcels.get({ queue: INTERNET_QUEUE, senderId: '0sender', id: 'leased' }),
        own.url,
      );
      expect(parcel).toMatchObject({ attempts: 1, nextAttemptDate: leaseUntil });
      await instance.stop();
    } finally {
      await own.drop();
    }
  });
});
