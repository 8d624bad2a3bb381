import { describeWithPostgres } from '@twitter-relaynet/test-support';

import { describeStoreConformance } from '../../gateway/src/stores/conformanceSuite';
import { openPostgresStores } from './stores';
import { openEmptyStores, useTestDatabase } from './testDatabase';

describeWithPostgres('PostgreSQL store conformance', () => {
  const database = useTestDatabase('conformance');

  describeStoreConformance('postgresql', () => ({
    open: () => openEmptyStores(database.current().url),
    reopen: async (stores) => {
      await stores.close();
      return openPostgresStores({ connectionString: database.current().url, maxConnections: 4 });
    },
    cleanup: () => undefined,
  }));
});
