import { openPostgresStores, type PostgresGatewayStores } from './stores';

/** Stores over `url` with nothing in them (what an earlier test left is deleted). */
export async function openEmptyStores(url: string): Promise<PostgresGatewayStores> {
  const stores = await openPostgresStores({ connectionString: url, maxConnections: 4 });
  await stores.pool.query('TRUNCATE parcels, ledger, pcas, certificates, registration, gateway_identity');
  return stores;
}
