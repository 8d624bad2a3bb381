import { createTestDatabase, type TestDatabase } from '@twitter-relaynet/test-support';
import pg from 'pg';

import { openPostgresStores, type PostgresGatewayStores } from './stores';

/** A fresh database for this suite (made in beforeAll, dropped in afterAll): `current()` once made. */
export function useTestDatabase(prefix: string): { current(): TestDatabase } {
  let database: TestDatabase | null = null;
  beforeAll(async () => {
    database = await createTestDatabase(pg, prefix);
  });
  afterAll(async () => {
    await database?.drop();
  });
  return {
    current() {
      if (!database) throw new Error('The test database is made in beforeAll');
      return database;
    },
  };
}

/** Stores over `url` with nothing in them (what an earlier test left is deleted). */
export async function openEmptyStores(url: string): Promise<PostgresGatewayStores> {
  const stores = await openPostgresStores({ connectionString: url, maxConnections: 4 });
  await stores.pool.query('TRUNCATE parcels, ledger, pcas, certificates, registration, gateway_identity');
  return stores;
}
