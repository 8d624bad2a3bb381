import { Certificate, errorMessage, type Logger, silentLogger } from '@twitter-relaynet/core';
import type {
  CertificateRegistry,
  GatewayStores,
  IdLedger,
  NewParcelRecord,
  ParcelKey,
  ParcelListOptions,
  ParcelRecord,
  ParcelStore,
  PcaQueue,
  PendingPca,
  QueueName,
  RegistrationRecord,
  RegistrationStore,
  StoreWrite,
  StoreWriteResult,
} from '@twitter-relaynet/gateway';
import { GatewayError } from '@twitter-relaynet/gateway';
import pg from 'pg';

import { applyWrites } from './batchWrites';
import { CoalescedLookup } from './coalescedLookup';
import { PostgresCourierAnswerStore } from './courierAnswers';
import { migrate } from './migrations';

/**
 * The gateway's stores on PostgreSQL, for any number of relaying gateway instances over one database.
 * A call resolves once its transaction is committed (synchronous_commit, the server's default: durable).
 *
 * What makes several instances safe, none of them in charge:
 * - every duplicate guard is a unique key (parcels, PCAs, ledger ids), written with ON CONFLICT in the
 *   transaction of the write it guards: a CCA id or a delivered parcel is recorded by exactly one caller;
 * - deliveries are claimed with `FOR UPDATE SKIP LOCKED` and a lease (`next_attempt`): concurrent
 *   claimers never get the same parcel, and a parcel whose holder died is due again when its lease ends;
 * - `exclusively` runs a sweep under a session advisory lock: one instance at a time, released if it dies;
 * - a transaction that queues parcels notifies `gateway_parcels` (delivered at commit), so that other
 *   instances learn of new work without polling (`onParcelsQueued`); their periodic rescan covers a
 *   notification lost while a listener was reconnecting.
 */

export const PARCELS_CHANNEL = 'gateway_parcels';

/** The database holds another gateway's identity than the one this instance was started with. */
export class IdentityMismatchError extends GatewayError {}
const DEFAULT_PAGE_SIZE = 100;
/** Bodies up to this size come with their page; larger ones one at a time (a page of 9 MiB parcels would not fit in memory). */
const INLINE_BODY_MAX = 64 * 1024;
const LISTEN_RETRY_MS = 1_000;

type Queryable = pg.Pool | pg.PoolClient;

export interface PostgresStoresOptions {
  readonly connectionString: string;
  /** Connections per instance (default 10). */
  readonly maxConnections?: number;
  readonly logger?: Logger;
  /** Time allowed to establish a connection (default 10 s). */
  readonly connectionTimeoutMs?: number;
  /** Called when the server stops answering (false) and when it answers again (true). */
  readonly onReachabilityChange?: (reachable: boolean) => void;
}

/** Connect, bring the schema up to date (safe when several instances start at once) and return the stores. */
export async function openPostgresStores(options: PostgresStoresOptions): Promise<PostgresGatewayStores> {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 10_000,
    application_name: 'relayer-gateway',
  });
  const logger = options.logger ?? silentLogger;
  // An idle connection that the server closes (restart, network cut) is an error event on the pool:
  // without a listener it would crash the process. The next query opens a new connection.
  const health = new ConnectionHealth(logger, options.onReachabilityChange);
  pool.on('error', (error) => health.failed(error));
  // Likewise for a connection checked out between two queries (a transaction's, or a sweep lock's holder):
  // the loss reaches the caller through its next query.
  pool.on('connect', (client) => client.on('error', () => undefined));
  watchHealth(pool, health);
  try {
    const applied = await migrate(pool);
    if (applied.length > 0) logger.info({ versions: applied }, 'Database schema migrated');
  } catch (error) {
    await pool.end();
    throw error;
  }
  return new PostgresGatewayStores(pool, options, logger);
}

/**
 * Whether the server answers, as the last query found: an outage is logged once when it starts and once when it
 * ends, however many calls fail meanwhile (each of them still rejects, so nothing is acknowledged).
 */
export class ConnectionHealth {
  private down = false;

  constructor(
    private readonly logger: Logger,
    private readonly onChange: (reachable: boolean) => void = () => undefined,
  ) {}

  get reachable(): boolean {
    return !this.down;
  }

  succeeded(): void {
    if (!this.down) return;
    this.down = false;
    this.logger.info({}, 'PostgreSQL answers again');
    this.onChange(true);
  }

  failed(error: unknown): void {
    if (!isConnectionError(error) || this.down) return;
    this.down = true;
    this.logger.error(
      { err: errorMessage(error) },
      'PostgreSQL unreachable: nothing is acknowledged until it answers again (retrying by itself)',
    );
    this.onChange(false);
  }

  async observe<T>(operation: Promise<T>): Promise<T> {
    try {
      const result = await operation;
      this.succeeded();
      return result;
    } catch (error) {
      this.failed(error);
      throw error;
    }
  }
}

/** A failure to reach the server (refused, cut, timed out, shut down), as opposed to an error in a statement. */
function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error instanceof pg.DatabaseError) return /^(08|57P)/.test(error.code ?? '');
  return true;
}

const healthOfPool = new WeakMap<pg.Pool, ConnectionHealth>();

/** Every query and connection of `pool` reports to `health` (the pool's methods wrapped once, at open). */
function watchHealth(pool: pg.Pool, health: ConnectionHealth): void {
  healthOfPool.set(pool, health);
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  (pool as unknown as { query: unknown }).query = (...args: unknown[]) => {
    const result = query(...args);
    return result instanceof Promise ? health.observe(result) : result;
  };
  // pg's own pool.query calls connect with a callback: only the promise form (ours) is observed here, and only its
  // failures: the pool may hand out an idle connection without a word to the server, which proves nothing (taken
  // as "answers again" during an outage, it made the instance ready for a moment). A committed transaction does.
  const connect = pool.connect.bind(pool) as (...args: unknown[]) => unknown;
  (pool as unknown as { connect: unknown }).connect = (...args: unknown[]) => {
    const result = connect(...args);
    return result instanceof Promise
      ? result.catch((error: unknown) => {
          health.failed(error);
          throw error;
        })
      : result;
  };
}

/** Run `fn` in a transaction on one connection of `pool`; a connection that failed is not reused. */
async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let failed: unknown = undefined;
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    healthOfPool.get(pool)?.succeeded();
    return result;
  } catch (error) {
    failed = error;
    healthOfPool.get(pool)?.failed(error);
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release(failed instanceof Error && !('code' in failed) ? failed : undefined);
  }
}

interface ParcelRow {
  seq: string;
  queue: string;
  sender_id: string;
  message_id: string;
  recipient_id: string;
  recipient_address: string | null;
  expiry: Date;
  next_attempt: Date;
  attempts: number;
  serialized: Buffer | null;
}

const PARCEL_METADATA =
  'seq, queue, sender_id, message_id, recipient_id, recipient_address, expiry, next_attempt, attempts';
const PARCEL_PAGE_COLUMNS = `${PARCEL_METADATA},
  CASE WHEN octet_length(serialized) <= ${INLINE_BODY_MAX} THEN serialized END AS serialized`;

function rowToParcel(row: ParcelRow, serialized: Buffer): ParcelRecord {
  return {
    queue: row.queue,
    senderId: row.sender_id,
    id: row.message_id,
    recipientId: row.recipient_id,
    recipientInternetAddress: row.recipient_address,
    expiryDate: row.expiry,
    nextAttemptDate: row.next_attempt,
    attempts: row.attempts,
    serialized,
  };
}

export class PostgresGatewayStores implements GatewayStores {
  readonly parcels: PostgresParcelStore;
  readonly ledger: PostgresIdLedger;
  readonly pcas: PostgresPcaQueue;
  readonly registry: PostgresCertificateRegistry;
  readonly registration: PostgresRegistrationStore;
  readonly courierAnswers: PostgresCourierAnswerStore;
  private listener: ParcelsListener | null = null;
  private closed = false;

  constructor(
    readonly pool: pg.Pool,
    private readonly options: PostgresStoresOptions,
    private readonly logger: Logger,
  ) {
    this.parcels = new PostgresParcelStore(pool);
    this.ledger = new PostgresIdLedger(pool);
    this.pcas = new PostgresPcaQueue(pool);
    this.registry = new PostgresCertificateRegistry(pool);
    this.registration = new PostgresRegistrationStore(pool);
    this.courierAnswers = new PostgresCourierAnswerStore(pool);
  }

  async writeBatch(writes: readonly StoreWrite[]): Promise<StoreWriteResult[]> {
    if (writes.length === 0) return [];
    return inTransaction(this.pool, async (client) => {
      const results = await applyWrites(client, writes);
      const queued = new Set<string>();
      writes.forEach((write, index) => {
        if (write.kind === 'put parcel' && results[index] !== 'already recorded') queued.add(write.parcel.queue);
      });
      await notifyQueued(client, queued);
      return results;
    });
  }

  /**
   * Run `task` if no other instance is running the sweep `name` (a session advisory lock, released when
   * the task ends or this instance's connection dies). Resolves to false if another instance has it.
   */
  async exclusively(name: string, task: () => Promise<void>): Promise<boolean> {
    const client = await this.pool.connect();
    let broken = false;
    try {
      const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [
        `gateway sweep: ${name}`,
      ]);
      healthOfPool.get(this.pool)?.succeeded();
      if (!rows[0].locked) return false;
      try {
        await task();
      } finally {
        await client.query('SELECT pg_advisory_unlock(hashtext($1))', [`gateway sweep: ${name}`]).catch(() => {
          broken = true;
        });
      }
      return true;
    } catch (error) {
      broken = true;
      throw error;
    } finally {
      client.release(broken);
    }
  }

  /**
   * Call `listener` with the queue's name whenever any instance commits parcels to a queue. One LISTEN
   * connection, opened on the first subscription and reopened after a loss (notifications sent meanwhile
   * are lost: callers rescan periodically). Resolves once listening; returns the unsubscription.
   */
  async onParcelsQueued(listener: (queue: string) => void): Promise<() => void> {
    this.listener ??= new ParcelsListener(this.options, this.logger);
    await this.listener.add(listener);
    return () => this.listener?.remove(listener);
  }

  /**
   * Record `gatewayId` as the one every instance over this database must have (the first caller's), or
   * check that it is: an instance that made its own identity key instead of mounting the shared one would
   * otherwise issue certificates, sign cargo and decrypt under another identity. @throws IdentityMismatchError
   */
  async bindIdentity(gatewayId: string): Promise<void> {
    await this.pool.query(
      'INSERT INTO gateway_identity (singleton, gateway_id) VALUES (1, $1) ON CONFLICT DO NOTHING',
      [gatewayId],
    );
    const { rows } = await this.pool.query<{ gateway_id: string }>('SELECT gateway_id FROM gateway_identity');
    if (rows[0].gateway_id !== gatewayId) {
      throw new IdentityMismatchError(
        `This database belongs to the relaying gateway ${rows[0].gateway_id}, but this instance's identity key is ` +
          `that of ${gatewayId}: give every instance the same identity-key.pem and identity-certificate.pem`,
      );
    }
  }

  /** False from a failure to reach the server until a query succeeds again. */
  get reachable(): boolean {
    return healthOfPool.get(this.pool)?.reachable ?? true;
  }

  /** Ask the server now (what ends an outage when nothing else queries). */
  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.listener?.close();
    await this.pool.end();
  }
}

/** One notification per queue, in one statement. */
async function notifyQueued(client: Queryable, queues: Iterable<string>): Promise<void> {
  const names = [...queues];
  if (names.length === 0) return;
  await client.query('SELECT pg_notify($1, queue) FROM unnest($2::text[]) AS queue', [PARCELS_CHANNEL, names]);
}

class ParcelsListener {
  private readonly listeners = new Set<(queue: string) => void>();
  private client: pg.Client | null = null;
  private connecting: Promise<void> | null = null;
  private retry: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly options: PostgresStoresOptions,
    private readonly logger: Logger,
  ) {}

  async add(listener: (queue: string) => void): Promise<void> {
    this.listeners.add(listener);
    if (!this.client) await (this.connecting ??= this.connect());
  }

  remove(listener: (queue: string) => void): void {
    this.listeners.delete(listener);
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.options.connectionString,
      connectionTimeoutMillis: this.options.connectionTimeoutMs ?? 10_000,
      application_name: 'relayer-gateway listener',
    });
    client.on('notification', (message) => {
      if (message.channel !== PARCELS_CHANNEL) return;
      for (const listener of this.listeners) listener(message.payload ?? '');
    });
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${PARCELS_CHANNEL}`);
      this.client = client;
    } catch (error) {
      client.end().catch(() => undefined);
      this.scheduleRetry();
      throw error;
    } finally {
      this.connecting = null;
    }
  }

  private lost(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = null;
    client.end().catch(() => undefined);
    if (this.closed) return;
    this.logger.warn({}, 'PostgreSQL notification connection lost; reconnecting (the periodic rescan covers the gap)');
    // What was queued while nobody listened is found by a rescan: tell the listeners to look now.
    for (const listener of this.listeners) listener('');
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.closed || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      if (this.closed || this.client) return;
      this.connecting ??= this.connect();
      this.connecting.then(
        () => {
          for (const listener of this.listeners) listener('');
        },
        () => undefined,
      );
    }, LISTEN_RETRY_MS);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    await this.connecting?.catch(() => undefined);
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// Single writes, for the stores' methods (writeBatch: batchWrites.ts)

async function deleteParcel(client: Queryable, key: ParcelKey): Promise<boolean> {
  const result = await client.query('DELETE FROM parcels WHERE queue = $1 AND sender_id = $2 AND message_id = $3', [
    key.queue,
    key.senderId,
    key.id,
  ]);
  return (result.rowCount ?? 0) > 0;
}

async function rescheduleParcel(client: Queryable, key: ParcelKey, nextAttemptDate: Date): Promise<boolean> {
  const result = await client.query(
    'UPDATE parcels SET next_attempt = $4 WHERE queue = $1 AND sender_id = $2 AND message_id = $3',
    [key.queue, key.senderId, key.id, nextAttemptDate],
  );
  return (result.rowCount ?? 0) > 0;
}

async function putPca(client: Queryable, pca: PendingPca): Promise<void> {
  await client.query(
    `INSERT INTO pcas (peer_id, sender_id, parcel_id, recipient_id, expiry) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (peer_id, sender_id, parcel_id) DO UPDATE SET
       seq = nextval('gateway_seq'), recipient_id = excluded.recipient_id, expiry = excluded.expiry`,
    [pca.peerId, pca.senderEndpointId, pca.parcelId, pca.recipientEndpointId, pca.expiryDate],
  );
}

async function deletePca(
  client: Queryable,
  peerId: string,
  senderEndpointId: string,
  parcelId: string,
): Promise<boolean> {
  const result = await client.query('DELETE FROM pcas WHERE peer_id = $1 AND sender_id = $2 AND parcel_id = $3', [
    peerId,
    senderEndpointId,
    parcelId,
  ]);
  return (result.rowCount ?? 0) > 0;
}

/** Exactly one of any number of concurrent callers gets true: the others wait for its commit, then find the key. */
async function recordId(client: Queryable, namespace: string, id: string, expiryDate: Date): Promise<boolean> {
  const result = await client.query(
    'INSERT INTO ledger (namespace, id, expiry) VALUES ($1, $2, $3) ON CONFLICT (namespace, id) DO NOTHING',
    [namespace, id, expiryDate],
  );
  return (result.rowCount ?? 0) > 0;
}

async function moveQueue(client: Queryable, from: QueueName, to: QueueName): Promise<number> {
  if (from === to) return 0;
  // Moved rows keep their seq, so arrival order holds.
  await client.query(
    `DELETE FROM parcels WHERE queue = $1 AND EXISTS
       (SELECT 1 FROM parcels AS kept WHERE kept.queue = $2 AND kept.sender_id = parcels.sender_id
          AND kept.message_id = parcels.message_id)`,
    [from, to],
  );
  const result = await client.query('UPDATE parcels SET queue = $2 WHERE queue = $1', [from, to]);
  const moved = result.rowCount ?? 0;
  if (moved > 0) await notifyQueued(client, [to]);
  return moved;
}

async function countRows(pool: pg.Pool, table: string, column: string, value: string | undefined): Promise<number> {
  const { rows } = await (value === undefined
    ? pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)
    : pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE ${column} = $1`, [value]));
  return Number(rows[0].n);
}

// ---------------------------------------------------------------------------------------------

export class PostgresParcelStore implements ParcelStore {
  constructor(private readonly pool: pg.Pool) {}

  async put(parcel: NewParcelRecord): Promise<'stored' | 'replaced'> {
    return inTransaction(this.pool, async (client) => {
      const [outcome] = (await applyWrites(client, [{ kind: 'put parcel', parcel }])) as ['stored' | 'replaced'];
      await notifyQueued(client, [parcel.queue]);
      return outcome;
    });
  }

  async get(key: ParcelKey): Promise<ParcelRecord | null> {
    const { rows } = await this.pool.query<ParcelRow>(
      `SELECT ${PARCEL_METADATA}, serialized FROM parcels WHERE queue = $1 AND sender_id = $2 AND message_id = $3`,
      [key.queue, key.senderId, key.id],
    );
    return rows.length > 0 ? rowToParcel(rows[0], rows[0].serialized!) : null;
  }

  async delete(key: ParcelKey): Promise<boolean> {
    return deleteParcel(this.pool, key);
  }

  async *list(queue: QueueName, options: ParcelListOptions): AsyncIterable<ParcelRecord> {
    const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
    let cursor = '0';
    for (;;) {
      const { rows } =
        options.recipientId === undefined
          ? await this.pool.query<ParcelRow>(
              `SELECT ${PARCEL_PAGE_COLUMNS} FROM parcels WHERE queue = $1 AND seq > $2 AND expiry > $3 ORDER BY seq LIMIT $4`,
              [queue, cursor, options.now, pageSize],
            )
          : await this.pool.query<ParcelRow>(
              `SELECT ${PARCEL_PAGE_COLUMNS} FROM parcels
               WHERE queue = $1 AND recipient_id = $2 AND seq > $3 AND expiry > $4 ORDER BY seq LIMIT $5`,
              [queue, options.recipientId, cursor, options.now, pageSize],
            );
      for (const row of rows) {
        cursor = row.seq;
        const body = row.serialized ?? (await this.body(queue, row.seq));
        if (body) yield rowToParcel(row, body); // else deleted or replaced meanwhile (a replacement comes later)
      }
      if (rows.length < pageSize) return;
    }
  }

  private async body(queue: QueueName, seq: string): Promise<Buffer | null> {
    const { rows } = await this.pool.query<{ serialized: Buffer }>(
      'SELECT serialized FROM parcels WHERE queue = $1 AND seq = $2',
      [queue, seq],
    );
    return rows[0]?.serialized ?? null;
  }

  async claimNextDue(queue: QueueName, now: Date, leaseUntil: Date): Promise<ParcelRecord | null> {
    const [claimed] = await this.claimDue(queue, now, leaseUntil, 1);
    return claimed ?? null;
  }

  /**
   * Rows locked by another instance's claim are skipped, not waited for: concurrent claimers split the
   * due parcels between them and none gets a parcel twice. The lease (next_attempt) outlives the
   * transaction: a holder that dies leaves its parcels due again when the lease ends.
   */
  async claimDue(queue: QueueName, now: Date, leaseUntil: Date, limit: number): Promise<ParcelRecord[]> {
    if (limit < 1) return [];
    const { rows } = await this.pool.query<ParcelRow & { due_since: Date }>(
      `WITH due AS (
         SELECT queue, sender_id, message_id, next_attempt AS due_since FROM parcels
         WHERE queue = $1 AND next_attempt <= $2 AND expiry > $2
         ORDER BY next_attempt, seq LIMIT $4
         FOR UPDATE SKIP LOCKED)
       UPDATE parcels SET next_attempt = $3, attempts = parcels.attempts + 1
       FROM due
       WHERE parcels.queue = due.queue AND parcels.sender_id = due.sender_id AND parcels.message_id = due.message_id
       RETURNING parcels.seq, parcels.queue, parcels.sender_id, parcels.message_id, parcels.recipient_id,
         parcels.recipient_address, parcels.expiry, parcels.next_attempt, parcels.attempts, parcels.serialized,
         due.due_since`,
      [queue, now, leaseUntil, limit],
    );
    rows.sort((a, b) => a.due_since.getTime() - b.due_since.getTime() || Number(a.seq) - Number(b.seq));
    return rows.map((row) => rowToParcel(row, row.serialized!));
  }

  async reschedule(key: ParcelKey, nextAttemptDate: Date): Promise<boolean> {
    return rescheduleParcel(this.pool, key, nextAttemptDate);
  }

  /**
   * Makes every lease of the queue end now, other instances' included: for a single instance's start, or
   * an operator who knows that no instance is delivering. Several instances rely on lease expiry instead.
   */
  async releaseLeases(queue: QueueName, now: Date): Promise<number> {
    const result = await this.pool.query(
      'UPDATE parcels SET next_attempt = $2 WHERE queue = $1 AND next_attempt > $2',
      [queue, now],
    );
    return result.rowCount ?? 0;
  }

  async moveQueue(from: QueueName, to: QueueName): Promise<number> {
    return inTransaction(this.pool, (client) => moveQueue(client, from, to));
  }

  async purgeExpired(now: Date): Promise<number> {
    return (await this.pool.query('DELETE FROM parcels WHERE expiry <= $1', [now])).rowCount ?? 0;
  }

  async count(queue?: QueueName): Promise<number> {
    return countRows(this.pool, 'parcels', 'queue', queue);
  }
}

export class PostgresIdLedger implements IdLedger {
  constructor(private readonly pool: pg.Pool) {}

  async record(namespace: string, id: string, expiryDate: Date): Promise<boolean> {
    return recordId(this.pool, namespace, id, expiryDate);
  }

  /** Lookups asked for together go in one query (see CoalescedLookup). */
  private readonly lookup = new CoalescedLookup<true>(async (keys) => {
    const pairs = keys.map((key) => JSON.parse(key) as [string, string]);
    const { rows } = await this.pool.query<{ namespace: string; id: string }>(
      `SELECT namespace, id FROM ledger
       WHERE (namespace, id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
      [pairs.map(([namespace]) => namespace), pairs.map(([, id]) => id)],
    );
    return new Map(rows.map((row) => [JSON.stringify([row.namespace, row.id]), true]));
  });

  async has(namespace: string, id: string): Promise<boolean> {
    return (await this.lookup.get(JSON.stringify([namespace, id]))) === true;
  }

  async purgeExpired(now: Date): Promise<number> {
    return (await this.pool.query('DELETE FROM ledger WHERE expiry <= $1', [now])).rowCount ?? 0;
  }
}

interface PcaRow {
  seq: string;
  peer_id: string;
  sender_id: string;
  parcel_id: string;
  recipient_id: string;
  expiry: Date;
}

export class PostgresPcaQueue implements PcaQueue {
  constructor(private readonly pool: pg.Pool) {}

  async put(pca: PendingPca): Promise<void> {
    await putPca(this.pool, pca);
  }

  async *list(peerId: string, now: Date): AsyncIterable<PendingPca> {
    let cursor = '0';
    for (;;) {
      const { rows } = await this.pool.query<PcaRow>(
        'SELECT * FROM pcas WHERE peer_id = $1 AND seq > $2 AND expiry > $3 ORDER BY seq LIMIT $4',
        [peerId, cursor, now, DEFAULT_PAGE_SIZE],
      );
      for (const row of rows) {
        cursor = row.seq;
        yield {
          peerId: row.peer_id,
          senderEndpointId: row.sender_id,
          recipientEndpointId: row.recipient_id,
          parcelId: row.parcel_id,
          expiryDate: row.expiry,
        };
      }
      if (rows.length < DEFAULT_PAGE_SIZE) return;
    }
  }

  async delete(peerId: string, senderEndpointId: string, parcelId: string): Promise<boolean> {
    return deletePca(this.pool, peerId, senderEndpointId, parcelId);
  }

  async purgeExpired(now: Date): Promise<number> {
    return (await this.pool.query('DELETE FROM pcas WHERE expiry <= $1', [now])).rowCount ?? 0;
  }

  async count(peerId?: string): Promise<number> {
    return countRows(this.pool, 'pcas', 'peer_id', peerId);
  }
}

export class PostgresCertificateRegistry implements CertificateRegistry {
  constructor(private readonly pool: pg.Pool) {}

  async put(certificate: Certificate): Promise<void> {
    await this.pool.query(
      `INSERT INTO certificates (subject_id, der) VALUES ($1, $2)
       ON CONFLICT (subject_id) DO UPDATE SET der = excluded.der`,
      [certificate.calculateSubjectId(), certificate.serialize()],
    );
  }

  /** Lookups asked for together go in one query (see CoalescedLookup). */
  private readonly lookup = new CoalescedLookup<Buffer>(async (subjectIds) => {
    const { rows } = await this.pool.query<{ subject_id: string; der: Buffer }>(
      'SELECT subject_id, der FROM certificates WHERE subject_id = ANY($1::text[])',
      [subjectIds],
    );
    return new Map(rows.map((row) => [row.subject_id, row.der]));
  });

  async get(subjectId: string): Promise<Certificate | null> {
    const der = await this.lookup.get(subjectId);
    return der ? Certificate.deserialize(der) : null;
  }

  async delete(subjectId: string): Promise<boolean> {
    return ((await this.pool.query('DELETE FROM certificates WHERE subject_id = $1', [subjectId])).rowCount ?? 0) > 0;
  }

  async list(): Promise<Certificate[]> {
    const { rows } = await this.pool.query<{ der: Buffer }>('SELECT der FROM certificates ORDER BY subject_id');
    return rows.map((row) => Certificate.deserialize(row.der));
  }
}

export class PostgresRegistrationStore implements RegistrationStore {
  constructor(private readonly pool: pg.Pool) {}

  async get(): Promise<RegistrationRecord | null> {
    const { rows } = await this.pool.query<{ relaying_gateway_der: Buffer; user_gateway_der: Buffer | null }>(
      'SELECT relaying_gateway_der, user_gateway_der FROM registration WHERE singleton = 1',
    );
    if (rows.length === 0) return null;
    return {
      relayingGatewayCertificate: Certificate.deserialize(rows[0].relaying_gateway_der),
      userGatewayCertificate: rows[0].user_gateway_der ? Certificate.deserialize(rows[0].user_gateway_der) : null,
    };
  }

  async save(record: RegistrationRecord, move?: { readonly from: QueueName; readonly to: QueueName }): Promise<number> {
    return inTransaction(this.pool, async (client) => {
      await client.query(
        `INSERT INTO registration (singleton, relaying_gateway_der, user_gateway_der) VALUES (1, $1, $2)
         ON CONFLICT (singleton) DO UPDATE SET
           relaying_gateway_der = excluded.relaying_gateway_der, user_gateway_der = excluded.user_gateway_der`,
        [record.relayingGatewayCertificate.serialize(), record.userGatewayCertificate?.serialize() ?? null],
      );
      return move ? moveQueue(client, move.from, move.to) : 0;
    });
  }
}
