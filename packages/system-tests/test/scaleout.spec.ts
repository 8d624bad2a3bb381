/**
 * Three bin/relayer-gateway processes over one PostgreSQL database (through a proxy that can cut it off), at the
 * issue's scale: cargo dealt round-robin while one instance is killed -9 and restarted; parcels to a public endpoint
 * while one is killed -9 mid-delivery; the database cut off for 10 s mid-run; collection with many registered user
 * gateways. The defaults keep each test well under a minute; SCALEOUT_FULL_SIZE=1 runs the issue's sizes (1,000
 * cargoes, 10,000 parcels, 10,000 user gateways).
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

import { CogRPCClient as ReferenceClient } from '@relaycorp/cogrpc';
import { CogRPCClient } from '@twitter-relaynet/cogrpc';
import { generateRsaKeyPair, issueDeliveryAuthorization, Parcel } from '@twitter-relaynet/core';
import { createPogRPCServer, PogRPCClient, type PogRPCServer } from '@twitter-relaynet/pogrpc';
import { createMemoryStores, type GatewayStores, RelayingGateway, UserGateway } from '@twitter-relaynet/gateway';
import { openPostgresStores } from '@twitter-relaynet/gateway-postgres';
import {
  describeWithPostgres,
  startThrottlingProxy,
  type ThrottlingProxy,
  useTestDatabase,
} from '@twitter-relaynet/test-support';
import pg from 'pg';

import { parcelsFromApp, PUBLIC_ADDRESS } from './userGateway';
import { buildExecutables, Daemon, readIdentity, relayerInstance, seededRandom, sleep, waitFor } from './world';

const FULL = process.env.SCALEOUT_FULL_SIZE === '1';
const CARGOES = FULL ? 1_000 : 100;
const PARCELS = FULL ? 10_000 : 300;
const USER_GATEWAYS = FULL ? 10_000 : 1_000;
/** The issue's outage: long enough for every instance to notice it, retry, and time out. */
const OUTAGE_MS = 10_000;
/** Short, so that a killed instance's parcels are taken over within the test. */
const LEASE_MS = 3_000;
const INSTANCES = 3;

jest.setTimeout(FULL ? 15 * 60_000 : 120_000);

async function drain<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

describeWithPostgres('three relayer-gateway processes at scale', () => {
  const database = useTestDatabase(pg, 'scaleout_cli');
  const random = seededRandom(Number(process.env.SCALEOUT_SEED ?? Date.now() % 100_000));
  let root: string;
  let proxy: ThrottlingProxy;
  let proxyPort: number;
  let sink: PogRPCServer;
  let user: UserGateway;
  let userStores: GatewayStores;
  const instances: Daemon[] = [];
  /** Every parcel the public endpoint received, as it came off the wire, with the instance that sent it. */
  const wire: { id: string; from: string | null }[] = [];
  /** What the application behind the public endpoint got: each parcel id once (the endpoint's dedup). */
  const application = new Map<string, number>();

  const dataDir = (index: number) => join(root, `i${index}`, 'relayer-gateway');
  const published = (index: number, file: 'cogrpc.json' | 'pogrpc.json') =>
    (JSON.parse(readFileSync(join(dataDir(index), file), 'utf8')) as { address: string }).address;
  const health = (index: number) =>
    JSON.parse(readFileSync(join(dataDir(index), 'health.json'), 'utf8')) as {
      ready: boolean;
      reason: string | null;
      pid: number;
    };
  const courier = (index: number) =>
    ReferenceClient.initLocalhost(Number(published(index, 'cogrpc.json').split(':').pop()));
  const viaProxy = () => {
    const url = new URL(database.current().url);
    url.host = `127.0.0.1:${proxyPort}`;
    return url.toString();
  };
  const daemon = (index: number) => relayerInstance(root, index, viaProxy(), LEASE_MS);
  const withStores = async <T>(
    fn: (stores: Awaited<ReturnType<typeof openPostgresStores>>) => Promise<T>,
  ): Promise<T> => {
    const stores = await openPostgresStores({ connectionString: database.current().url, maxConnections: 1 });
    try {
      return await fn(stores);
    } finally {
      await stores.close();
    }
  };
  const queuedForInternet = () => withStores((stores) => stores.parcels.count('internet'));
  const delivered = (prefix: string) => [...application.keys()].filter((id) => id.startsWith(prefix));

  /** `count` cargoes of `perCargo` parcels each from the user gateway's app (ids `<prefix><n>`), with those parcel ids. */
  async function makeCargoes(
    prefix: string,
    count: number,
    perCargo: number,
  ): Promise<{ cargo: Buffer; ids: string[] }[]> {
    const parcels = await parcelsFromApp(user, count * perCargo, prefix);
    const cargoes: { cargo: Buffer; ids: string[] }[] = [];
    for (let start = 0; start < parcels.length; start += perCargo) {
      const keys = [];
      for (const parcel of parcels.slice(start, start + perCargo))
        keys.push((await user.receiveParcelFromEndpoint(parcel)).key);
      const [cargo, ...more] = await drain(user.generateCargoForRelayingGateway());
      expect(more).toEqual([]);
      // Queued parcels go out in every cargo until the relaying gateway's PCA: these are in this one only.
      for (const key of keys) await userStores.parcels.delete(key);
      cargoes.push({ cargo: cargo.serialized, ids: keys.map((key) => key.id) });
    }
    return cargoes;
  }

  /** Deliver cargoes over one CogRPC call; resolves to the indexes acknowledged (a call that fails ends early). */
  async function deliver(
    client: ReferenceClient,
    cargoes: readonly Buffer[],
    onAck?: () => void,
  ): Promise<Set<number>> {
    const acked = new Set<number>();
    try {
      const acks = client.deliverCargo(
        (async function* () {
          for (const [index, cargo] of cargoes.entries()) yield { localId: String(index), cargo };
        })(),
      );
      for await (const localId of acks) {
        acked.add(Number(localId));
        onAck?.();
      }
    } catch {
      // The instance died or refused: what it acknowledged so far is in `acked`.
    }
    return acked;
  }

  /** Cargo dealt round-robin, one CogRPC call per instance at once: how many were acknowledged in all. */
  async function deliverRoundRobin(
    clients: readonly ReferenceClient[],
    cargoes: readonly { cargo: Buffer }[],
  ): Promise<number> {
    const acked = await Promise.all(
      clients.map((client, index) =>
        deliver(
          client,
          cargoes.filter((_, position) => position % INSTANCES === index).map((item) => item.cargo),
        ),
      ),
    );
    return acked.reduce((sum, set) => sum + set.size, 0);
  }

  /** Each parcel came off the wire at most twice, and a second time only if `victim` had it in flight when killed. */
  function expectDuplicatesOnlyFrom(prefix: string, victimAddress: string | null): void {
    const seen = new Map<string, { from: string | null }[]>();
    for (const item of wire.filter((item) => item.id.startsWith(prefix)))
      seen.set(item.id, [...(seen.get(item.id) ?? []), item]);
    for (const [, copies] of seen) {
      expect(copies.length).toBeLessThanOrEqual(2);
      if (copies.length === 2) expect(copies[0].from).toBe(victimAddress);
    }
    for (const id of delivered(prefix)) expect(application.get(id)).toBe(1);
  }

  beforeAll(async () => {
    buildExecutables();
    root = mkdtempSync(join(tmpdir(), 'relayer-scaleout-'));
    const server = new URL(database.current().url);
    proxy = await startThrottlingProxy({ target: { host: server.hostname, port: Number(server.port || 5432) } });
    proxyPort = Number(proxy.address.split(':').pop());

    sink = await createPogRPCServer({
      address: '127.0.0.1:0',
      tls: { stateDir: join(root, 'sink'), hostnames: ['127.0.0.1'] },
      onParcel: async (serialized, context) => {
        const { id } = await Parcel.deserialize(serialized);
        wire.push({ id, from: context.gatewayAddress });
        // The application gets each parcel once: a copy redelivered after a crash is only acknowledged.
        if (!application.has(id)) application.set(id, 1);
      },
    });
    writeFileSync(join(root, 'sink-cert.pem'), sink.certificatePem!);
    writeFileSync(
      join(root, 'address-book.json'),
      JSON.stringify({
        [PUBLIC_ADDRESS]: { address: `127.0.0.1:${sink.port}`, tlsCertificatePath: join(root, 'sink-cert.pem') },
      }),
    );

    instances.push(daemon(0));
    await instances[0].start();
    for (let index = 1; index < INSTANCES; index += 1) {
      mkdirSync(dataDir(index), { recursive: true, mode: 0o700 });
      for (const file of ['identity-key.pem', 'identity-certificate.pem'])
        copyFileSync(join(dataDir(0), file), join(dataDir(index), file));
      instances.push(daemon(index));
    }
    await Promise.all(instances.slice(1).map((instance) => instance.start()));

    const { keyPair, certificate } = readIdentity(dataDir(0));
    const userKeys = await generateRsaKeyPair();
    const userCertificate = await withStores((stores) =>
      new RelayingGateway({ identity: { privateKey: keyPair.privateKey, certificate }, stores }).registerUserGateway(
        userKeys.publicKey,
      ),
    );
    userStores = createMemoryStores();
    user = new UserGateway({
      identity: { privateKey: userKeys.privateKey, certificate: userCertificate },
      relayingGateway: { certificate },
      stores: userStores,
    });
  }, 120_000);

  afterAll(async () => {
    await Promise.all(instances.map((instance) => instance.stop()));
    await sink?.close();
    await proxy?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  test(`${CARGOES} cargoes round-robin while one instance is killed -9 and restarted: every acknowledged parcel delivered once`, async () => {
    const cargoes = await makeCargoes('rr-', CARGOES, 1);
    const victim = Math.floor(random() * INSTANCES);
    const killAt = Math.floor(CARGOES / 4 + random() * (CARGOES / 2));
    const victimAddress = published(victim, 'pogrpc.json');
    let ackedSoFar = 0;
    let killed: Promise<void> | null = null;
    const mine = (index: number) => cargoes.filter((_, position) => position % INSTANCES === index);
    const clients = await Promise.all(instances.map((_, index) => courier(index)));
    const acked = await Promise.all(
      clients.map((client, index) =>
        deliver(
          client,
          mine(index).map((item) => item.cargo),
          () => {
            ackedSoFar += 1;
            if (ackedSoFar === killAt) killed = instances[victim].stop('SIGKILL');
          },
        ),
      ),
    );
    for (const client of clients) client.close();
    expect(killed).not.toBeNull();
    await killed;

    // The victim acknowledged some of its share before it died: their parcels are stored, so they must arrive.
    const ackedIds = acked.flatMap((indexes, instance) =>
      [...indexes].flatMap((position) => mine(instance)[position].ids),
    );
    expect(acked[victim].size).toBeLessThan(mine(victim).length);

    // Restarted, it takes the rest of its share (as its courier retries).
    await instances[victim].start();
    const retry = await courier(victim);
    const left = mine(victim).filter((_, position) => !acked[victim].has(position));
    const retried = await deliver(
      retry,
      left.map((item) => item.cargo),
    );
    retry.close();
    expect(retried.size).toBe(left.length);

    await waitFor('every parcel delivered', () => delivered('rr-').length === CARGOES, 60_000, 100);
    for (const id of ackedIds) expect(application.get(id)).toBe(1);
    await waitFor('the queue to be empty', async () => (await queuedForInternet()) === 0, 30_000, 200);
    expectDuplicatesOnlyFrom('rr-', victimAddress);
  });

  test(`${PARCELS} parcels to the public endpoint with one instance killed -9 mid-delivery: all delivered, none twice to the application`, async () => {
    const perCargo = Math.ceil(PARCELS / (INSTANCES * 4));
    const cargoes = await makeCargoes('kill-', Math.ceil(PARCELS / perCargo), perCargo);
    const total = cargoes.reduce((sum, item) => sum + item.ids.length, 0);
    const clients = await Promise.all(instances.map((_, index) => courier(index)));
    const acked = await deliverRoundRobin(clients, cargoes);
    for (const client of clients) client.close();
    expect(acked).toBe(cargoes.length);

    // Whoever delivered the parcel that takes the count past a random point is killed on the spot.
    const killAfter = Math.floor(total / 4 + random() * (total / 2));
    const from = await waitFor(
      'deliveries to be under way',
      () => {
        const ours = wire.filter((item) => item.id.startsWith('kill-'));
        return ours.length >= killAfter ? ours[ours.length - 1].from : null;
      },
      60_000,
      5,
    );
    const addresses = instances.map((_, index) => published(index, 'pogrpc.json'));
    const victim = addresses.indexOf(from);
    expect(victim).toBeGreaterThanOrEqual(0);
    await instances[victim].stop('SIGKILL');

    await waitFor('every parcel delivered', () => delivered('kill-').length === total, FULL ? 600_000 : 60_000, 100);
    await waitFor('the queue to be empty', async () => (await queuedForInternet()) === 0, 30_000, 200);
    expectDuplicatesOnlyFrom('kill-', from);
    await instances[victim].start();
  });

  test('PostgreSQL cut off for 10 s mid-run: nothing lost, nothing acknowledged unstored, the instances recover by themselves', async () => {
    const cargoes = await makeCargoes('cut-', 24, 5);
    const before = cargoes.slice(0, 12);
    const during = cargoes.slice(12);
    const clients = await Promise.all(instances.map((_, index) => courier(index)));
    const pids = instances.map((instance) => instance.pid);
    const ackedBefore = await deliverRoundRobin(clients, before);
    expect(ackedBefore).toBe(before.length);

    // Mid-run: the cable is cut while the instances deliver what they just took.
    proxy.cut();
    await proxy.close();
    const outageEnds = Date.now() + OUTAGE_MS;
    let ackedDuring = 0;
    while (Date.now() < outageEnds) {
      const attempts = await Promise.all(clients.map((client, index) => deliver(client, [during[index].cargo])));
      ackedDuring += attempts.reduce((sum, set) => sum + set.size, 0);
      await sleep(500);
    }
    expect(ackedDuring).toBe(0);
    for (let index = 0; index < INSTANCES; index += 1) {
      expect(health(index)).toMatchObject({ ready: false });
      expect(
        instances[index].logs().filter((line) => line.msg.startsWith('PostgreSQL unreachable')).length,
      ).toBeGreaterThanOrEqual(1);
    }

    proxy = await startThrottlingProxy({
      target: {
        host: new URL(database.current().url).hostname,
        port: Number(new URL(database.current().url).port || 5432),
      },
      listen: { host: '127.0.0.1', port: proxyPort },
    });
    await waitFor('every instance ready again', () => instances.every((_, index) => health(index).ready), 30_000, 100);
    expect(instances.map((instance) => instance.pid)).toEqual(pids);
    const ackedAfter = await deliverRoundRobin(clients, during);
    for (const client of clients) client.close();
    expect(ackedAfter).toBe(during.length);

    const all = cargoes.flatMap((item) => item.ids);
    await waitFor('every parcel delivered', () => delivered('cut-').length === all.length, 60_000, 100);
    await waitFor('the queue to be empty', async () => (await queuedForInternet()) === 0, 30_000, 200);
    for (const id of delivered('cut-')) expect(application.get(id)).toBe(1);
  });

  test(`collection for one user gateway among ${USER_GATEWAYS} registered is not slower than among 10`, async () => {
    // Parcels from the public endpoint for the user gateway's app, queued at the relaying gateway: each
    // collection carries them again (they stay queued until the user gateway's PCAs come back).
    const [appKeys, publicKeys] = await Promise.all([generateRsaKeyPair(), generateRsaKeyPair()]);
    const appCertificate = await user.registerEndpoint(appKeys.publicKey);
    const inOneDay = new Date(Date.now() + 86_400_000);
    const pda = await issueDeliveryAuthorization({
      subjectPublicKey: publicKeys.publicKey,
      issuerPrivateKey: appKeys.privateKey,
      issuerCertificate: appCertificate,
      validityEndDate: inOneDay,
    });
    const toApp = await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        new Parcel({ id: appCertificate.calculateSubjectId() }, pda, Buffer.from('reply'), {
          id: `many-${index}`,
          ttl: 3_600,
          senderCaCertificateChain: [appCertificate, user.certificate],
        }).serialize(publicKeys.privateKey),
      ),
    );
    const pogrpc = new PogRPCClient(published(0, 'pogrpc.json'), {
      tls: {
        pinnedCertificatePem: (
          JSON.parse(readFileSync(join(dataDir(0), 'pogrpc.json'), 'utf8')) as { tlsCertificatePem: string }
        ).tlsCertificatePem,
      },
    });
    const report = await pogrpc.deliverParcels(toApp.map((parcel, index) => ({ id: String(index), parcel })));
    pogrpc.close();
    expect({ acked: report.acked.length, error: report.error?.message }).toEqual({ acked: toApp.length });

    // Our own CogRPC client: its deadline is minutes, not the reference client's 3 s (the first collection carries
    // the PCAs of every parcel the earlier tests delivered: 11,000 at the full sizes).
    const clients = instances.map(
      (_, index) => new CogRPCClient(published(index, 'cogrpc.json'), { tls: { insecurePlaintextForTests: true } }),
    );
    const collectionMs = async (rounds: number) => {
      const times: number[] = [];
      for (let round = 0; round < rounds; round += 1) {
        const cca = await user.generateCca();
        const started = performance.now();
        const report = await clients[round % INSTANCES].collectCargo(cca, { onCargo: async () => undefined });
        times.push(performance.now() - started);
        expect(report.error).toBeUndefined();
        expect(report.collected).toBeGreaterThan(0);
      }
      return median(times);
    };

    // With 10 registered (ours and 9 others, each with a queued parcel), then with USER_GATEWAYS: the extra ones
    // are added and removed again between the measurements, so that both sizes are timed under the same load on a
    // shared machine; what is compared is the median of the pairs' ratios.
    const registeredOthers = async (stores: Awaited<ReturnType<typeof openPostgresStores>>) => {
      const { rows } = await stores.pool.query<{ n: string }>(
        "SELECT count(*) AS n FROM certificates WHERE subject_id LIKE 'other-%' OR subject_id LIKE 'extra-%'",
      );
      return Number(rows[0].n);
    };
    const fill = (prefix: string, from: number, to: number) =>
      withStores(async (stores) => {
        // Other user gateways' rows: copies of ours under other ids (generating thousands of RSA keys would take
        // minutes, and what is measured is how collection scales with the rows, not with the keys).
        await stores.pool.query(
          `INSERT INTO certificates (subject_id, der)
             SELECT $4::text || i, der FROM certificates, generate_series($2::int, $3::int - 1) AS i WHERE subject_id = $1`,
          [user.id, from, to, prefix],
        );
        await stores.pool.query(
          `INSERT INTO parcels (queue, sender_id, message_id, recipient_id, recipient_address, expiry, serialized)
             SELECT 'peer:' || $3::text || i, 'sender', 'parcel', $3::text || i, NULL, now() + interval '1 day', '\\x00'::bytea
             FROM generate_series($1::int, $2::int - 1) AS i`,
          [from, to, prefix],
        );
        await stores.pool.query('ANALYZE');
        return registeredOthers(stores);
      });
    const removeExtra = () =>
      withStores(async (stores) => {
        await stores.pool.query("DELETE FROM parcels WHERE queue LIKE 'peer:extra-%'");
        await stores.pool.query("DELETE FROM certificates WHERE subject_id LIKE 'extra-%'");
        await stores.pool.query('ANALYZE');
        return registeredOthers(stores);
      });
    expect(await fill('other-', 0, 9)).toBe(9);
    const ROUNDS = 9;
    await collectionMs(3); // warm-up, and the PCAs out of the way
    const ratios: number[] = [];
    let few = 0;
    let many = 0;
    for (let pair = 0; pair < 3; pair += 1) {
      few = await collectionMs(ROUNDS);
      expect(await fill('extra-', 9, USER_GATEWAYS - 1)).toBe(USER_GATEWAYS - 1);
      many = await collectionMs(ROUNDS);
      expect(await removeExtra()).toBe(9);
      ratios.push(many / few);
    }
    for (const client of clients) client.close();
    // Generous: noise on a shared machine, not a bound on speed. A scan of every registration or queue would be
    // hundreds of times slower at 10,000.
    expect(median(ratios)).toBeLessThan(3);
    process.stderr.write(
      `collection median, last pair: ${few.toFixed(1)} ms with 10 user gateways, ${many.toFixed(1)} ms with ` +
        `${USER_GATEWAYS}; ratios ${ratios.map((ratio) => ratio.toFixed(2)).join(', ')}\n`,
    );
  });
});
