import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/**
 * PostgreSQL for tests: the server at TEST_DATABASE_URL, else the local one, and a fresh database per
 * suite. Under CI (CI=true) the tests must run: an unreachable server fails them. Elsewhere, without a
 * server, they are skipped with one line that says how to run them.
 */

export const DEFAULT_TEST_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/** Where tests find a server (a database on it in which CREATE DATABASE may run). */
export function testDatabaseServerUrl(env: NodeJS.ProcessEnv = process.env): string {
  const url = env.TEST_DATABASE_URL?.trim();
  return url ? url : DEFAULT_TEST_DATABASE_URL;
}

let reachable: boolean | undefined;

/**
 * Whether the server accepts TCP connections, found once per test process. Synchronous (a short child
 * process), because `describe` must decide to run or skip before any test starts.
 */
export function postgresReachable(): boolean {
  if (reachable !== undefined) return reachable;
  const url = new URL(testDatabaseServerUrl());
  const host = url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  const port = Number(url.port || 5432);
  const probe =
    `const s=require('node:net').connect(${port},${JSON.stringify(host)});` +
    "s.setTimeout(3000,()=>process.exit(1));s.on('connect',()=>process.exit(0));s.on('error',()=>process.exit(1));";
  reachable = spawnSync(process.execPath, ['-e', probe], { timeout: 10_000 }).status === 0;
  return reachable;
}

let skipNoticeGiven = false;

/**
 * `describe` for tests that need PostgreSQL: it runs when the server is reachable or under CI (where an
 * unreachable server fails every test, loudly); otherwise it is skipped, with one line saying how to run it.
 */
export function describeWithPostgres(name: string, body: () => void): void {
  if (process.env.CI === 'true' || postgresReachable()) {
    describe(name, body);
    return;
  }
  if (!skipNoticeGiven) {
    skipNoticeGiven = true;
    process.stderr.write(
      `PostgreSQL tests skipped: no server at ${redact(testDatabaseServerUrl())}. To run them, start PostgreSQL ` +
        'there or set TEST_DATABASE_URL=postgres://user@host:port/db (a role that may CREATE DATABASE); CI=true makes them mandatory.\n',
    );
  }
  describe.skip(`${name} (no PostgreSQL: set TEST_DATABASE_URL)`, body);
}

/** The part of `pg` this helper uses, passed in: test-support itself depends on no database client. */
export interface PgModule {
  Client: new (config: { connectionString: string }) => {
    connect(): Promise<unknown>;
    query(sql: string): Promise<unknown>;
    end(): Promise<void>;
  };
}

export interface TestDatabase {
  readonly name: string;
  /** The new database's URL. */
  readonly url: string;
  /** Drop it (ending whatever connections are still open to it). */
  drop(): Promise<void>;
}

/**
 * A new, empty database with a random name on the test server. Rejects with a message naming the server
 * when it cannot be reached (under CI, that is the loud failure).
 */
export async function createTestDatabase(pg: PgModule, prefix = 'test'): Promise<TestDatabase> {
  const serverUrl = testDatabaseServerUrl();
  const name = `${prefix}_${randomBytes(6).toString('hex')}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  await adminQuery(pg, serverUrl, `CREATE DATABASE ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: () => adminQuery(pg, serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

async function adminQuery(pg: PgModule, serverUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  try {
    await client.connect();
    await client.query(sql);
  } catch (error) {
    throw new Error(
      `PostgreSQL test server ${redact(serverUrl)}: ${sql.split(' ').slice(0, 2).join(' ')} failed: ` +
        `${error instanceof Error ? error.message : String(error)} (set TEST_DATABASE_URL to a server where it may run)`,
      { cause: error },
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable TEST_DATABASE_URL)';
  }
}

/** A fresh database for this suite (made in beforeAll, dropped in afterAll): `current()` once made. */
export function useTestDatabase(pg: PgModule, prefix: string): { current(): TestDatabase } {
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
