import pg from 'pg';
import { describeWithPostgres, useTestDatabase } from '@twitter-relaynet/test-support';

import { describeStoreConformance } from '@twitter-relaynet/test-support/gateway';
import { openPostgresStores } from './stores';
import { openEmptyStores } from './testDatabase';

describeWithPostgres('PostgreSQL store conformance', () => {
  const database = useTestDatabase(pg, 'conformance');

  describeStoreConformance('postgresql', () => ({
    open: () => openEmptyStores(database.current().url),
    reopen: async (stores) => {
      await stores.close();
      return openPostgresStores({ connectionString: database.current().url, maxConnections: 4 });
    },
    cleanup: () => undefined,
  }));
});
