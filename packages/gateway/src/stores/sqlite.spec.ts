import { lstatSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { openSqliteStores } from './sqlite';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gateway-sqlite-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const modeOf = (path: string) => (lstatSync(path).mode & 0o777).toString(8);

// Regression (packages/relayer-gateway/test/attacks.spec.ts): the -wal and -shm files were 0644.
test('the database and its -wal and -shm files are owner-only, whatever the umask', async () => {
  const previous = process.umask(0o022);
  try {
    const path = join(dir, 'data', 'gateway.sqlite');
    const stores = openSqliteStores(path);
    try {
      expect(modeOf(join(dir, 'data'))).toBe('700');
      expect([modeOf(path), modeOf(`${path}-wal`), modeOf(`${path}-shm`)]).toEqual(['600', '600', '600']);
    } finally {
      await stores.close();
    }
  } finally {
    process.umask(previous);
  }
});
