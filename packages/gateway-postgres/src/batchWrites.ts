import type { LedgerKey, NewParcelRecord, ParcelKey, StoreWrite, StoreWriteResult } from '@twitter-relaynet/gateway';
import type pg from 'pg';

/**
 * `writeBatch`'s writes in a few multi-row statements instead of one or two statements each: a round trip to
 * the server (a `writev`, a wake-up of the backend, a reply to parse) per parcel was most of an instance's busy
 * time, and more instances meant more of them for the same parcels.
 *
 * Same results as applying the writes one by one in order:
 * - the batch is cut into segments in which no two writes touch the same row (a parcel, a PCA, a ledger id,
 *   the ledger id a put is guarded by included); writes within a segment commute, so a segment runs as one
 *   statement per kind of write, and segments run in order;
 * - a guarded put's guard is still a statement of its own after the upsert (a new snapshot: a delivery
 *   committed meanwhile is seen), now one for all the segment's guarded puts;
 * - puts keep their order (rows are inserted in it, each taking the next `seq`);
 * - per-row outcomes come back through RETURNING, by key.
 */

/** Rows per statement at most (parameters are limited to 65,535). */
const MAX_ROWS = 1_000;
/** Parcel octets per statement at most: a statement's parameters are one message, held in memory at once. */
const MAX_STATEMENT_OCTETS = 1024 * 1024;

type Write<K extends StoreWrite['kind']> = Extract<StoreWrite, { kind: K }>;

interface Indexed<W> {
  readonly index: number;
  readonly write: W;
}

interface Segment {
  readonly puts: Indexed<Write<'put parcel'>>[];
  readonly parcelDeletions: Indexed<Write<'delete parcel'>>[];
  readonly reschedulings: Indexed<Write<'reschedule parcel'>>[];
  readonly pcaPuts: Indexed<Write<'put pca'>>[];
  readonly pcaDeletions: Indexed<Write<'delete pca'>>[];
  readonly records: Indexed<Write<'record id'>>[];
}

function emptySegment(): Segment {
  return { puts: [], parcelDeletions: [], reschedulings: [], pcaPuts: [], pcaDeletions: [], records: [] };
}

const SEPARATOR = '\u0000';
const parcelRow = (key: ParcelKey) => ['parcel', key.queue, key.senderId, key.id].join(SEPARATOR);
const ledgerRow = (key: LedgerKey) => ['ledger', key.namespace, key.id].join(SEPARATOR);
const pcaRow = (peerId: string, senderId: string, parcelId: string) =>
  ['pca', peerId, senderId, parcelId].join(SEPARATOR);

/** The rows a write reads or writes. */
function rowsOf(write: StoreWrite): string[] {
  switch (write.kind) {
    case 'put parcel':
      return write.unlessRecorded
        ? [parcelRow(write.parcel), ledgerRow(write.unlessRecorded)]
        : [parcelRow(write.parcel)];
    case 'delete parcel':
    case 'reschedule parcel':
      return [parcelRow(write.key)];
    case 'put pca':
      return [pcaRow(write.pca.peerId, write.pca.senderEndpointId, write.pca.parcelId)];
    case 'delete pca':
      return [pcaRow(write.peerId, write.senderEndpointId, write.parcelId)];
    case 'record id':
      return [ledgerRow(write)];
  }
}

/** Consecutive runs of writes in which no row is touched twice. */
function segments(writes: readonly StoreWrite[]): Segment[] {
  const result: Segment[] = [];
  let segment = emptySegment();
  let touched = new Set<string>();
  writes.forEach((write, index) => {
    const rows = rowsOf(write);
    if (rows.some((row) => touched.has(row))) {
      result.push(segment);
      segment = emptySegment();
      touched = new Set();
    }
    for (const row of rows) touched.add(row);
    switch (write.kind) {
      case 'put parcel':
        segment.puts.push({ index, write });
        break;
      case 'delete parcel':
        segment.parcelDeletions.push({ index, write });
        break;
      case 'reschedule parcel':
        segment.reschedulings.push({ index, write });
        break;
      case 'put pca':
        segment.pcaPuts.push({ index, write });
        break;
      case 'delete pca':
        segment.pcaDeletions.push({ index, write });
        break;
      case 'record id':
        segment.records.push({ index, write });
        break;
    }
  });
  result.push(segment);
  return result;
}

/** `items` in chunks of at most MAX_ROWS rows and (beyond a first row) MAX_STATEMENT_OCTETS of `octets`. */
function chunks<T>(items: readonly T[], octets: (item: T) => number = () => 0): T[][] {
  const result: T[][] = [];
  let chunk: T[] = [];
  let size = 0;
  for (const item of items) {
    const itemSize = octets(item);
    if (chunk.length > 0 && (chunk.length >= MAX_ROWS || size + itemSize > MAX_STATEMENT_OCTETS)) {
      result.push(chunk);
      chunk = [];
      size = 0;
    }
    chunk.push(item);
    size += itemSize;
  }
  if (chunk.length > 0) result.push(chunk);
  return result;
}

/** `(VALUES ($1, $2::timestamptz), ($3, $4::timestamptz), …)` for rows of `types.length` parameters. */
function valuesList(rows: number, types: readonly string[]): string {
  const tuples: string[] = [];
  for (let row = 0; row < rows; row += 1) {
    const parameters = types.map((type, column) => `$${row * types.length + column + 1}${type ? `::${type}` : ''}`);
    tuples.push(`(${parameters.join(', ')})`);
  }
  return tuples.join(', ');
}

const keyOf = (...parts: readonly string[]) => parts.join(SEPARATOR);

/** The keys (`key_columns`, joined) of the rows a statement returned. */
async function returnedKeys(
  client: pg.PoolClient,
  sql: string,
  parameters: unknown[],
  keyColumns: readonly string[],
): Promise<Set<string>> {
  const { rows } = await client.query<Record<string, string>>(sql, parameters);
  return new Set(rows.map((row) => keyOf(...keyColumns.map((column) => row[column]))));
}

/** Apply `writes` (as `writeBatch`, inside its transaction) and return their results, in order. */
export async function applyWrites(client: pg.PoolClient, writes: readonly StoreWrite[]): Promise<StoreWriteResult[]> {
  const results: StoreWriteResult[] = new Array<StoreWriteResult>(writes.length).fill(undefined);
  for (const segment of segments(writes)) {
    await putParcels(client, segment.puts, results);
    await deleteParcels(client, segment.parcelDeletions, results);
    await rescheduleParcels(client, segment.reschedulings, results);
    await putPcas(client, segment.pcaPuts);
    await deletePcas(client, segment.pcaDeletions, results);
    await recordIds(client, segment.records, results);
  }
  return results;
}

const PARCEL_KEY_COLUMNS = ['queue', 'sender_id', 'message_id'] as const;
const parcelKey = (key: ParcelKey) => keyOf(key.queue, key.senderId, key.id);

async function putParcels(
  client: pg.PoolClient,
  puts: readonly Indexed<Write<'put parcel'>>[],
  results: StoreWriteResult[],
): Promise<void> {
  for (const chunk of chunks(puts, ({ write }) => write.parcel.serialized.length)) {
    // In place, keeping the row's lease and attempts: a copy that arrives while the parcel is being delivered
    // must neither become due at once (another instance would deliver it twice) nor escape the deletion that
    // follows the delivery. It takes a new seq: a replacement goes to the end of its queue. Rows go in the
    // writes' order (each takes the next seq).
    const parameters = chunk.flatMap(({ write: { parcel } }: { write: { parcel: NewParcelRecord } }) => [
      parcel.queue,
      parcel.senderId,
      parcel.id,
      parcel.recipientId,
      parcel.recipientInternetAddress,
      parcel.expiryDate,
      parcel.serialized,
    ]);
    const inserted = await returnedKeys(
      client,
      `INSERT INTO parcels (queue, sender_id, message_id, recipient_id, recipient_address, expiry, serialized)
       VALUES ${valuesList(chunk.length, ['', '', '', '', '', '', ''])}
       ON CONFLICT (queue, sender_id, message_id) DO UPDATE SET
         seq = nextval('gateway_seq'), recipient_id = excluded.recipient_id,
         recipient_address = excluded.recipient_address, expiry = excluded.expiry, serialized = excluded.serialized
       RETURNING queue, sender_id, message_id, (xmax = 0)::text AS inserted`,
      parameters,
      [...PARCEL_KEY_COLUMNS, 'inserted'],
    );
    for (const { index, write } of chunk) {
      results[index] = inserted.has(keyOf(parcelKey(write.parcel), 'true')) ? 'stored' : 'replaced';
    }
  }
  // The guards, after the upserts, in a statement of their own (a new snapshot): a delivery committed meanwhile
  // is seen here; one committed later must first delete this very row, which it then does.
  const guarded = puts.filter(({ write }) => write.unlessRecorded);
  for (const chunk of chunks(guarded)) {
    const parameters = chunk.flatMap(({ write: { parcel, unlessRecorded } }) => [
      parcel.queue,
      parcel.senderId,
      parcel.id,
      unlessRecorded!.namespace,
      unlessRecorded!.id,
    ]);
    const deleted = await returnedKeys(
      client,
      `DELETE FROM parcels USING (VALUES ${valuesList(chunk.length, ['text', 'text', 'text', 'text', 'text'])})
         AS guard (queue, sender_id, message_id, namespace, id)
       WHERE parcels.queue = guard.queue AND parcels.sender_id = guard.sender_id
         AND parcels.message_id = guard.message_id
         AND EXISTS (SELECT 1 FROM ledger WHERE ledger.namespace = guard.namespace AND ledger.id = guard.id)
       RETURNING parcels.queue, parcels.sender_id, parcels.message_id`,
      parameters,
      PARCEL_KEY_COLUMNS,
    );
    for (const { index, write } of chunk) {
      if (deleted.has(parcelKey(write.parcel))) results[index] = 'already recorded';
    }
  }
}

async function deleteParcels(
  client: pg.PoolClient,
  deletions: readonly Indexed<Write<'delete parcel'>>[],
  results: StoreWriteResult[],
): Promise<void> {
  for (const chunk of chunks(deletions)) {
    const deleted = await returnedKeys(
      client,
      `DELETE FROM parcels USING (VALUES ${valuesList(chunk.length, ['text', 'text', 'text'])})
         AS doomed (queue, sender_id, message_id)
       WHERE parcels.queue = doomed.queue AND parcels.sender_id = doomed.sender_id
         AND parcels.message_id = doomed.message_id
       RETURNING parcels.queue, parcels.sender_id, parcels.message_id`,
      chunk.flatMap(({ write: { key } }) => [key.queue, key.senderId, key.id]),
      PARCEL_KEY_COLUMNS,
    );
    for (const { index, write } of chunk) results[index] = deleted.has(parcelKey(write.key));
  }
}

async function rescheduleParcels(
  client: pg.PoolClient,
  reschedulings: readonly Indexed<Write<'reschedule parcel'>>[],
  results: StoreWriteResult[],
): Promise<void> {
  for (const chunk of chunks(reschedulings)) {
    const updated = await returnedKeys(
      client,
      `UPDATE parcels SET next_attempt = due.next_attempt
       FROM (VALUES ${valuesList(chunk.length, ['text', 'text', 'text', 'timestamptz'])})
         AS due (queue, sender_id, message_id, next_attempt)
       WHERE parcels.queue = due.queue AND parcels.sender_id = due.sender_id AND parcels.message_id = due.message_id
       RETURNING parcels.queue, parcels.sender_id, parcels.message_id`,
      chunk.flatMap(({ write: { key, nextAttemptDate } }) => [key.queue, key.senderId, key.id, nextAttemptDate]),
      PARCEL_KEY_COLUMNS,
    );
    for (const { index, write } of chunk) results[index] = updated.has(parcelKey(write.key));
  }
}

async function putPcas(client: pg.PoolClient, puts: readonly Indexed<Write<'put pca'>>[]): Promise<void> {
  for (const chunk of chunks(puts)) {
    await client.query(
      `INSERT INTO pcas (peer_id, sender_id, parcel_id, recipient_id, expiry)
       VALUES ${valuesList(chunk.length, ['', '', '', '', ''])}
       ON CONFLICT (peer_id, sender_id, parcel_id) DO UPDATE SET
         seq = nextval('gateway_seq'), recipient_id = excluded.recipient_id, expiry = excluded.expiry`,
      chunk.flatMap(({ write: { pca } }) => [
        pca.peerId,
        pca.senderEndpointId,
        pca.parcelId,
        pca.recipientEndpointId,
        pca.expiryDate,
      ]),
    );
  }
}

async function deletePcas(
  client: pg.PoolClient,
  deletions: readonly Indexed<Write<'delete pca'>>[],
  results: StoreWriteResult[],
): Promise<void> {
  for (const chunk of chunks(deletions)) {
    const deleted = await returnedKeys(
      client,
      `DELETE FROM pcas USING (VALUES ${valuesList(chunk.length, ['text', 'text', 'text'])})
         AS doomed (peer_id, sender_id, parcel_id)
       WHERE pcas.peer_id = doomed.peer_id AND pcas.sender_id = doomed.sender_id
         AND pcas.parcel_id = doomed.parcel_id
       RETURNING pcas.peer_id, pcas.sender_id, pcas.parcel_id`,
      chunk.flatMap(({ write }) => [write.peerId, write.senderEndpointId, write.parcelId]),
      ['peer_id', 'sender_id', 'parcel_id'],
    );
    for (const { index, write } of chunk) {
      results[index] = deleted.has(keyOf(write.peerId, write.senderEndpointId, write.parcelId));
    }
  }
}

/** As `recordId` in stores.ts: of concurrent writers of one id, exactly one gets true. */
async function recordIds(
  client: pg.PoolClient,
  records: readonly Indexed<Write<'record id'>>[],
  results: StoreWriteResult[],
): Promise<void> {
  for (const chunk of chunks(records)) {
    const recorded = await returnedKeys(
      client,
      `INSERT INTO ledger (namespace, id, expiry) VALUES ${valuesList(chunk.length, ['', '', ''])}
       ON CONFLICT (namespace, id) DO NOTHING
       RETURNING namespace, id`,
      chunk.flatMap(({ write }) => [write.namespace, write.id, write.expiryDate]),
      ['namespace', 'id'],
    );
    for (const { index, write } of chunk) results[index] = recorded.has(keyOf(write.namespace, write.id));
  }
}
