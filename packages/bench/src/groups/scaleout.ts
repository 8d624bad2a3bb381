/**
 * The `scaleout` group: parcels per second through the relaying side with 1 bin/relayer-gateway on SQLite,
 * 1 on PostgreSQL and 3 on PostgreSQL (one database, one identity), in one run.
 *
 * For each configuration, untimed first: the instances start, a user gateway (in this process, the library)
 * registers through the shared registration folder, and N parcels are made each way: from an app to a public
 * endpoint (packed into cargo by the user gateway), and from that public endpoint to the app (with the app's PDA).
 * Then, timed, at once:
 *
 * - into the Internet: the cargo is delivered over CogRPC, round-robin across the instances (one courier stream
 *   each), and the instances deliver its parcels over PogRPC to the public endpoint (a PogRPC server here);
 * - from the Internet: the public endpoint delivers its parcels over PogRPC, round-robin across the instances, and
 *   couriers collect them as cargo with CCAs, round-robin, until the user gateway has stored all N.
 *
 * `scaleout.<config>.parcelsPerSec` is 2N over the time until both ends have all N. Also per configuration: the
 * peak RSS of each instance, and the most connections to the database seen during the run (pg_stat_activity).
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

import { CogRPCClient } from '@twitter-relaynet/cogrpc';
import {
  generateRsaKeyPair,
  issueDeliveryAuthorization,
  issueEndpointCertificate,
  Parcel,
  type Certificate,
} from '@twitter-relaynet/core';
import {
  createMemoryStores,
  readRegistrationResponse,
  UserGateway,
  writeRegistrationRequest,
} from '@twitter-relaynet/gateway';
import { createPogRPCServer, PogRPCClient, type PogRPCServer } from '@twitter-relaynet/pogrpc';
import { createTestDatabase, testDatabaseServerUrl, type TestDatabase } from '@twitter-relaynet/test-support';
import pg from 'pg';

import { groupSizes, type BenchGroup, type GroupContext, type Target } from '../harness';
import { KIB_PER_MIB, readCpuMsOfProcessesNamed, readProcessCpuMs, readThreadCpuMs } from '../procfs';
import { Daemon, waitFor } from '../network';

const PUBLIC_ADDRESS = 'scaleout.relaynet.test';
const PARCEL_CONTENT_BYTES = 200;
/** A safety net for a run that stalls. */
const RUN_TIMEOUT_MS = 30 * 60_000;
/** Parcels per PogRPC call from the public endpoint (each call goes to the next instance). */
const POGRPC_CHUNK = 50;
const CONNECTION_SAMPLE_MS = 100;
/** PostgreSQL backends flush their statistics at most this often (PGSTAT_MIN_INTERVAL is 1 s), plus a margin. */
const STATS_FLUSH_MS = 1_500;
/** User gateways (each with its courier): enough for every instance to have several at once. */
const USERS = 12;
/**
 * Before the timed part, an untimed one through the same instances, with WARMUP_USERS other user gateways and this
 * share of N: the timed part measures instances in their steady state, as a daemon runs, not their start (code
 * not yet optimized by the JIT, first connections and TLS sessions), which k instances would pay k times.
 */
const WARMUP_USERS = 3;
const WARMUP_SHARE = 1;
/** The issue: 3 instances ≥ 1.5× one on PostgreSQL; one on PostgreSQL ≥ 0.5× one on SQLite. */
export const SCALEOUT_TARGETS = { pg3VsPg1: { min: 1.5 } as Target, pg1VsSqlite1: { min: 0.5 } as Target };

interface Config {
  readonly name: 'sqlite1' | 'pg1' | 'pg3';
  readonly instances: number;
  readonly postgres: boolean;
}

const CONFIGS: readonly Config[] = [
  { name: 'sqlite1', instances: 1, postgres: false },
  { name: 'pg1', instances: 1, postgres: true },
  { name: 'pg3', instances: 3, postgres: true },
];

export const scaleoutGroup: BenchGroup = {
  name: 'scaleout',
  description:
    'Parcels per second through bin/relayer-gateway (cargo in over CogRPC, parcels out over PogRPC, and back): 1 instance on SQLite, 1 and 3 on PostgreSQL',
  run: runScaleout,
};

async function runScaleout({ options, figures, log }: GroupContext): Promise<void> {
  const n = groupSizes(options).scaleoutParcels;
  for (const config of CONFIGS) {
    const run = new ScaleoutRun(config, n, log);
    try {
      const result = await run.measure();
      figures.record(`scaleout.${config.name}.parcelsPerSec`, (2 * n) / (result.ms / 1000), 'parcels/s');
      figures.record(`scaleout.${config.name}.seconds`, result.ms / 1000, 's');
      result.peakRssKiB.forEach((kib, index) => {
        if (kib !== null) figures.record(`scaleout.${config.name}.i${index}.peakRssMiB`, kib / KIB_PER_MIB, 'MiB');
      });
      if (config.postgres) figures.record(`scaleout.${config.name}.dbConnections`, result.connections, 'connections');
      // How well the instances batch their writes: fewer, larger transactions per parcel cost less CPU everywhere.
      if (result.transactions !== null)
        figures.record(
          `scaleout.${config.name}.dbTransactionsPerParcel`,
          result.transactions / (2 * n),
          'transactions',
        );
      // Where the CPU went (on a machine of few cores, what bounds the gain of more instances).
      result.instanceCpuMs.forEach((cpuMs, index) => {
        if (cpuMs !== null) figures.record(`scaleout.${config.name}.i${index}.cpuSeconds`, cpuMs / 1000, 's');
      });
      result.instanceMainThreadCpuMs.forEach((cpuMs, index) => {
        if (cpuMs !== null) figures.record(`scaleout.${config.name}.i${index}.mainThreadCpuSeconds`, cpuMs / 1000, 's');
      });
      const cpu = {
        instances: result.instancesCpuMs,
        postgres: result.postgresCpuMs,
        postgresBackends: result.backendsCpuMs,
        bench: result.benchCpuMs,
        benchMainThread: result.benchMainThreadCpuMs,
      };
      for (const [part, cpuMs] of Object.entries(cpu)) {
        if (cpuMs !== null) figures.record(`scaleout.${config.name}.cpuSeconds.${part}`, cpuMs / 1000, 's');
      }
      recordCpuBound(figures, config, 2 * n, result);
    } catch (error) {
      run.describeDaemons(log);
      figures.note(`scaleout: ${config.name} failed: ${error instanceof Error ? error.message : String(error)}`);
      log(
        `scaleout: ${config.name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      );
    } finally {
      await run.close();
    }
  }
  figures.ratio('scaleout.pg3.vsPg1', 'scaleout.pg3.parcelsPerSec', 'scaleout.pg1.parcelsPerSec', {
    label: '1 instance on PostgreSQL',
    target: SCALEOUT_TARGETS.pg3VsPg1,
  });
  figures.ratio('scaleout.pg1.vsSqlite1', 'scaleout.pg1.parcelsPerSec', 'scaleout.sqlite1.parcelsPerSec', {
    label: '1 instance on SQLite',
    target: SCALEOUT_TARGETS.pg1VsSqlite1,
  });
}

/**
 * CPU per parcel of each part (instances, PostgreSQL, the bench's own driver: couriers, user gateways and public
 * endpoint) and the most parcels per second this machine's cores could give at that CPU per parcel, were every
 * core busy: when a configuration is near that bound, more instances on the same cores cannot help.
 */
function recordCpuBound(figures: GroupContext['figures'], config: Config, parcels: number, result: RunResult): void {
  const parts = { instances: result.instancesCpuMs, postgres: result.postgresCpuMs, bench: result.benchCpuMs };
  let total = 0;
  for (const [part, cpuMs] of Object.entries(parts)) {
    if (cpuMs === null) continue;
    total += cpuMs;
    figures.record(`scaleout.${config.name}.cpuMsPerParcel.${part}`, cpuMs / parcels, 'ms');
  }
  if (total === 0) return;
  figures.record(`scaleout.${config.name}.cpuMsPerParcel.total`, total / parcels, 'ms');
  figures.record(`scaleout.${config.name}.coresUsed`, total / result.ms, 'cores');
  figures.record(
    `scaleout.${config.name}.cpuBoundParcelsPerSec`,
    availableParallelism() / (total / parcels / 1000),
    'parcels/s',
  );
}

interface Published {
  readonly address: string;
  readonly tlsCertificatePem?: string;
}

interface UserTraffic {
  readonly gateway: UserGateway;
  /** Ids of its parcels to the public endpoint. */
  readonly toInternet: string[];
  /** The public endpoint's parcels to its app. */
  readonly fromInternet: Buffer[];
  /** Its parcels to the public endpoint, packed. */
  readonly cargoes: Buffer[];
}

interface RunResult {
  readonly ms: number;
  readonly peakRssKiB: (number | null)[];
  readonly connections: number;
  /** CPU time used during the timed part, in ms (null when /proc cannot tell). */
  readonly instancesCpuMs: number | null;
  /** The same, per instance. */
  readonly instanceCpuMs: (number | null)[];
  /** The same, the main thread (event loop) of each instance only. */
  readonly instanceMainThreadCpuMs: (number | null)[];
  readonly postgresCpuMs: number | null;
  /** The CPU of this run's database backends only (the server may serve others meanwhile). */
  readonly backendsCpuMs: number | null;
  readonly benchCpuMs: number;
  readonly benchMainThreadCpuMs: number | null;
  /** Transactions committed (or rolled back) in the database during the run, every instance's. */
  readonly transactions: number | null;
}

async function drain<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

class ScaleoutRun {
  private readonly root = mkdtempSync(join(tmpdir(), 'relaynet-scaleout-'));
  private readonly daemons: Daemon[] = [];
  private readonly couriers: CogRPCClient[] = [];
  private readonly publicClients: PogRPCClient[] = [];
  private database: TestDatabase | null = null;
  private sink: PogRPCServer | null = null;
  /** Distinct parcel ids the public endpoint received. */
  private readonly received = new Set<string>();
  private closed = false;

  constructor(
    private readonly config: Config,
    private readonly n: number,
    private readonly log: (message: string) => void,
  ) {}

  private dataDir(index: number): string {
    return join(this.root, `i${index}`, 'relayer-gateway');
  }

  private published(index: number, file: 'cogrpc.json' | 'pogrpc.json'): Published {
    return JSON.parse(readFileSync(join(this.dataDir(index), file), 'utf8')) as Published;
  }

  async measure(): Promise<RunResult> {
    const { config, n } = this;
    this.log(`scaleout: ${config.name}: ${config.instances} instance(s), ${n} parcels each way (in ${this.root})`);
    if (config.postgres) this.database = await createTestDatabase(pg, 'bench_scaleout');
    await this.startSink();
    await this.startInstances();
    const warmup = Math.max(WARMUP_USERS, Math.round(n * WARMUP_SHARE));
    const warmupUsers = await this.prepareTraffic(WARMUP_USERS, warmup, 'warmup-');
    const users = await this.prepareTraffic(USERS, n, '');
    const cargoes = users.reduce((sum, user) => sum + user.cargoes.length, 0);
    this.log(`scaleout: ${config.name}: warming up with ${warmup} parcels each way`);
    await this.exchange(warmupUsers);
    this.log(`scaleout: ${config.name}: ${USERS} user gateways, ${cargoes} cargoes ready; timing`);

    for (const daemon of this.daemons) daemon.resetPeakRss();
    const sampler = this.database ? new ConnectionSampler(this.database) : null;
    const cpuBefore = this.cpuMs();
    const started = performance.now();
    await this.exchange(users);
    const ms = performance.now() - started;
    const cpuAfter = this.cpuMs();
    const sampled = await sampler?.stop();
    const missing = users.flatMap((user) => user.toInternet).filter((id) => !this.received.has(id)).length;
    if (missing > 0) throw new Error(`${missing} parcels did not reach the public endpoint`);
    const cpuSpent = (before: number | null, after: number | null) =>
      before === null || after === null ? null : after - before;
    return {
      ms,
      peakRssKiB: this.daemons.map((daemon) => daemon.memory()?.peakRssKiB ?? null),
      connections: sampled?.connections ?? 0,
      backendsCpuMs: sampled?.backendsCpuMs ?? null,
      transactions: sampled?.transactions ?? null,
      instancesCpuMs: cpuSpent(cpuBefore.instances, cpuAfter.instances),
      instanceCpuMs: cpuBefore.perInstance.map((before, index) => cpuSpent(before, cpuAfter.perInstance[index])),
      instanceMainThreadCpuMs: cpuBefore.perInstanceMain.map((before, index) =>
        cpuSpent(before, cpuAfter.perInstanceMain[index]),
      ),
      postgresCpuMs: this.database ? cpuSpent(cpuBefore.postgres, cpuAfter.postgres) : null,
      benchCpuMs: cpuAfter.bench - cpuBefore.bench,
      benchMainThreadCpuMs: cpuSpent(cpuBefore.benchMain, cpuAfter.benchMain),
    };
  }

  /** The users' traffic both ways, all at once; resolves once both ends have all of it. */
  private async exchange(users: readonly UserTraffic[]): Promise<void> {
    const expected = this.received.size + users.reduce((sum, user) => sum + user.toInternet.length, 0);
    await Promise.all([
      this.deliverCargo(users),
      waitFor(
        'every parcel at the public endpoint',
        () => {
          this.assertOpen();
          return this.received.size >= expected;
        },
        RUN_TIMEOUT_MS,
        10,
      ),
      this.sendFromInternet(users.flatMap((user) => user.fromInternet)).then(() =>
        Promise.all(users.map((user, userIndex) => this.collect(user, userIndex))),
      ),
    ]);
  }

  /** CPU time so far of the instances (each and together), of the PostgreSQL server's processes, and of this process. */
  private cpuMs(): {
    perInstance: (number | null)[];
    perInstanceMain: (number | null)[];
    instances: number | null;
    postgres: number | null;
    bench: number;
    benchMain: number | null;
  } {
    const perInstance = this.daemons.map((daemon) => readProcessCpuMs(daemon.pid));
    const perInstanceMain = this.daemons.map((daemon) => readThreadCpuMs(daemon.pid));
    const { user, system } = process.cpuUsage();
    return {
      perInstance,
      perInstanceMain,
      benchMain: readThreadCpuMs(process.pid),
      instances: perInstance.includes(null) ? null : perInstance.reduce((sum: number, ms) => sum + ms!, 0),
      postgres: readCpuMsOfProcessesNamed('postgres'),
      bench: (user + system) / 1000,
    };
  }

  private async startSink(): Promise<void> {
    this.sink = await createPogRPCServer({
      address: '127.0.0.1:0',
      tls: { stateDir: join(this.root, 'sink'), hostnames: ['127.0.0.1'] },
      onParcel: async (serialized) => {
        this.received.add((await Parcel.deserialize(serialized)).id);
      },
    });
    const certificatePath = join(this.root, 'sink-cert.pem');
    writeFileSync(certificatePath, this.sink.certificatePem!);
    writeFileSync(
      join(this.root, 'address-book.json'),
      JSON.stringify({
        [PUBLIC_ADDRESS]: { address: `127.0.0.1:${this.sink.port}`, tlsCertificatePath: certificatePath },
      }),
    );
  }

  private daemon(index: number): Daemon {
    return new Daemon(
      'relayer-gateway',
      [
        '--data-root',
        join(this.root, `i${index}`),
        '--registration-dir',
        join(this.root, 'registration'),
        '--pogrpc-address',
        '127.0.0.1:0',
        '--cogrpc-address',
        '127.0.0.1:0',
        '--cogrpc-plaintext',
        '--poll-interval',
        '200',
        '--address-book',
        join(this.root, 'address-book.json'),
        ...(this.database ? ['--database-url', this.database.url] : []),
      ],
      { countLogLines: false },
    );
  }

  /** The first makes the identity; the others get a copy of its files, as the README says. */
  private async startInstances(): Promise<void> {
    this.daemons.push(this.daemon(0));
    await this.daemons[0].start();
    for (let index = 1; index < this.config.instances; index += 1) {
      mkdirSync(this.dataDir(index), { recursive: true, mode: 0o700 });
      for (const file of ['identity-key.pem', 'identity-certificate.pem']) {
        copyFileSync(join(this.dataDir(0), file), join(this.dataDir(index), file));
      }
      this.daemons.push(this.daemon(index));
    }
    await Promise.all(this.daemons.slice(1).map((daemon) => daemon.start()));
    for (let index = 0; index < this.daemons.length; index += 1) {
      // Plaintext on the loopback, as the instances serve it here (--cogrpc-plaintext).
      this.couriers.push(
        new CogRPCClient(this.published(index, 'cogrpc.json').address, { tls: { insecurePlaintextForTests: true } }),
      );
      const pogrpc = this.published(index, 'pogrpc.json');
      this.publicClients.push(
        new PogRPCClient(pogrpc.address, { tls: { pinnedCertificatePem: pogrpc.tlsCertificatePem! } }),
      );
    }
  }

  /**
   * `userCount` user gateways registered through the folder, each with an app, and their share of `parcels` each way
   * between that app and the public endpoint (the one towards the Internet queued at the user gateway).
   */
  private async prepareTraffic(userCount: number, parcels: number, idPrefix: string): Promise<UserTraffic[]> {
    const publicKeys = await generateRsaKeyPair();
    const inOneDay = new Date(Date.now() + 86_400_000);
    const publicCertificate = await issueEndpointCertificate({
      subjectPublicKey: publicKeys.publicKey,
      issuerPrivateKey: publicKeys.privateKey,
      validityEndDate: inOneDay,
    });
    const content = Buffer.alloc(PARCEL_CONTENT_BYTES, 'x');
    const users: UserTraffic[] = [];
    for (let userIndex = 0; userIndex < userCount; userIndex += 1) {
      const share = Math.floor(parcels / userCount) + (userIndex < parcels % userCount ? 1 : 0);
      const userKeys = await generateRsaKeyPair();
      await writeRegistrationRequest(join(this.root, 'registration', 'requests'), userKeys.publicKey);
      const response = await waitFor('the registration response', () =>
        readRegistrationResponse(join(this.root, 'registration', 'responses'), userKeys.publicKey),
      );
      const gateway = new UserGateway({
        identity: { privateKey: userKeys.privateKey, certificate: response.userGatewayCertificate },
        relayingGateway: { certificate: response.relayingGatewayCertificate },
        stores: createMemoryStores(),
      });
      const appKeys = await generateRsaKeyPair();
      const appCertificate = await gateway.registerEndpoint(appKeys.publicKey);
      const pda = await issueDeliveryAuthorization({
        subjectPublicKey: publicKeys.publicKey,
        issuerPrivateKey: appKeys.privateKey,
        issuerCertificate: appCertificate,
        validityEndDate: inOneDay,
      });
      const toInternet: string[] = [];
      for (let index = 0; index < share; index += 1) {
        const id = `${idPrefix}out-${userIndex}-${index}`;
        const parcel = new Parcel(
          { id: publicCertificate.calculateSubjectId(), internetAddress: PUBLIC_ADDRESS },
          appCertificate,
          content,
          { id, ttl: 3_600, senderCaCertificateChain: [gateway.certificate] },
        );
        await gateway.receiveParcelFromEndpoint(await parcel.serialize(appKeys.privateKey));
        toInternet.push(id);
      }
      const chain: Certificate[] = [appCertificate, gateway.certificate];
      const fromInternet = await Promise.all(
        Array.from({ length: share }, (_, index) =>
          new Parcel({ id: appCertificate.calculateSubjectId() }, pda, content, {
            id: `${idPrefix}in-${userIndex}-${index}`,
            ttl: 3_600,
            senderCaCertificateChain: chain,
          }).serialize(publicKeys.privateKey),
        ),
      );
      const cargoes = (await drain(gateway.generateCargoForRelayingGateway())).map((cargo) => cargo.serialized);
      users.push({ gateway, toInternet, fromInternet, cargoes });
    }
    return users;
  }

  /** Each user's courier delivers its cargo to one instance (user i to instance i mod k); all must be acknowledged. */
  private async deliverCargo(users: readonly UserTraffic[]): Promise<void> {
    await Promise.all(
      users.map(async ({ cargoes }, userIndex) => {
        const courier = this.couriers[userIndex % this.couriers.length];
        const { acked, error } = await courier.deliverCargo(cargoes.map((cargo) => ({ cargo })));
        if (acked.length !== cargoes.length)
          throw new Error(
            `Only ${acked.length} of ${cargoes.length} cargoes were acknowledged` + (error ? `: ${error.message}` : ''),
          );
      }),
    );
  }

  /** The public endpoint's parcels in calls of POGRPC_CHUNK, each to the next instance, all at once. */
  private async sendFromInternet(parcels: Buffer[]): Promise<void> {
    const calls: Promise<void>[] = [];
    for (let start = 0; start < parcels.length; start += POGRPC_CHUNK) {
      const client = this.publicClients[(start / POGRPC_CHUNK) % this.publicClients.length];
      const chunk = parcels
        .slice(start, start + POGRPC_CHUNK)
        .map((parcel, index) => ({ id: String(start + index), parcel }));
      calls.push(
        client.deliverParcels(chunk).then((report) => {
          if (report.acked.length !== chunk.length)
            throw new Error(`PogRPC: ${report.acked.length} of ${chunk.length} parcels acknowledged`);
        }),
      );
    }
    await Promise.all(calls);
  }

  /** A user's CCAs, each to the next instance, until its gateway stored all its parcels from the Internet. */
  private async collect({ gateway, fromInternet }: UserTraffic, userIndex: number): Promise<void> {
    let stored = 0;
    const deadline = Date.now() + RUN_TIMEOUT_MS;
    for (let round = userIndex; stored < fromInternet.length; round += 1) {
      this.assertOpen();
      if (Date.now() > deadline)
        throw new Error(`Collected ${stored} of ${fromInternet.length} parcels from the Internet`);
      const courier = this.couriers[round % this.couriers.length];
      const { error } = await courier.collectCargo(await gateway.generateCca(), {
        onCargo: async (cargo) => {
          stored += (await gateway.receiveCargo(cargo)).parcelsStored;
        },
      });
      if (error) throw error;
    }
  }

  /** What each instance last wrote on stderr (a failed run says why there). */
  describeDaemons(log: (message: string) => void): void {
    for (const daemon of this.daemons) log(daemon.describe());
  }

  /**
   * After close() (a part of the run failed), the parts still waiting or collecting stop here: else they would keep
   * the bench's process alive until RUN_TIMEOUT_MS.
   */
  private assertOpen(): void {
    if (this.closed) throw new Error('The run was closed');
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const courier of this.couriers) courier.close();
    for (const client of this.publicClients) client.close();
    await Promise.all(this.daemons.map((daemon) => daemon.stop()));
    await this.sink?.close();
    await this.database?.drop().catch(() => undefined);
    rmSync(this.root, { recursive: true, force: true });
  }
}

/**
 * The most connections to the database at any sample (every CONNECTION_SAMPLE_MS), this sampler's own excepted, and
 * the CPU its backends used between the samples that saw them (from /proc: the server is on this machine).
 */
class ConnectionSampler {
  private peak = 0;
  /** Per backend pid: its CPU time (ms) at the first and at the last sample that saw it. */
  private readonly backends = new Map<number, { first: number; last: number }>();
  private transactionsBefore: number | null = null;
  private readonly client: pg.Client;
  private readonly running: Promise<void>;
  private stopped = false;

  constructor(private readonly database: TestDatabase) {
    this.client = new pg.Client({ connectionString: testDatabaseServerUrl() });
    this.running = this.loop();
  }

  /** Transactions of the database so far (pg_stat_database), null if the server does not say. */
  private async transactions(): Promise<number | null> {
    const { rows } = await this.client.query<{ n: string | null }>(
      'SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = $1',
      [this.database.name],
    );
    return rows[0]?.n == null ? null : Number(rows[0].n);
  }

  private async loop(): Promise<void> {
    await this.client.connect();
    this.transactionsBefore = await this.transactions();
    while (!this.stopped) {
      const { rows } = await this.client.query<{ pid: number }>(
        'SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
        [this.database.name],
      );
      this.peak = Math.max(this.peak, rows.length);
      for (const { pid } of rows) {
        const cpuMs = readProcessCpuMs(pid);
        if (cpuMs === null) continue;
        const seen = this.backends.get(pid);
        if (seen) seen.last = cpuMs;
        else this.backends.set(pid, { first: cpuMs, last: cpuMs });
      }
      await new Promise((done) => setTimeout(done, CONNECTION_SAMPLE_MS));
    }
  }

  async stop(): Promise<{ connections: number; backendsCpuMs: number | null; transactions: number | null }> {
    this.stopped = true;
    await this.running;
    // Backends report their counts to pg_stat_database at most once a second: the run's last second is in only
    // after that (the instances are idle by now; a few transactions of their timers may be counted).
    await new Promise((done) => setTimeout(done, STATS_FLUSH_MS));
    const after = await this.transactions();
    await this.client.end();
    let cpuMs = 0;
    for (const { first, last } of this.backends.values()) cpuMs += last - first;
    const before = this.transactionsBefore;
    return {
      connections: this.peak,
      backendsCpuMs: this.backends.size > 0 ? cpuMs : null,
      transactions: before === null || after === null ? null : after - before,
    };
  }
}
