/**
 * The network as users run it, for the end-to-end groups: the real daemons (bin/user-gateway,
 * bin/relayer-gateway) as child processes in a temporary data root, bin/relay as the courier, the
 * adapter's side as a PublicEndpoint listening on PogRPC in this process (published where the
 * relaying gateway's address book is written from it: twitter-api-adapter/pogrpc.json), and apps as
 * PrivateEndpoints talking PoWebSocket to the user gateway's socket. Paths follow
 * docs/runtime-layout.md.
 */
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';

import { silentLogger } from '@twitter-relaynet/core';
import {
  type DeliveryAuthorization,
  deserializeDeliveryAuthorization,
  type IncomingMessage,
  type PublicPeer,
  PoWebSocketGatewayTransport,
  PrivateEndpoint,
  PublicEndpoint,
  readConnectionParameters,
  serializeDeliveryAuthorization,
} from '@twitter-relaynet/endpoint';

import {
  buildPackages,
  Daemon as ProcessDaemon,
  runProcess,
  waitFor as waitForCondition,
} from '@twitter-relaynet/test-support';

import {
  parseProcStatCpuMs,
  parseProcStatus,
  readProcessCpuMs,
  readProcessMemory,
  resetPeakRss,
  type ProcessMemory,
} from './procfs';

/** The repository root (this file is packages/bench/{src,dist}/network.*). */
export const REPO = resolve(__dirname, '..', '..', '..');
export const ADAPTER_ADDRESS = 'twitter-api-adapter.relaynet.local';
/** How long to wait for a daemon to print "ready", or for a condition of a run, by default. */
const READY_TIMEOUT_MS = 60_000;
/** How long a daemon may take to shut down cleanly after SIGTERM before it is killed. */
const STOP_TIMEOUT_MS = 5_000;
/** Characters of a daemon's stderr kept for error messages. */
const STDERR_TAIL_CHARS = 4_000;

/** test-support's `waitFor` with the benchmarks' pace: up to a minute by default, checked every 20 ms. */
export function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  timeoutMs = READY_TIMEOUT_MS,
  stepMs = 20,
): Promise<NonNullable<T>> {
  return waitForCondition(what, check, timeoutMs, stepMs);
}

/** The packages behind the executables the end-to-end groups run. */
const EXECUTABLE_PACKAGES = [
  'user-gateway',
  'relayer-gateway',
  'relay',
  'twitter-app',
  'twitter-api-adapter',
  'x-api-emulator',
];

/** Build the executables (incremental; `npm run bench` has built everything already). */
export function buildExecutables(): void {
  buildPackages(
    REPO,
    EXECUTABLE_PACKAGES.map((name) => `packages/${name}`),
  );
}

/** A daemon child process (test-support's `Daemon`) whose JSON-line log messages are counted as they arrive. */
export class Daemon extends ProcessDaemon {
  private readonly counts: Map<string, number>;
  private readonly extraArgs: { args: readonly string[] };

  /**
   * @param kind the executable in bin/ (or a name, with `options.command`)
   * @param args its arguments
   */
  constructor(
    readonly kind: string,
    args: readonly string[],
    options: {
      /** Extra environment (e.g. NODE_OPTIONS with a profiling preload). */
      readonly env?: NodeJS.ProcessEnv;
      /** The command, when not bin/<kind> (e.g. [node, script]). */
      readonly command?: readonly string[];
      /** What it prints on stdout once ready (default "<kind>: ready"). */
      readonly readyText?: string;
      /**
       * Count its log lines by message, for `count` (default true). Off where nothing counts them: parsing every
       * line of a busy daemon is CPU of the bench's process, taken from what it measures.
       */
      readonly countLogLines?: boolean;
    } = {},
  ) {
    const [command, ...commandArgs] = options.command ?? [join(REPO, 'bin', kind)];
    const counts = new Map<string, number>();
    const extraArgs = { args: [] as readonly string[] };
    super(command, {
      name: kind,
      args: () => [...commandArgs, ...args, ...extraArgs.args],
      env: { ...process.env, ...options.env },
      readyText: options.readyText,
      readyTimeoutMs: READY_TIMEOUT_MS,
      stderrTailChars: STDERR_TAIL_CHARS,
      onStderrLine: options.countLogLines === false ? undefined : (line) => countLogLine(counts, line),
    });
    this.counts = counts;
    this.extraArgs = extraArgs;
  }

  override get pid(): number {
    const pid = super.pid;
    if (pid === undefined) throw new Error(`${this.kind} is not running`);
    return pid;
  }

  /** More arguments, known only once other processes started (e.g. a port). */
  setArgs(args: readonly string[]): void {
    this.extraArgs.args = args;
  }

  /** How many log lines with this message (and for this recipient, if given) arrived so far. */
  count(message: string, recipientId?: string): number {
    return this.counts.get(recipientId === undefined ? message : `${message}|${recipientId}`) ?? 0;
  }

  memory(): ProcessMemory | null {
    return readProcessMemory(this.pid);
  }

  resetPeakRss(): boolean {
    return resetPeakRss(this.pid);
  }

  /** SIGTERM, then SIGKILL if it has not shut down in a few seconds. */
  override stop(): Promise<void> {
    return super.stop('SIGTERM', STOP_TIMEOUT_MS);
  }

  /** What it printed on stdout so far. */
  get output(): string {
    return this.stdout;
  }
}

/** Counts a JSON log line by its message, and by message and recipient. */
function countLogLine(counts: Map<string, number>, line: string): void {
  if (!line.startsWith('{')) return;
  try {
    const { msg, recipientId } = JSON.parse(line) as { msg?: unknown; recipientId?: unknown };
    if (typeof msg !== 'string') return;
    counts.set(msg, (counts.get(msg) ?? 0) + 1);
    if (typeof recipientId === 'string') {
      const key = `${msg}|${recipientId}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  } catch {
    // Not a log line.
  }
}

export interface RelayRun {
  readonly status: number | null;
  readonly ms: number;
  /** The relay's own /proc/self/status at exit (VmHWM is its peak RSS), when on Linux. */
  readonly memory: ProcessMemory | null;
  /** Peak RSS of each gateway during the run (reset just before it), in KiB. */
  readonly gatewayPeakRssKiB: number | null;
  /**
   * CPU time (user + system, all threads) the relay used, node's start included, and the gateway used during the
   * run, in ms; null without /proc. Less swayed by other processes than the wall time: where the time goes.
   */
  readonly cpuMs: { readonly relay: number | null; readonly gateway: number | null };
  readonly stderr: string;
}

/** An app: a registered private endpoint that has the adapter as a peer and sent it its PDA. */
export interface App {
  readonly endpoint: PrivateEndpoint;
  readonly peer: PublicPeer;
  readonly received: IncomingMessage[];
}

export interface NetworkOptions {
  /**
   * Write a CPU profile of every daemon and relay run into this folder (as `node --cpu-prof`
   * would; written as each process exits). Default: $BENCH_CPU_PROFILE_DIR, else none.
   */
  readonly profileDir?: string;
  /** The relaying gateway also serves CogRPC over TLS (port 0), for `relay(..., { over: 'cogrpc' })`. */
  readonly cogrpc?: boolean;
}

/**
 * A preload that profiles the process like `node --cpu-prof` (which NODE_OPTIONS does not allow):
 * the inspector's profiler from the start, written as <dir>/<name>-<pid>.cpuprofile at exit (the
 * in-process inspector session answers synchronously, so this works in an exit handler).
 */
const PROFILE_PRELOAD = `const inspector = require('inspector');
const session = new inspector.Session();
session.connect();
session.post('Profiler.enable');
session.post('Profiler.setSamplingInterval', { interval: 500 });
session.post('Profiler.start');
process.on('exit', () => {
  session.post('Profiler.stop', (error, result) => {
    if (error) return;
    const name = require('path').basename(process.argv[1] || 'node').replace(/\\.js$/, '');
    require('fs').writeFileSync(require('path').join(process.env.BENCH_PROFILE_DIR, name + '-' + process.pid + '.cpuprofile'), JSON.stringify(result.profile));
  });
});
`;

/** NODE_OPTIONS for child processes: the caller's, plus the given preloads. */
function childNodeOptions(...preloads: string[]): string {
  return [process.env.NODE_OPTIONS ?? '', ...preloads.map((file) => `--require ${file}`)].filter(Boolean).join(' ');
}

export class Network {
  readonly root = mkdtempSync(join(tmpdir(), 'relaynet-bench-'));
  private readonly profileDir: string | undefined;
  readonly relayer: Daemon;
  readonly userGateway: Daemon;
  /** Messages the adapter received (PDAs excepted), by count. */
  adapterReceived = 0;
  /** PDAs the adapter received, by private endpoint id. */
  readonly pdas = new Map<string, DeliveryAuthorization>();
  adapter!: PublicEndpoint;
  private readonly apps: App[] = [];
  private readonly rssPreload = join(this.root, 'rss-at-exit.js');

  constructor(private readonly options: NetworkOptions = {}) {
    this.profileDir = options.profileDir ?? process.env.BENCH_CPU_PROFILE_DIR;
    if (this.profileDir) {
      mkdirSync(this.profileDir, { recursive: true });
      writeFileSync(this.profilePreload, PROFILE_PRELOAD);
    }
    const env = this.profileEnv();
    const cogrpc = options.cogrpc ? ['--cogrpc-address', '127.0.0.1:0'] : [];
    this.relayer = new Daemon(
      'relayer-gateway',
      [
        '--data-root',
        this.root,
        '--pogrpc-address',
        '127.0.0.1:0',
        '--poll-interval',
        '100',
        '--address-book',
        this.path('address-book.json'),
        ...cogrpc,
      ],
      { env },
    );
    this.userGateway = new Daemon('user-gateway', ['--data-root', this.root, '--poll-interval', '100'], { env });
    // The relay's peak RSS and CPU time are read by the relay itself as it exits (through NODE_OPTIONS, so
    // that bin/relay runs unchanged): polling would miss the peak of a short run, and its end.
    writeFileSync(
      this.rssPreload,
      "process.on('exit', () => { try { const fs = require('fs'); fs.writeFileSync(process.env.BENCH_RSS_FILE, fs.readFileSync('/proc/self/status')); fs.writeFileSync(process.env.BENCH_RSS_FILE + '.stat', fs.readFileSync('/proc/self/stat')); } catch {} });\n",
    );
  }

  private get profilePreload(): string {
    return join(this.root, 'cpu-profile.js');
  }

  /** The environment of a child: profiled when asked, plus more preloads. */
  private profileEnv(...preloads: string[]): NodeJS.ProcessEnv {
    const all = this.profileDir ? [this.profilePreload, ...preloads] : preloads;
    return all.length === 0
      ? {}
      : { NODE_OPTIONS: childNodeOptions(...all), ...(this.profileDir ? { BENCH_PROFILE_DIR: this.profileDir } : {}) };
  }

  path(...parts: string[]): string {
    return join(this.root, ...parts);
  }

  get toRelayer(): string {
    return this.path('flashdrive', 'relayer-gw');
  }

  get toUser(): string {
    return this.path('flashdrive', 'user-gw');
  }

  /**
   * Start the relaying gateway, the adapter (by default a PublicEndpoint in this process; else
   * `startAdapter`, e.g. the real daemon), then the user gateway, and wait for its registration.
   */
  async start(options: { startAdapter?: () => Promise<void> } = {}): Promise<void> {
    await this.relayer.start();
    await (options.startAdapter ? options.startAdapter() : this.startAdapter());
    await this.userGateway.start();
    await waitFor('the user gateway registration', () =>
      existsSync(this.path('user-gateway', 'identity-certificate.pem')),
    );
  }

  /** Open the adapter's endpoint again after `stopAdapter` (what the relaying gateway queued for it then flows). */
  async reopenAdapter(): Promise<void> {
    await this.startAdapter();
  }

  /** The relaying gateway's PogRPC address and certificate, as it published them (for the test's own adapter). */
  relayerRoute(): { address: string; tlsCertificatePem: string } {
    return JSON.parse(readFileSync(this.path('relayer-gateway', 'pogrpc.json'), 'utf8')) as {
      address: string;
      tlsCertificatePem: string;
    };
  }

  /**
   * What an adapter process is configured with (`--relaying-gateway`, `--relaying-gateway-certificate`): the daemons
   * never read each other's folders.
   */
  relayerFlags(): string[] {
    const { address, tlsCertificatePem } = this.relayerRoute();
    const certificateFile = this.path('relayer-gateway-pogrpc.pem');
    writeFileSync(certificateFile, tlsCertificatePem);
    return ['--relaying-gateway', address, '--relaying-gateway-certificate', certificateFile];
  }

  /** Give the relaying gateway the adapter's route, from what the adapter published (its address book is read at every delivery). */
  addAdapterToAddressBook(): void {
    const published = JSON.parse(readFileSync(this.path('twitter-api-adapter', 'pogrpc.json'), 'utf8')) as {
      internetAddress: string;
      address: string;
      tlsCertificatePem: string;
    };
    const certificateFile = this.path('twitter-api-adapter-pogrpc.pem');
    writeFileSync(certificateFile, published.tlsCertificatePem);
    writeFileSync(
      this.path('address-book.json'),
      JSON.stringify({
        [published.internetAddress]: { address: published.address, tlsCertificatePath: certificateFile },
      }),
    );
  }

  private async startAdapter(): Promise<void> {
    const dir = this.path('twitter-api-adapter');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const route = () => {
      const { address, tlsCertificatePem } = this.relayerRoute();
      return { target: address, tls: { pinnedCertificatePem: tlsCertificatePem } };
    };
    this.adapter = await PublicEndpoint.open({
      dataDir: join(dir, 'endpoint'),
      internetAddress: ADAPTER_ADDRESS,
      logger: silentLogger,
      backoff: { initialDelayMs: 100, maxDelayMs: 1_000, jitter: 0 },
      onMessage: async (message) => {
        if (message.type === 'pda') {
          this.pdas.set(message.sender.id, deserializeDeliveryAuthorization(message.content));
        } else {
          this.adapterReceived += 1;
        }
      },
      relayingGateway: route,
    });
    const server = await this.adapter.listen({ address: '127.0.0.1:0', tls: { stateDir: dir } });
    writeFileSync(
      join(dir, 'pogrpc.json'),
      JSON.stringify({
        internetAddress: ADAPTER_ADDRESS,
        address: `127.0.0.1:${server.port}`,
        tlsCertificatePem: server.certificatePem,
      }),
    );
    this.addAdapterToAddressBook();
    await this.adapter.publishConnectionParameters(join(dir, 'connection-parameters.json'));
  }

  get adapterId(): string {
    return this.adapter.id;
  }

  /**
   * Close the adapter's endpoint (its PogRPC server and outbox): the relaying gateway then only
   * queues what is for it, retrying with backoff, so that a measurement is the gateways' alone.
   */
  async stopAdapter(): Promise<void> {
    await this.adapter.close();
  }

  /** A registered app whose PDA is queued at the user gateway (it reaches the adapter on the next trip). */
  async openApp(name: string): Promise<App> {
    const endpoint = await PrivateEndpoint.open({
      dataDir: this.path('apps', name),
      logger: silentLogger,
      transport: new PoWebSocketGatewayTransport({
        socketPath: this.path('user-gateway', 'powebsocket.sock'),
        logger: silentLogger,
      }),
    });
    await endpoint.register();
    const peer = await endpoint.addPublicPeer(
      await readConnectionParameters(this.path('twitter-api-adapter', 'connection-parameters.json')),
    );
    const authorization = await endpoint.issuePda(peer.identityCertificate, new Date(Date.now() + 7 * 24 * 3_600_000));
    await endpoint.sendMessage(peer.internetAddress, {
      type: 'pda',
      content: serializeDeliveryAuthorization(authorization),
    });
    const app: App = { endpoint, peer, received: [] };
    this.apps.push(app);
    return app;
  }

  /**
   * Run bin/relay at one gateway with `--wait 0`: deliver the flashdrive's cargo for it, collect
   * what it has for the other side. Measures its wall time and peak RSS, and the gateway's peak RSS
   * during the run.
   */
  async relay(at: 'user' | 'relayer', options: { over?: 'cosocket' | 'cogrpc' } = {}): Promise<RelayRun> {
    const gateway = at === 'user' ? this.userGateway : this.relayer;
    const [incoming, outgoing] = at === 'user' ? [this.toUser, this.toRelayer] : [this.toRelayer, this.toUser];
    const to =
      options.over === 'cogrpc' ? this.cogrpcArgs(at) : ['--cosocket', this.path(gateway.kind, 'cosocket.sock')];
    mkdirSync(incoming, { recursive: true });
    const rssFile = this.path(`relay-rss-${process.hrtime.bigint()}`);
    const reset = gateway.resetPeakRss();
    const gatewayCpuBefore = readProcessCpuMs(gateway.pid);
    const started = performance.now();
    const run = await runProcess(
      join(REPO, 'bin', 'relay'),
      [...to, '--incoming', incoming, '--outgoing', outgoing, '--wait', '0', '--no-progress'],
      { env: { ...process.env, ...this.profileEnv(this.rssPreload), BENCH_RSS_FILE: rssFile } },
    );
    const result = { status: run.status, stderr: run.stderr.slice(-STDERR_TAIL_CHARS) };
    const ms = performance.now() - started;
    const gatewayMemory = gateway.memory();
    const gatewayCpuAfter = readProcessCpuMs(gateway.pid);
    let memory: ProcessMemory | null = null;
    let relayCpuMs: number | null = null;
    if (existsSync(rssFile)) {
      memory = parseProcStatus(readFileSync(rssFile, 'utf8'));
      relayCpuMs = existsSync(`${rssFile}.stat`) ? parseProcStatCpuMs(readFileSync(`${rssFile}.stat`, 'utf8')) : null;
      rmSync(rssFile, { force: true });
      rmSync(`${rssFile}.stat`, { force: true });
    }
    const cpuMs = {
      relay: relayCpuMs,
      gateway: gatewayCpuBefore !== null && gatewayCpuAfter !== null ? gatewayCpuAfter - gatewayCpuBefore : null,
    };
    return {
      ...result,
      ms,
      memory,
      gatewayPeakRssKiB: reset && gatewayMemory ? gatewayMemory.peakRssKiB : null,
      cpuMs,
    };
  }

  /** bin/relay's options to reach the relaying gateway over CogRPC, pinning the certificate it published. */
  private cogrpcArgs(at: 'user' | 'relayer'): string[] {
    if (at !== 'relayer') throw new Error('Only the relaying gateway serves CogRPC');
    const published = JSON.parse(readFileSync(this.path('relayer-gateway', 'cogrpc.json'), 'utf8')) as {
      address: string;
      tlsCertificatePem: string;
    };
    const certificate = this.path('relayer-cogrpc-cert.pem');
    writeFileSync(certificate, published.tlsCertificatePem);
    return ['--gateway', published.address, '--gateway-certificate', certificate];
  }

  /** Run the relay and fail with its output unless it succeeded (0) or had nothing to do (3). */
  async relayOk(at: 'user' | 'relayer', options: { over?: 'cosocket' | 'cogrpc' } = {}): Promise<RelayRun> {
    const run = await this.relay(at, options);
    if (run.status !== 0 && run.status !== 3) {
      // The last lines say what went wrong (the relay writes one line per file that failed, then a summary).
      const tail = run.stderr.trimEnd().split('\n').slice(-3).join('\n');
      throw new Error(
        `bin/relay at the ${at} gateway exited with ${run.status} after ${(run.ms / 1000).toFixed(1)} s:\n${tail}`,
      );
    }
    return run;
  }

  /** Total size of the regular files in a flashdrive folder. */
  folderBytes(folder: string): { files: number; bytes: number } {
    let files = 0;
    let bytes = 0;
    for (const name of existsSync(folder) ? readdirSync(folder) : []) {
      if (name.startsWith('.')) continue;
      const stats = statSync(join(folder, name));
      if (!stats.isFile()) continue;
      files += 1;
      bytes += stats.size;
    }
    return { files, bytes };
  }

  async close(): Promise<void> {
    for (const app of this.apps) await app.endpoint.close().catch(() => undefined);
    await this.adapter?.close().catch(() => undefined);
    await Promise.all([this.userGateway.stop(), this.relayer.stop()]);
    if (!process.env.KEEP_BENCH_DATA) rmSync(this.root, { recursive: true, force: true });
  }
}

/** Run `op` over `items` with at most `concurrency` in flight; results in order. */
export async function mapConcurrently<T, R>(
  items: readonly T[],
  concurrency: number,
  op: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await op(items[index], index);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  return results;
}

/** Split n into `parts` near-equal shares. */
export function shares(n: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, index) => Math.floor(n / parts) + (index < n % parts ? 1 : 0));
}

/**
 * `make(0)`, `make(1)`, … `make(count - 1)` with up to `concurrency` under way, their results in order, each as
 * soon as it and those before it are ready.
 */
export async function* madeAhead<T>(count: number, concurrency: number, make: (index: number) => Promise<T>) {
  const ahead: Promise<T>[] = [];
  let next = 0;
  const fill = () => {
    while (next < count && ahead.length < concurrency) {
      const made = make(next++);
      made.catch(() => undefined); // awaited in turn below; not an unhandled rejection meanwhile
      ahead.push(made);
    }
  };
  fill();
  while (ahead.length > 0) {
    const result = await ahead.shift()!;
    fill();
    yield result;
  }
}

export interface SendOptions {
  readonly type: string;
  readonly contentBytes: number;
  /** Parcels made (or queued) at once: their crypto runs in libuv's threadpool meanwhile. */
  readonly concurrency: number;
}

/**
 * The apps make `n` parcels for the adapter between them and deliver them to the user gateway, each app over one
 * PoWebSocket connection, delivering each parcel as soon as it is made (the window's worth unacknowledged).
 */
export async function sendFromApps(apps: readonly App[], n: number, options: SendOptions): Promise<void> {
  const perApp = shares(n, apps.length);
  const concurrencyPerApp = Math.max(1, Math.floor(options.concurrency / apps.length));
  await Promise.all(
    apps.map((app, appIndex) =>
      app.endpoint.deliverParcels(
        madeAhead(perApp[appIndex], concurrencyPerApp, () =>
          app.endpoint.makeParcel(app.peer.id, { type: options.type, content: randomBytes(options.contentBytes) }),
        ),
      ),
    ),
  );
}

/**
 * The adapter queues `n` parcels for the apps (each with the PDA its app sent), then waits until
 * the relaying gateway has stored them all (its outbox delivers them over PogRPC).
 */
export async function sendFromAdapter(
  network: Network,
  apps: readonly App[],
  n: number,
  options: SendOptions & { timeoutMs: number },
): Promise<void> {
  const stored = () => apps.reduce((sum, app) => sum + network.relayer.count('Parcel stored', app.endpoint.id), 0);
  const storedBefore = stored();
  const perApp = shares(n, apps.length);
  const targets = apps.flatMap((app, index) => Array.from({ length: perApp[index] }, () => app));
  await mapConcurrently(targets, options.concurrency, (app) => {
    const authorization = network.pdas.get(app.endpoint.id);
    if (!authorization) throw new Error(`The adapter has no PDA from ${app.endpoint.id}`);
    return network.adapter.sendMessage(
      { type: options.type, content: randomBytes(options.contentBytes) },
      { authorization },
    );
  });
  await waitFor(
    'the relaying gateway to store every parcel from the adapter',
    () => stored() >= storedBefore + n,
    options.timeoutMs,
  );
}

/** Open `count` apps and carry their PDAs to the adapter (one untimed trip). */
export async function openAppsWithPdas(network: Network, count: number): Promise<App[]> {
  const apps: App[] = [];
  for (let index = 0; index < count; index++) apps.push(await network.openApp(`app${index}`));
  await network.relayOk('user');
  await network.relayOk('relayer');
  await waitFor('the PDAs at the adapter', () => apps.every((app) => network.pdas.has(app.endpoint.id)));
  return apps;
}
