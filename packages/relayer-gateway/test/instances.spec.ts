/**
 * bin/relayer-gateway processes over one PostgreSQL database, sharing one identity (the key and certificate
 * files copied from the first, as the README says): a courier's CCA presented to three of them at the same
 * moment is served by exactly one; one whose database becomes unreachable acknowledges nothing, says so once,
 * and recovers by itself.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { CogRPCClient as ReferenceClient } from '@relaycorp/cogrpc';
import { generateRsaKeyPair } from '@twitter-relaynet/core';
import { createMemoryStores, RelayingGateway, UserGateway } from '@twitter-relaynet/gateway';
import { openPostgresStores } from '@twitter-relaynet/gateway-postgres';
import { describeWithPostgres, startThrottlingProxy, type ThrottlingProxy } from '@twitter-relaynet/test-support';

import { useTestDatabase } from '../../gateway-postgres/src/testDatabase';
import { loadOrCreateKeyPair, readCertificate } from '../src/files';
import { parcelFromApp } from './userGateway';
import { buildExecutables, Daemon, waitFor } from './world';

const ROUNDS = 100;

jest.setTimeout(120_000);

async function drain<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

describeWithPostgres('three relayer-gateway processes over one database', () => {
  const database = useTestDatabase('instances_cli');
  let root: string;
  const instances: Daemon[] = [];
  const clients: ReferenceClient[] = [];
  let user: UserGateway;
  let proxy: ThrottlingProxy | null = null;

  const dataDir = (index: number) => join(root, `i${index}`, 'relayer-gateway');
  const daemon = (index: number, databaseUrl = database.current().url) =>
    new Daemon('relayer-gateway', [
      '--data-root', join(root, `i${index}`),
      '--pogrpc-address', '127.0.0.1:0',
      '--cogrpc-address', '127.0.0.1:0',
      '--cogrpc-plaintext',
      '--poll-interval', '200',
      '--database-url', databaseUrl,
    ]);
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
    const { keyPair } = await loadOrCreateKeyPair(join(dataDir(0), 'identity-key.pem'));
    const certificate = readCertificate(join(dataDir(0), 'identity-certificate.pem'))!;
    const stores = await openPostgresStores({ connectionString: database.current().url, maxConnections: 1 });
    try {
      const registrar = new RelayingGateway({ identity: { privateKey: keyPair.privateKey, certificate }, stores });
      const userKeys = await generateRsaKeyPair();
      user = new UserGateway({
        identity: { privateKey: userKeys.privateKey, certificate: await registrar.registerUserGateway(userKeys.publicKey) },
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
    const accepted = instances.map((instance) => instance.logs().filter((line) => line.msg === 'CCA accepted (CogRPC)').length);
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
    const client = await cogrpcClient(3);
    clients.push(client);
    await user.receiveParcelFromEndpoint(await parcelFromApp(user));
    const [cargo] = await drain(user.generateCargoForRelayingGateway());
    const deliver = () =>
      drain(client.deliverCargo((async function* () {
        yield { localId: 'c', cargo: cargo.serialized };
      })())).catch(() => []);
    const logged = (message: string) => instance.logs().filter((line) => line.msg.startsWith(message)).length;

    // The database goes away (connections cut, nothing listening): every attempt fails, unacknowledged.
    proxy.cut();
    await proxy.close();
    for (let attempt = 0; attempt < 3; attempt += 1) await expect(deliver()).resolves.toEqual([]);
    await waitFor('the outage to be logged', () => logged('PostgreSQL unreachable') > 0);
    // The delivery loop (every 200 ms) and the LISTEN connection retry meanwhile, silently.
    const reconnects = () => instance.logs().filter((line) => line.msg.startsWith('PostgreSQL notification connection lost')).length;
    await waitFor('a few more rounds of the delivery loop', async () => (await deliver()).length === 0 && reconnects() > 0);
    expect(logged('PostgreSQL unreachable')).toBe(1);
    expect(logged('Delivery round failed')).toBe(0);
    expect(logged('PostgreSQL answers again')).toBe(0);

    // It comes back on the same address: the same instance, never restarted, takes the cargo.
    proxy = await startThrottlingProxy({ target, listen: { host: '127.0.0.1', port: Number(viaProxy.port) } });
    await waitFor('the cargo to be acknowledged', async () => (await deliver()).length === 1, 30_000, 200);
    expect(logged('PostgreSQL answers again')).toBe(1);
    expect(logged('PostgreSQL unreachable')).toBe(1);
    expect(instance.running).toBe(true);
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
});
