import { SchemaVersionError } from '@twitter-relaynet/core';
import { CcaReusedError, INTERNET_QUEUE, RelayingGateway } from '@twitter-relaynet/gateway';
import { describeWithPostgres, useTestDatabase, waitFor } from '@twitter-relaynet/test-support';
import pg from 'pg';

import { makeWorld, NOW, parcel } from '@twitter-relaynet/test-support/gateway';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations';
import { IdentityMismatchError, openPostgresStores, type PostgresGatewayStores } from './stores';
import { openEmptyStores } from './testDatabase';

// Safety net for a loaded machine (the CCA test makes 100 rounds of RSA work); nothing here waits for time to pass.
jest.setTimeout(120_000);

/** Several instances over one database: each `PostgresGatewayStores` here has its own pool, as a process would. */
describeWithPostgres('several instances over one PostgreSQL database', () => {
  const database = useTestDatabase(pg, 'instances');
  let instances: PostgresGatewayStores[] = [];

  async function openInstances(count: number): Promise<PostgresGatewayStores[]> {
    const [first] = (instances = [await openEmptyStores(database.current().url)]);
    for (let i = 1; i < count; i += 1) {
      instances.push(await openPostgresStores({ connectionString: database.current().url, maxConnections: 4 }));
    }
    return [first, ...instances.slice(1)];
  }

  afterEach(async () => {
    await Promise.all(instances.map((stores) => stores.close()));
    instances = [];
  });

  test('instances that start at once on a new database migrate it once', async () => {
    const name = `${database.current().name}_m`;
    const admin = new pg.Client({ connectionString: database.current().url });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${name}`);
      const url = new URL(database.current().url);
      url.pathname = `/${name}`;
      instances = await Promise.all(
        [1, 2, 3, 4].map(() => openPostgresStores({ connectionString: url.toString(), maxConnections: 2 })),
      );
      const { rows } = await instances[0].pool.query<{ version: number }>(
        'SELECT version FROM schema_migrations ORDER BY version',
      );
      expect(rows.map((row) => row.version)).toEqual(MIGRATIONS.map((migration) => migration.version));
      // A database migrated by newer code is not touched by older code.
      await instances[0].pool.query('INSERT INTO schema_migrations (version) VALUES ($1)', [SCHEMA_VERSION + 1]);
      await expect(openPostgresStores({ connectionString: url.toString() })).rejects.toThrow(SchemaVersionError);
      await Promise.all(instances.map((stores) => stores.close()));
      instances = [];
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    }
  });

  test('every instance must have the identity of the first one', async () => {
    const [a, b] = await openInstances(2);
    await a.bindIdentity('0first');
    await expect(b.bindIdentity('0first')).resolves.toBeUndefined();
    await expect(b.bindIdentity('0another')).rejects.toThrow(IdentityMismatchError);
    await expect(b.bindIdentity('0another')).rejects.toThrow('belongs to the relaying gateway 0first');
  });

  test('concurrent claims by three instances never hand out a parcel twice', async () => {
    const [a, b, c] = await openInstances(3);
    const ids = Array.from({ length: 90 }, (_, i) => `p${i}`);
    await a.writeBatch(
      ids.map((id) => ({ kind: 'put parcel' as const, parcel: parcel({ queue: INTERNET_QUEUE, id }) })),
    );
    const lease = new Date(NOW.getTime() + 60_000);
    const claimedBy = await Promise.all(
      [a, b, c].map(async (stores) => {
        const mine: string[] = [];
        for (;;) {
          const round = await stores.parcels.claimDue(INTERNET_QUEUE, NOW, lease, 7);
          if (round.length === 0) return mine;
          mine.push(...round.map((record) => record.id));
        }
      }),
    );
    const all = claimedBy.flat();
    expect(all.sort()).toEqual([...ids].sort());
    expect(new Set(all).size).toBe(ids.length);
  });

  test("a dead instance's claims are taken over by another when their lease ends", async () => {
    const [a, b] = await openInstances(2);
    for (const id of ['x', 'y', 'z']) await a.parcels.put(parcel({ queue: INTERNET_QUEUE, id }));
    const leaseEnd = new Date(NOW.getTime() + 120_000);
    const held = await a.parcels.claimDue(INTERNET_QUEUE, NOW, leaseEnd, 2);
    expect(held.map((record) => record.id)).toEqual(['x', 'y']);
    // The holder dies: its connections are gone, its parcels still leased.
    await a.close();
    const longLease = new Date(NOW.getTime() + 3_600_000);
    expect((await b.parcels.claimDue(INTERNET_QUEUE, NOW, longLease, 10)).map((record) => record.id)).toEqual(['z']);
    await expect(b.parcels.claimDue(INTERNET_QUEUE, new Date(leaseEnd.getTime() - 1), leaseEnd, 10)).resolves.toEqual(
      [],
    );
    const takenOver = await b.parcels.claimDue(INTERNET_QUEUE, leaseEnd, new Date(leaseEnd.getTime() + 120_000), 10);
    expect(takenOver.map((record) => [record.id, record.attempts])).toEqual([
      ['x', 2],
      ['y', 2],
    ]);
  });

  test('a copy that arrives while its parcel is being delivered stays leased and goes with the delivery', async () => {
    const [a, b] = await openInstances(2);
    const key = { queue: INTERNET_QUEUE, senderId: '0sender', id: 'p1' };
    await a.parcels.put(parcel({ queue: INTERNET_QUEUE }));
    const lease = new Date(NOW.getTime() + 60_000);
    await a.parcels.claimDue(INTERNET_QUEUE, NOW, lease, 1);
    await expect(b.parcels.put(parcel({ queue: INTERNET_QUEUE }))).resolves.toBe('replaced');
    // Not due again while the first delivery runs ...
    await expect(b.parcels.claimDue(INTERNET_QUEUE, NOW, lease, 10)).resolves.toEqual([]);
    // ... and the delivery's deletion removes it: nothing left to deliver a second time.
    const [recorded, deleted] = await a.writeBatch([
      { kind: 'record id', namespace: `delivered:${INTERNET_QUEUE}`, id: '0sender/p1', expiryDate: lease },
      { kind: 'delete parcel', key },
    ]);
    expect([recorded, deleted]).toEqual([true, true]);
    await expect(b.parcels.get(key)).resolves.toBeNull();
  });

  test('a copy of a parcel that another instance is marking delivered at that moment is never left queued', async () => {
    const [a, b] = await openInstances(2);
    const expiryDate = new Date(NOW.getTime() + 3_600_000);
    const ids = Array.from({ length: 40 }, (_, i) => `race${i}`);
    for (const id of ids) await a.parcels.put(parcel({ queue: INTERNET_QUEUE, id }));
    await a.parcels.claimDue(INTERNET_QUEUE, NOW, expiryDate, ids.length);
    const delivered = (id: string) => ({ namespace: `delivered:${INTERNET_QUEUE}`, id: `0sender/${id}` });
    // A marks each delivered while B stores the copy that came again (its ledger look-up found nothing yet).
    const outcomes = await Promise.all(
      ids.map(async (id) => {
        const [, copy] = await Promise.all([
          a.writeBatch([
            { kind: 'record id', ...delivered(id), expiryDate },
            { kind: 'delete parcel', key: { queue: INTERNET_QUEUE, senderId: '0sender', id } },
          ]),
          b.writeBatch([
            { kind: 'put parcel', parcel: parcel({ queue: INTERNET_QUEUE, id }), unlessRecorded: delivered(id) },
          ]),
        ]);
        return copy[0];
      }),
    );
    expect(outcomes.every((outcome) => outcome === 'replaced' || outcome === 'already recorded')).toBe(true);
    expect(await a.parcels.count(INTERNET_QUEUE)).toBe(0);
    // The copy's put comes after the delivery's commit (the look-up before it came earlier): stored nothing.
    await expect(
      b.writeBatch([
        {
          kind: 'put parcel',
          parcel: parcel({ queue: INTERNET_QUEUE, id: 'race0' }),
          unlessRecorded: delivered('race0'),
        },
      ]),
    ).resolves.toEqual(['already recorded']);
    expect(await a.parcels.count(INTERNET_QUEUE)).toBe(0);
  });

  test('the same CCA presented to three instances at once is accepted by exactly one, 100 times out of 100', async () => {
    const [a, b, c] = await openInstances(3);
    const world = await makeWorld({ relayingStores: a });
    const identity = { privateKey: world.relayingNode.keyPair.privateKey, certificate: world.relayingNode.certificate };
    const gateways = [
      world.relaying,
      new RelayingGateway({ identity, stores: b, clock: world.clock }),
      new RelayingGateway({ identity, stores: c, clock: world.clock }),
    ];
    const accepted: number[] = [];
    for (let round = 0; round < 100; round += 1) {
      const cca = await world.user.generateCca();
      const outcomes = await Promise.allSettled(gateways.map((gateway) => gateway.collectCargo(cca)));
      const served = outcomes.filter((outcome) => outcome.status === 'fulfilled');
      const refused = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [outcome.reason] : []));
      accepted.push(served.length);
      expect(refused.every((reason) => reason instanceof CcaReusedError)).toBe(true);
      for (const outcome of served) await outcome.value.cargoes.return(undefined);
    }
    expect(accepted).toEqual(Array(100).fill(1));
  });

  test('a sweep runs on one instance at a time, and a dead holder does not keep it', async () => {
    const [a, b, c] = await openInstances(3);
    let release!: () => void;
    const running = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started!: () => void;
    const holding = new Promise<void>((resolve) => {
      started = resolve;
    });
    const runs: string[] = [];
    const first = a.exclusively('purge', async () => {
      runs.push('a');
      started();
      await running;
    });
    await holding;
    await expect(b.exclusively('purge', async () => void runs.push('b'))).resolves.toBe(false);
    await expect(c.exclusively('purge', async () => void runs.push('c'))).resolves.toBe(false);
    // Another sweep is another lock.
    await expect(c.exclusively('other', async () => void runs.push('c other'))).resolves.toBe(true);
    release();
    await expect(first).resolves.toBe(true);
    await expect(b.exclusively('purge', async () => void runs.push('b'))).resolves.toBe(true);
    expect(runs).toEqual(['a', 'c other', 'b']);

    // The holder's connection dies mid-sweep (the process was killed): the lock goes with it.
    let held!: () => void;
    const stuck = new Promise<void>((resolve) => {
      held = resolve;
    });
    let finish!: () => void;
    const unfinished = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const dying = c.exclusively('purge', async () => {
      held();
      await unfinished;
    });
    try {
      await stuck;
      await expect(a.exclusively('purge', async () => undefined)).resolves.toBe(false);
      await a.pool.query(
        // With a timeout, the call returns once the backend is gone (and its locks with it).
        `SELECT pg_terminate_backend(pid, 20000) FROM pg_locks
         WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      );
      await expect(a.exclusively('purge', async () => void runs.push('a again'))).resolves.toBe(true);
      expect(runs).toContain('a again');
    } finally {
      finish();
      // The dead holder learns it when it lets go; its broken connection is not reused.
      await dying.catch(() => undefined);
    }
    await expect(c.exclusively('purge', async () => void runs.push('c again'))).resolves.toBe(true);
  });

  test('an instance hears of parcels queued by another at commit, and again after its listener is cut', async () => {
    const [a, b] = await openInstances(2);
    const heard: string[] = [];
    let waiting: { queue: string; resolve: () => void } | null = null;
    const next = (queue: string) =>
      new Promise<void>((resolve) => {
        waiting = { queue, resolve };
      });
    await b.onParcelsQueued((queue) => {
      heard.push(queue);
      if (waiting?.queue === queue) waiting.resolve();
    });
    let heardNow = next(INTERNET_QUEUE);
    await a.parcels.put(parcel({ queue: INTERNET_QUEUE, id: 'one' }));
    await heardNow;
    expect(heard).toEqual([INTERNET_QUEUE]);

    // A batch that fails is rolled back, and notifies nobody; the next one does.
    await expect(
      a.writeBatch([
        { kind: 'put parcel', parcel: parcel({ queue: INTERNET_QUEUE, id: 'two' }) },
        { kind: 'put parcel', parcel: parcel({ queue: INTERNET_QUEUE, id: 'bad', expiryDate: new Date(Number.NaN) }) },
      ]),
    ).rejects.toThrow();
    heardNow = next('peer:0gw');
    await a.writeBatch([{ kind: 'put parcel', parcel: parcel({ queue: 'peer:0gw', id: 'three' }) }]);
    await heardNow;
    expect(heard).toEqual([INTERNET_QUEUE, 'peer:0gw']);

    // The listening connection is cut: the listener is told to rescan (''), and hears again once reconnected.
    heardNow = next('');
    await a.pool.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
       WHERE application_name = 'relayer-gateway listener' AND datname = current_database()`,
    );
    await heardNow;
    expect(heard[2]).toBe('');
    // What is awaited happens in another connection: poll the database.
    await waitFor(
      'the listener to reconnect',
      async () => {
        const { rows } = await a.pool.query(
          "SELECT 1 FROM pg_stat_activity WHERE application_name = 'relayer-gateway listener' AND datname = current_database()",
        );
        return rows.length > 0;
      },
      20_000,
      20,
    );
    const count = heard.length;
    heardNow = next(INTERNET_QUEUE);
    await a.parcels.put(parcel({ queue: INTERNET_QUEUE, id: 'four' }));
    await heardNow;
    expect(heard.slice(count).filter((queue) => queue !== '')).toEqual([INTERNET_QUEUE]);
  });
});
