/**
 * bin/relayer-gateway with --database-url / DATABASE_URL: its stores in PostgreSQL, `pg` loaded only then;
 * without a URL, SQLite in the data directory exactly as before.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ConfigurationError } from '@twitter-relaynet/config';
import { describeWithPostgres, useTestDatabase } from '@twitter-relaynet/test-support';
import pg from 'pg';

import { resolveConfig } from '@twitter-relaynet/relayer-gateway';
import { buildExecutables, Daemon } from './world';

const PRELOAD = join(__dirname, 'loaded-modules.cjs');

// Safety net: several daemon starts on a loaded machine.
jest.setTimeout(120_000);

test('the database URL comes from --database-url, else DATABASE_URL; none means SQLite; anything but postgres:// is refused', () => {
  expect(resolveConfig({}, {}).databaseUrl).toBeNull();
  expect(resolveConfig({}, { DATABASE_URL: ' ' }).databaseUrl).toBeNull();
  expect(resolveConfig({}, { DATABASE_URL: 'postgres://u@db/x' }).databaseUrl).toBe('postgres://u@db/x');
  expect(
    resolveConfig({ databaseUrl: 'postgresql://u@other/y' }, { DATABASE_URL: 'postgres://u@db/x' }).databaseUrl,
  ).toBe('postgresql://u@other/y');
  expect(() => resolveConfig({ databaseUrl: 'mysql://u@db/x' }, {})).toThrow(ConfigurationError);
  expect(() => resolveConfig({ databaseUrl: 'not a url' }, {})).toThrow('--database-url must be a postgres://');
});

/** Start and stop bin/relayer-gateway with `args`; resolves to its stdout and the module files it loaded. */
async function runOnce(
  root: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ stdout: string; modules: string[] }> {
  const report = join(root, `modules-${Date.now()}.txt`);
  const daemon = new Daemon(
    'relayer-gateway',
    ['--data-root', root, '--pogrpc-address', '127.0.0.1:0', ...args],
    () => ({
      ...process.env,
      DATABASE_URL: '',
      ...env,
      NODE_OPTIONS: [process.env.NODE_OPTIONS, `--require ${JSON.stringify(PRELOAD)}`].filter(Boolean).join(' '),
      LOADED_MODULES_REPORT: report,
    }),
  );
  await daemon.start();
  await daemon.stop();
  return { stdout: daemon.stdout, modules: readFileSync(report, 'utf8').split('\n').filter(Boolean) };
}

const loadsPg = (modules: readonly string[]) => modules.some((file) => /[/\\]node_modules[/\\]pg[/\\]/.test(file));

describe('bin/relayer-gateway stores', () => {
  let root: string;
  beforeAll(() => buildExecutables());
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'relayer-pg-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  test('without a database URL: SQLite in the data directory, and pg is never loaded', async () => {
    const { stdout, modules } = await runOnce(root, []);
    expect(stdout).toContain(`relayer-gateway: stores: SQLite ${join(root, 'relayer-gateway', 'gateway.sqlite')}`);
    expect(existsSync(join(root, 'relayer-gateway', 'gateway.sqlite'))).toBe(true);
    expect(modules.some((file) => file.includes('better-sqlite3'))).toBe(true);
    expect(loadsPg(modules)).toBe(false);
  });

  describeWithPostgres('with PostgreSQL', () => {
    const database = useTestDatabase(pg, 'relayer_cli');

    test('--database-url (or DATABASE_URL): the stores and their schema are in that database; no SQLite file', async () => {
      const { url } = database.current();
      const byFlag = await runOnce(root, ['--database-url', url]);
      const host = new URL(url);
      expect(byFlag.stdout).toContain(
        `relayer-gateway: stores: PostgreSQL ${host.hostname}:${host.port}/${database.current().name}`,
      );
      expect(loadsPg(byFlag.modules)).toBe(true);
      expect(existsSync(join(root, 'relayer-gateway', 'gateway.sqlite'))).toBe(false);

      const byEnv = await runOnce(root, [], { DATABASE_URL: url });
      expect(byEnv.stdout).toContain('relayer-gateway: stores: PostgreSQL');
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
        expect(rows.map((row) => row.version)).toEqual([1, 2]);
      } finally {
        await client.end();
      }

      // Another data directory means another identity key: refused, not a second gateway over the same queues.
      const stranger = mkdtempSync(join(tmpdir(), 'relayer-pg-'));
      try {
        await expect(runOnce(stranger, ['--database-url', url])).rejects.toThrow(
          /belongs to the relaying gateway 0[0-9a-f]+, but this instance's identity key is that of 0[0-9a-f]+: give every instance the same identity-key.pem/,
        );
      } finally {
        rmSync(stranger, { recursive: true, force: true });
      }
    });
  });
});
