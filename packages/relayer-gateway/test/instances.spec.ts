/**
 * Three bin/relayer-gateway processes over one PostgreSQL database, sharing one identity (the key and
 * certificate files copied from the first, as the README says): a courier's CCA presented to all three at
 * the same moment is served by exactly one.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { CogRPCClient as ReferenceClient } from '@relaycorp/cogrpc';
import { generateRsaKeyPair } from '@twitter-relaynet/core';
import { createMemoryStores, RelayingGateway, UserGateway } from '@twitter-relaynet/gateway';
import { openPostgresStores } from '@twitter-relaynet/gateway-postgres';
import { describeWithPostgres } from '@twitter-relaynet/test-support';

import { useTestDatabase } from '../../gateway-postgres/src/testDatabase';
import { loadOrCreateKeyPair, readCertificate } from '../src/files';
import { buildExecutables, Daemon } from './world';

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

  const dataDir = (index: number) => join(root, `i${index}`, 'relayer-gateway');
  const daemon = (index: number) =>
    new Daemon('relayer-gateway', [
      '--data-root', join(root, `i${index}`),
      '--pogrpc-address', '127.0.0.1:0',
      '--cogrpc-address', '127.0.0.1:0',
      '--cogrpc-plaintext',
      '--database-url', database.current().url,
    ]);

  beforeAll(async () => {
    buildExecutables();
    root = mkdtempSync(join(tmpdir(), 'relayer-instances-'));
    instances.push(daemon(0));
    await instances[0].start();
    for (const index of [1, 2]) {
      mkdirSync(dataDir(index), { recursive: true, mode: 0o700 });
      for (const file of ['identity-key.pem', 'identity-certificate.pem']) {
        copyFileSync(join(dataDir(0), file), join(dataDir(index), file));
      }
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
    for (const index of [0, 1, 2]) {
      const { address } = JSON.parse(readFileSync(join(dataDir(index), 'cogrpc.json'), 'utf8')) as { address: string };
      clients.push(await ReferenceClient.initLocalhost(Number(address.split(':')[1])));
    }
  }, 120_000);

  afterAll(async () => {
    for (const client of clients) client.close();
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
});
