/**
 * The network as users run it, for the end-to-end groups: the real daemons (bin/user-gateway,
 * bin/relayer-gateway) as child processes in a temporary data root, bin/relay as the courier, the
 * adapter's side as a PublicEndpoint listening on PogRPC (published where the relaying gateway's
 * address book is written from it: twitter-api-adapter/pogrpc.json), and apps as PrivateEndpoints
 * talking PoWebSocket to the user gateway's socket. The adapter and each app run in a process of
 * their own (endpointChild.ts), as bin/twitter-api-adapter and bin/twitter-app do: in the bench's
 * process, their work shared one event loop, which then limited what the groups measured. Paths
 * follow docs/runtime-layout.md.
 */
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

import {
  buildPackages,
  Daemon as ProcessDaemon,
  runProcess,
  waitFor as waitForCondition,
} from '@twitter-relaynet/test-support';

import { shares } from './concurrency';
import { EndpointHost, type ParcelLoad } from './endpointHost';
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
  'bench', // its endpoint child process (dist/endpointChild.js)
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

/** An app: a registered private endpoint (in a process of its own) that has the adapter as a peer and sent it its PDA. */
export interface App {
  readonly id: string;
  readonly host: EndpointHost;
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
  /** The adapter's endpoint process, once started. */
  private adapterHost: EndpointHost | null = null;
  private adapterNodeId: string | null = null;
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
    this.adapterHost ??= await EndpointHost.start('adapter', { ...process.env, ...this.profileEnv() });
    const { id } = await this.adapterHost.call('openAdapter', {
      dir: this.path('twitter-api-adapter'),
      internetAddress: ADAPTER_ADDRESS,
      relayerRouteFile: this.path('relayer-gateway', 'pogrpc.json'),
    });
    this.adapterNodeId = id;
    this.addAdapterToAddressBook();
  }

  get adapterId(): string {
    if (this.adapterNodeId === null) throw new Error('The adapter has not started');
    return this.adapterNodeId;
  }

  /** The adapter's endpoint process (its CPU is part of what the groups measure). */
  get adapterPid(): number | null {
    return this.adapterHost?.pid ?? null;
  }

  /** Messages the adapter received so far (PDAs excepted). */
  async adapterReceived(): Promise<number> {
    return (await this.adapter().call('adapterStatus', null)).received;
  }

  /** Whether the adapter received this app's PDA. */
  async adapterHasPda(appId: string): Promise<boolean> {
    return (await this.adapter().call('adapterStatus', null)).pdaIds.includes(appId);
  }

  /** The adapter queues parcels for these apps (each with its PDA); resolves once they are all in its outbox. */
  async adapterSend(targets: { appId: string; n: number }[], load: ParcelLoad): Promise<void> {
    await this.adapter().call('adapterSend', { targets, ...load });
  }

  private adapter(): EndpointHost {
    if (!this.adapterHost) throw new Error('The adapter has not started');
    return this.adapterHost;
  }

  /**
   * Close the adapter's endpoint (its PogRPC server and outbox): the relaying gateway then only
   * queues what is for it, retrying with backoff, so that a measurement is the gateways' alone.
   */
  async stopAdapter(): Promise<void> {
    await this.adapter().call('close', null);
  }

  /** A registered app whose PDA is queued at the user gateway (it reaches the adapter on the next trip). */
  async openApp(name: string): Promise<App> {
    const host = await EndpointHost.start(name, { ...process.env, ...this.profileEnv() });
    try {
      const { id } = await host.call('openApp', {
        dataDir: this.path('apps', name),
        socketPath: this.path('user-gateway', 'powebsocket.sock'),
        adapterParametersFile: this.path('twitter-api-adapter', 'connection-parameters.json'),
      });
      const app: App = { id, host };
      this.apps.push(app);
      return app;
    } catch (error) {
      await host.stop();
      throw error;
    }
  }

  /** The app processes (their CPU is part of what the groups measure). */
  get appPids(): number[] {
    return this.apps.map((app) => app.host.pid);
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
    await Promise.all([...this.apps.map((app) => app.host.stop()), this.adapterHost?.stop()]);
    await Promise.all([this.userGateway.stop(), this.relayer.stop()]);
    if (!process.env.KEEP_BENCH_DATA) rmSync(this.root, { recursive: true, force: true });
  }
}

/**
 * The apps make `n` parcels for the adapter between them and deliver them to the user gateway, each app over one
 * PoWebSocket connection, delivering each parcel as soon as it is made (the window's worth unacknowledged).
 */
export async function sendFromApps(apps: readonly App[], n: number, load: ParcelLoad): Promise<void> {
  const perApp = shares(n, apps.length);
  const concurrency = Math.max(1, Math.floor(load.concurrency / apps.length));
  await Promise.all(apps.map((app, index) => app.host.call('appSend', { ...load, n: perApp[index], concurrency })));
}

/**
 * The adapter queues `n` parcels for the apps (each with the PDA its app sent), then waits until
 * the relaying gateway has stored them all (its outbox delivers them over PogRPC).
 */
export async function sendFromAdapter(
  network: Network,
  apps: readonly App[],
  n: number,
  options: ParcelLoad & { timeoutMs: number },
): Promise<void> {
  const stored = () => apps.reduce((sum, app) => sum + network.relayer.count('Parcel stored', app.id), 0);
  const storedBefore = stored();
  const perApp = shares(n, apps.length);
  const { timeoutMs, ...load } = options;
  await network.adapterSend(
    apps.map((app, index) => ({ appId: app.id, n: perApp[index] })),
    load,
  );
  await waitFor(
    'the relaying gateway to store every parcel from the adapter',
    () => stored() >= storedBefore + n,
    timeoutMs,
  );
}

/** Each app collects what the user gateway has for it; resolves to the messages the apps received in all, so far. */
export async function collectAtApps(apps: readonly App[]): Promise<number> {
  return sum(await Promise.all(apps.map((app) => app.host.call('appCollect', null))));
}

/** The messages the apps received in all, so far. */
export async function receivedAtApps(apps: readonly App[]): Promise<number> {
  return sum(await Promise.all(apps.map((app) => app.host.call('appReceived', null))));
}

const sum = (counts: readonly number[]) => counts.reduce((total, count) => total + count, 0);

/** Open `count` apps and carry their PDAs to the adapter (one untimed trip). */
export async function openAppsWithPdas(network: Network, count: number): Promise<App[]> {
  const apps: App[] = [];
  for (let index = 0; index < count; index++) apps.push(await network.openApp(`app${index}`));
  await network.relayOk('user');
  await network.relayOk('relayer');
  await waitFor('the PDAs at the adapter', async () => {
    for (const app of apps) if (!(await network.adapterHasPda(app.id))) return false;
    return true;
  });
  return apps;
}
