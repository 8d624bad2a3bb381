import pg from 'pg';
/**
 * bin/relayer-gateway processes over one PostgreSQL database, sharing one identity (the key and certificate
 * files copied from the first, as the README says): a courier's CCA presented to three of them at the same
 * moment is served by exactly one; one whose database becomes unreachable acknowledges nothing, says so once,
 * and recovers by itself.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { CogRPCClient as ReferenceClient } from '@relaycorp/cogrpc';
import { generateRsaKeyPair, Parcel } from '@twitter-relaynet/core';
import { createPogRPCServer, type PogRPCServer } from '@twitter-relaynet/pogrpc';
import { createMemoryStores, RelayingGateway, UserGateway } from '@twitter-relaynet/gateway';
import { openPostgresStores } from '@twitter-relaynet/gateway-postgres';
import {
  describeWithPostgres,
  startThrottlingProxy,
  type ThrottlingProxy,
  useTestDatabase,
} from '@twitter-relaynet/test-support';

import { parcelFromApp, parcelsFromApp, PUBLIC_ADDRESS } from './userGateway';
import { buildExecutables, Daemon, readIdentity, relayerInstance, waitFor } from './world';

const ROUNDS = 100;
/** Short, so that a killed instance's parcels are taken over within the test. */
const LEASE_MS = 3_000;

jest.setTimeout(120_000);

async function drain<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

describeWithPostgres('three relayer-gateway processes over one database', () => {
  const database = useTestDatabase(pg, 'instances_cli');
  let root: string;
  const instances: Daemon[] = [];
  const clients: ReferenceClient[] = [];
  let user: UserGateway;
  let proxy: ThrottlingProxy | null = null;
  let sink: PogRPCServer | null = null;

  const dataDir = (index: number) => join(root, `i${index}`, 'relayer-gateway');
  const daemon = (index: number, databaseUrl = database.current().url) =>
    relayerInstance(root, index, databaseUrl, LEASE_MS);
  const copyIdentity = (index: number) => {
    mkdirSync(dataDir(index), { recursive: true, mode: 0o700 });
    for (const file of ['identity-key.pem', 'identity-certificate.pem']) {
      copyFileSync(join(dataDir(0), file), join(dataDir(index), file));
    }
  };
  const cogrpcClient = (index: number) => {
    const { address } = JSON.parse(readFileSync(join(dataDir(index), 'cogrpc.json'), 'utf8')) as { address: string };
    return ReferenceClient.initLocalhost(Number(address.split(':')[1]));
  };

  beforeAll(async () => {
    buildExecutables();
    root = mkdtempSync(join(tmpdir(), 'relayer-instances-'));
    instances.push(daemon(0));
    await instances[0].start();
    for (const index of [1, 2]) {
      copyIdentity(index);
      instances.push(daemon(index));
    }
    await Promise.all(instances.slice(1).map((instance) => instance.start()));

    // The user gateway registers (through the library, on the same database and identity).
    const { keyPair, certificate } = readIdentity(dataDir(0));
    const stores = await openPostgresStores({ connectionString: database.current().url, maxConnections: 1 });
    try {
      const registrar = new RelayingGateway({ identity: { privateKey: keyPair.privateKey, certificate }, stores });
      const userKeys = await generateRsaKeyPair();
      user = new UserGateway({
        identity: {
          privateKey: userKeys.privateKey,
          certificate: await registrar.registerUserGateway(userKeys.publicKey),
        },
        relayingGateway: { certificate },
        stores: createMemoryStores(),
      });
    } finally {
      await stores.close();
    }
    for (const index of [0, 1, 2]) clients.push(await cogrpcClient(index));
  }, 120_000);

  afterAll(async () => {
    for (const client of clients) client.close();
    await proxy?.close();
    await sink?.close();
    await Promise.all(instances.map((instance) => instance.stop()));
    if (root) rmSync(root, { recursive: true, force: true });
  });

  test(`the same CCA to all three at once is served by exactly one, ${ROUNDS} times out of ${ROUNDS}`, async () => {
    const served: number[] = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      const cca = await user.generateCca();
      const outcomes = await Promise.allSettled(clients.map((client) => drain(client.collectCargo(cca))));
      served.push(outcomes.filter((outcome) => outcome.status === 'fulfilled').length);
    }
    expect(served).toEqual(Array(ROUNDS).fill(1));
    const accepted = instances.map(
      (instance) => instance.logs().filter((line) => line.msg === 'CCA accepted (CogRPC)').length,
    );
    expect(accepted.reduce((sum, count) => sum + count, 0)).toBe(ROUNDS);
    // Each was served by whichever got there first: not always the same one.
    expect(accepted.filter((count) => count > 0).length).toBeGreaterThan(1);
  });

  test('an instance whose database is unreachable acknowledges nothing, says so once, and recovers by itself', async () => {
    const server = new URL(database.current().url);
    const target = { host: server.hostname, port: Number(server.port || 5432) };
    proxy = await startThrottlingProxy({ target });
    const viaProxy = new URL(database.current().url);
    viaProxy.host = proxy.address;
    copyIdentity(3);
    const instance = daemon(3, viaProxy.toString());
    instances.push(instance);
    await instance.start();
    expect(JSON.parse(readFileSync(join(dataDir(3), 'health.json'), 'utf8'))).toMatchObject({
      ready: true,
      reason: null,
      pid: instance.pid,
    });
    const client = await cogrpcClient(3);
    clients.push(client);
    await user.receiveParcelFromEndpoint(await parcelFromApp(user));
    const [cargo] = await drain(user.generateCargoForRelayingGateway());
    const deliver = () =>
      drain(
        client.deliverCargo(
          (async function* () {
            yield { localId: 'c', cargo: cargo.serialized };
          })(),
        ),
      ).catch(() => []);
    const logged = (message: string) => instance.logs().filter((line) => line.msg.startsWith(message)).length;

    // The database goes away (connections cut, nothing listening): every attempt fails, unacknowledged.
    proxy.cut();
    await proxy.close();
    for (let attempt = 0; attempt < 3; attempt += 1) await expect(deliver()).resolves.toEqual([]);
    await waitFor('the outage to be logged', () => logged('PostgreSQL unreachable') > 0);
    // The delivery loop (every 200 ms) and the LISTEN connection retry meanwhile, silently.
    const reconnects = () =>
      instance.logs().filter((line) => line.msg.startsWith('PostgreSQL notification connection lost')).length;
    await waitFor(
      'a few more rounds of the delivery loop',
      async () => (await deliver()).length === 0 && reconnects() > 0,
    );
    expect(logged('PostgreSQL unreachable')).toBe(1);
    expect(logged('Delivery round failed')).toBe(0);
    expect(logged('PostgreSQL answers again')).toBe(0);
    const health = () =>
      JSON.parse(readFileSync(join(dataDir(3), 'health.json'), 'utf8')) as { ready: boolean; reason: string | null };
    await waitFor('health.json to say not ready', () => !health().ready);
    expect(health().reason).toMatch(/^PostgreSQL unreachable/);

    // It comes back on the same address: the same instance, never restarted, takes the cargo.
    proxy = await startThrottlingProxy({ target, listen: { host: '127.0.0.1', port: Number(viaProxy.port) } });
    await waitFor('the cargo to be acknowledged', async () => (await deliver()).length === 1, 30_000, 200);
    expect(logged('PostgreSQL answers again')).toBe(1);
    expect(logged('PostgreSQL unreachable')).toBe(1);
    expect(instance.running).toBe(true);
    await waitFor('health.json to say ready', () => health().ready);
    // Acknowledged once stored: the cargo's parcel is in the shared queue (or already delivered by an instance).
    const stores = await openPostgresStores({ connectionString: database.current().url, maxConnections: 1 });
    try {
      const { rows } = await stores.pool.query<{ n: string }>(
        "SELECT (SELECT count(*) FROM parcels WHERE queue = 'internet') + (SELECT count(*) FROM ledger WHERE namespace = 'delivered:internet') AS n",
      );
      expect(Number(rows[0].n)).toBe(1);
    } finally {
      await stores.close();
    }
  });

  test('kill -9 of an instance mid-delivery: its parcels are delivered by the others, none lost', async () => {
    const COUNT = 40;
    // The public endpoint holds the first delivery until the instance that made it is dead.
    const received: { id: string; from: string | null }[] = [];
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let firstArrived!: (from: string | null) => void;
    const first = new Promise<string | null>((resolve) => {
      firstArrived = resolve;
    });
    sink = await createPogRPCServer({
      address: '127.0.0.1:0',
      tls: { stateDir: join(root, 'sink'), hostnames: ['127.0.0.1'] },
      onParcel: async (serialized, context) => {
        const parcel = await Parcel.deserialize(serialized);
        received.push({ id: parcel.id, from: context.gatewayAddress });
        firstArrived(context.gatewayAddress);
        await released;
      },
    });
    const certificatePath = join(root, 'sink-cert.pem');
    writeFileSync(certificatePath, sink.certificatePem!);
    writeFileSync(
      join(root, 'address-book.json'),
      JSON.stringify({ [PUBLIC_ADDRESS]: { address: `127.0.0.1:${sink.port}`, tlsCertificatePath: certificatePath } }),
    );

    const parcels = await parcelsFromApp(user, COUNT, 'kill-');
    for (const parcel of parcels) await user.receiveParcelFromEndpoint(parcel);
    const cargoes = await drain(user.generateCargoForRelayingGateway());
    const acked = await drain(
      clients[0].deliverCargo(
        (async function* () {
          for (const [index, cargo] of cargoes.entries()) yield { localId: String(index), cargo: cargo.serialized };
        })(),
      ),
    );
    expect(acked).toHaveLength(cargoes.length);

    const pogrpcAddress = (index: number) =>
      (JSON.parse(readFileSync(join(dataDir(index), 'pogrpc.json'), 'utf8')) as { address: string }).address;
    const from = await first;
    const victim = instances.map((_, index) => index).find((index) => pogrpcAddress(index) === from)!;
    expect(victim).toBeDefined();
    await instances[victim].stop('SIGKILL');
    release();

    const ours = () => new Set(received.filter((item) => item.id.startsWith('kill-')).map((item) => item.id));
    await waitFor('every parcel at the public endpoint', () => ours().size === COUNT, 60_000, 100);
    // Taken over by the survivors once the victim's lease ended, and acknowledged by them: nothing left queued.
    const stores = await openPostgresStores({ connectionString: database.current().url, maxConnections: 1 });
    try {
      await waitFor('the queue to be empty', async () => (await stores.parcels.count('internet')) === 0, 30_000, 100);
    } finally {
      await stores.close();
    }
    // A parcel came twice only if the victim had it on the wire when it died (its acknowledgement never arrived).
    const victimAddress = pogrpcAddress(victim);
    const seen = new Map<string, number>();
    for (const item of received) seen.set(item.id, (seen.get(item.id) ?? 0) + 1);
    const twice = [...seen].filter(([id, count]) => id.startsWith('kill-') && count > 1).map(([id]) => id);
    // At least the parcel held at the endpoint: its lease ran out with the victim, and a survivor delivered it.
    expect(twice.length).toBeGreaterThanOrEqual(1);
    for (const id of twice) {
      expect(received.find((item) => item.id === id)!.from).toBe(victimAddress);
      expect(seen.get(id)).toBe(2);
    }
    for (const id of twice) {
      expect(received.filter((item) => item.id === id).map((item) => item.from === victimAddress)).toEqual([
        true,
        false,
      ]);
    }
  });
});
