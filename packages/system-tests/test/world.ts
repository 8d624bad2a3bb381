/**
 * Test harness: the real daemons (bin/user-gateway, bin/relayer-gateway) and bin/relay as child
 * processes in a temporary data root; a PublicEndpoint (the adapter's side) and PrivateEndpoints (the
 * app's side) in the test process, wired exactly as docs/runtime-layout.md says.
 */
import { createPublicKey } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { Certificate, derDeserializeRsaPrivateKey, type KeyPair, pemToDer, silentLogger } from '@twitter-relaynet/core';
import {
  type DeliveryAuthorization,
  deserializeDeliveryAuthorization,
  type IncomingMessage,
  PoWebSocketGatewayTransport,
  PrivateEndpoint,
  PublicEndpoint,
  readConnectionParameters,
  serializeDeliveryAuthorization,
} from '@twitter-relaynet/endpoint';
import {
  buildPackages,
  Daemon as ProcessDaemon,
  type LogLine,
  runProcess,
  waitFor,
} from '@twitter-relaynet/test-support';

export const REPO = resolve(__dirname, '..', '..', '..');
export const ADAPTER_ADDRESS = 'twitter-api-adapter.relaynet.local';

/** Build the three executables (and `also`) once (incremental); fail with a clear message otherwise. */
export function buildExecutables(...also: string[]): void {
  buildPackages(REPO, ['packages/user-gateway', 'packages/relayer-gateway', 'packages/relay', ...also]);
}

/** The identity a relaying gateway daemon keeps in `dataDir` (its key and self-issued certificate files). */
export function readIdentity(dataDir: string): { keyPair: KeyPair; certificate: Certificate } {
  const privateKey = derDeserializeRsaPrivateKey(
    pemToDer(readFileSync(join(dataDir, 'identity-key.pem')), 'PRIVATE KEY'),
  );
  const certificate = Certificate.deserialize(
    pemToDer(readFileSync(join(dataDir, 'identity-certificate.pem')), 'CERTIFICATE'),
  );
  return { keyPair: { privateKey, publicKey: createPublicKey(privateKey) }, certificate };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// The system tests import it from here with the rest of their harness.
export { waitFor };

export type { LogLine };

/** One daemon of bin/ as a child process; restartable. */
export class Daemon extends ProcessDaemon {
  constructor(
    readonly kind: 'user-gateway' | 'relayer-gateway' | 'twitter-api-adapter',
    /** Read at every start (a restart may take other flags). */
    args: readonly string[] | (() => readonly string[]),
    /** Read at every start (a restart may move the clock). */
    env: () => NodeJS.ProcessEnv = () => process.env,
  ) {
    super(join(REPO, 'bin', kind), { args, env });
  }
}

export interface RelayResult {
  readonly status: number | null;
  readonly stderr: string;
  readonly killed: boolean;
}

/** The courier's runs, between the gateways' sockets and the flashdrive folders. */
export class Courier {
  constructor(
    private readonly root: string,
    /** The environment of relay runs at the user gateway (the user's computer). */
    private readonly userSideEnv: () => NodeJS.ProcessEnv = () => process.env,
  ) {}

  get toRelayer(): string {
    return join(this.root, 'flashdrive', 'relayer-gw');
  }

  get toUser(): string {
    return join(this.root, 'flashdrive', 'user-gw');
  }

  /** Run bin/relay; with `killAfterMs`, SIGKILL it then (if still running). */
  run(at: 'user' | 'relayer', options: { killAfterMs?: number; onSpawn?: () => void } = {}): Promise<RelayResult> {
    const socket = join(this.root, at === 'user' ? 'user-gateway' : 'relayer-gateway', 'cosocket.sock');
    const [incoming, outgoing] = at === 'user' ? [this.toUser, this.toRelayer] : [this.toRelayer, this.toUser];
    // The flashdrive is plugged in: the relay creates its folders in it, never the flashdrive itself.
    mkdirSync(join(this.root, 'flashdrive'), { recursive: true });
    const args = ['--cosocket', socket, '--incoming', incoming, '--outgoing', outgoing, '--wait', '0', '--no-progress'];
    return runProcess(join(REPO, 'bin', 'relay'), args, {
      env: at === 'user' ? this.userSideEnv() : process.env,
      killAfterMs: options.killAfterMs,
      onSpawn: () => options.onSpawn?.(),
    }).then(({ status, stderr, killed }) => ({ status, stderr, killed }));
  }

  files(folder: string): string[] {
    return existsSync(folder) ? readdirSync(folder).filter((f) => !f.startsWith('.')) : [];
  }
}

/** Messages the app's side received (every call of onMessage: dedup is the endpoint's job). */
export interface Inbox {
  readonly messages: IncomingMessage[];
  readonly contents: () => string[];
}

function makeInbox(): Inbox {
  const messages: IncomingMessage[] = [];
  return { messages, contents: () => messages.map((m) => m.content.toString()) };
}

/** A preload that moves a child process's wall clock by RELAYNET_TEST_CLOCK_SKEW_MS (test only). */
export const SKEWED_CLOCK_PRELOAD = join(__dirname, 'skewed-clock.cjs');

export interface WorldOptions {
  /**
   * How far the user's computer's clock is off (positive: ahead), in ms: the user gateway and relay
   * runs at it get the skewed-clock preload, the apps a skewed Clock.
   */
  readonly userClockSkewMs?: number;
  /**
   * Run bin/twitter-api-adapter (a child process, posting to this X API) instead of the adapter's endpoint in
   * this process; `adapter`, `adapterInbox`, `pdas` and `reply` are then unused.
   */
  readonly adapterProcess?: {
    readonly apiBaseUrl: string;
    readonly consumer: { readonly key: string; readonly secret: string };
    /** Its own data root (default: the world's): the Internet side on two computers. */
    readonly dataRoot?: string;
    /**
     * How the relaying gateway learns the adapter's address and certificate: the world's address book, written
     * once the adapter is up (the default), or `relayerFlags` the test sets before restarting the relaying gateway.
     */
    readonly route?: 'address book' | 'flags';
  };
}

/** The environment of a child process whose wall clock is `skewMs` away from ours. */
export function skewedEnv(skewMs: number): NodeJS.ProcessEnv {
  if (skewMs === 0) return process.env;
  const nodeOptions = [process.env.NODE_OPTIONS, `--require ${JSON.stringify(SKEWED_CLOCK_PRELOAD)}`]
    .filter(Boolean)
    .join(' ');
  return { ...process.env, NODE_OPTIONS: nodeOptions, RELAYNET_TEST_CLOCK_SKEW_MS: String(skewMs) };
}

export class World {
  readonly root = mkdtempSync(join(tmpdir(), 'ugw-it-'));
  /** Clock skews in ms (positive: ahead); a change applies to daemons at their next start, at once to endpoints. */
  userClockSkewMs: number;
  internetClockSkewMs = 0;
  /**
   * The configuration of the public endpoints, as an operator gives it (the daemons never read each other's
   * folders): the relaying gateway's address book, and more flags for its next start.
   */
  readonly addressBook = join(this.root, 'address-book.json');
  relayerFlags: readonly string[] = [];
  /** Its PogRPC port at the next start (0: any free one); kept once an adapter process was given it. */
  private relayerPort = 0;
  readonly relayer = new Daemon(
    'relayer-gateway',
    () => [
      '--data-root',
      this.root,
      '--pogrpc-address',
      `127.0.0.1:${this.relayerPort}`,
      '--poll-interval',
      '200',
      '--address-book',
      this.addressBook,
      ...this.relayerFlags,
    ],
    () => skewedEnv(this.internetClockSkewMs),
  );
  readonly userGateway: Daemon;
  readonly courier: Courier;
  readonly adapterInbox = makeInbox();
  /** PDAs the adapter received, by private endpoint id (content of 'pda' messages). */
  readonly pdas = new Map<string, Buffer>();
  adapter!: PublicEndpoint;
  readonly adapterProcess: Daemon | null = null;
  /** The adapter process's data root, and how the relaying gateway learns its route. */
  readonly adapterRoot: string = this.root;
  private readonly adapterRoute: 'address book' | 'flags' = 'address book';
  /** The relaying gateway's PogRPC certificate, as the operator hands it to the adapter. */
  readonly relayerCertificate = join(this.root, 'relayer-gateway-pogrpc.pem');
  private readonly apps: PrivateEndpoint[] = [];

  constructor(options: WorldOptions = {}) {
    this.userClockSkewMs = options.userClockSkewMs ?? 0;
    const userSideEnv = () => skewedEnv(this.userClockSkewMs);
    this.userGateway = new Daemon('user-gateway', ['--data-root', this.root, '--poll-interval', '200'], userSideEnv);
    this.courier = new Courier(this.root, userSideEnv);
    if (options.adapterProcess) {
      const { apiBaseUrl, consumer } = options.adapterProcess;
      this.adapterRoot = options.adapterProcess.dataRoot ?? this.root;
      this.adapterRoute = options.adapterProcess.route ?? 'address book';
      this.adapterProcess = new Daemon(
        'twitter-api-adapter',
        () => [
          '--data-root',
          this.adapterRoot,
          '--pogrpc-address',
          '127.0.0.1:0',
          '--env-file',
          this.path('absent.env'),
          '--api-base-url',
          apiBaseUrl,
          '--relaying-gateway',
          this.relayerRoute().target,
          '--relaying-gateway-certificate',
          this.relayerCertificate,
        ],
        () => ({
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: this.path('home'),
          TWITTER_CONSUMER_KEY: consumer.key,
          TWITTER_CONSUMER_SECRET: consumer.secret,
        }),
      );
    }
  }

  path(...parts: string[]): string {
    return join(this.root, ...parts);
  }

  /** Relaying gateway, adapter, user gateway; waits for the registration to complete. */
  async start(): Promise<void> {
    await this.relayer.start();
    if (this.adapterProcess) await this.startAdapterProcess();
    else await this.startAdapter();
    await this.userGateway.start();
    await waitFor('the user gateway registration', () =>
      existsSync(this.path('user-gateway', 'identity-certificate.pem')),
    );
  }

  /**
   * Start the relaying gateway with a registration folder the user gateway does not see, so that it only
   * publishes its certificate; resolves (with that process, still running) once the user gateway pinned it.
   */
  async startRelayerUnseen(registrationDir: string): Promise<Daemon> {
    const unseen = new Daemon('relayer-gateway', [
      '--data-root',
      this.root,
      '--pogrpc-address',
      '127.0.0.1:0',
      '--poll-interval',
      '200',
      '--registration-dir',
      registrationDir,
    ]);
    await unseen.start();
    await waitFor('the pin', () =>
      this.userGateway.logs().some((l) => l.msg.startsWith('Relaying gateway certificate pinned')),
    );
    return unseen;
  }

  private relayerRoute() {
    const published = JSON.parse(readFileSync(this.path('relayer-gateway', 'pogrpc.json'), 'utf8')) as {
      address: string;
      tlsCertificatePem: string;
    };
    return { target: published.address, tls: { pinnedCertificatePem: published.tlsCertificatePem } };
  }

  /**
   * The adapter process, given the relaying gateway's address and certificate; the relaying gateway keeps its port
   * from now on (the adapter knows only that one). With the address book route, the adapter's is added to it.
   */
  async startAdapterProcess(): Promise<void> {
    const route = this.relayerRoute();
    this.relayerPort = Number(route.target.split(':').pop());
    writeFileSync(this.relayerCertificate, route.tls.pinnedCertificatePem);
    await this.adapterProcess!.start();
    if (this.adapterRoute === 'address book') {
      const published = this.adapterPublication();
      writeFileSync(this.path('twitter-api-adapter-pogrpc.pem'), published.tlsCertificatePem);
      this.writeAddressBook(published.internetAddress, published.address, this.path('twitter-api-adapter-pogrpc.pem'));
    }
  }

  /** What the adapter process published (read by the test, as an operator would). */
  adapterPublication(): { internetAddress: string; address: string; tlsCertificatePem: string } {
    return JSON.parse(readFileSync(join(this.adapterRoot, 'twitter-api-adapter', 'pogrpc.json'), 'utf8'));
  }

  writeAddressBook(internetAddress: string, address: string, tlsCertificatePath: string): void {
    writeFileSync(this.addressBook, JSON.stringify({ [internetAddress]: { address, tlsCertificatePath } }));
  }

  async startAdapter(): Promise<void> {
    const dir = this.path('twitter-api-adapter');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.adapter = await PublicEndpoint.open({
      dataDir: join(dir, 'endpoint'),
      internetAddress: ADAPTER_ADDRESS,
      logger: silentLogger,
      clock: { now: () => new Date(Date.now() + this.internetClockSkewMs) },
      backoff: { initialDelayMs: 200, maxDelayMs: 1_000, jitter: 0 },
      onMessage: async (message) => {
        if (message.type === 'pda') this.pdas.set(message.sender.id, message.content);
        else this.adapterInbox.messages.push(message);
      },
      // Read at every delivery: the relaying gateway publishes a new port when it restarts.
      relayingGateway: () => this.relayerRoute(),
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
    // The relaying gateway reads its address book at every delivery: a restarted adapter's new port applies at once.
    writeFileSync(this.path('twitter-api-adapter-pogrpc.pem'), server.certificatePem!);
    this.writeAddressBook(ADAPTER_ADDRESS, `127.0.0.1:${server.port}`, this.path('twitter-api-adapter-pogrpc.pem'));
    await this.adapter.publishConnectionParameters(join(dir, 'connection-parameters.json'));
  }

  /**
   * A registered private endpoint (an app) that already sent the adapter its PDA, in a 'pda' message or in the
   * message `introduce` makes of it (the real adapter takes it in an UpdateSubscription).
   */
  async openApp(
    name: string,
    introduce: (authorization: DeliveryAuthorization) => { type: string; content: Buffer } = (authorization) => ({
      type: 'pda',
      content: serializeDeliveryAuthorization(authorization),
    }),
  ): Promise<{ app: PrivateEndpoint; inbox: Inbox; send: (text: string) => Promise<void>; adapterAddress: string }> {
    const app = await PrivateEndpoint.open({
      dataDir: this.path('apps', name),
      logger: silentLogger,
      clock: { now: () => new Date(Date.now() + this.userClockSkewMs) },
      transport: new PoWebSocketGatewayTransport({
        socketPath: this.path('user-gateway', 'powebsocket.sock'),
        logger: silentLogger,
      }),
    });
    this.apps.push(app);
    await app.register();
    const peer = await app.addPublicPeer(
      await readConnectionParameters(join(this.adapterRoot, 'twitter-api-adapter', 'connection-parameters.json')),
    );
    const authorization = await app.issuePda(
      peer.identityCertificate,
      new Date(Date.now() + this.userClockSkewMs + 7 * 24 * 3_600_000),
    );
    await app.sendMessage(peer.internetAddress, introduce(authorization));
    const inbox = makeInbox();
    return {
      app,
      inbox,
      adapterAddress: peer.internetAddress,
      send: async (text) => {
        await app.sendMessage(peer.internetAddress, { type: 'text', content: Buffer.from(text) });
      },
    };
  }

  /** An app as openApp makes it, after courier round trips until the adapter has its PDA. */
  async openAppKnownToAdapter(name: string): Promise<Awaited<ReturnType<World['openApp']>>> {
    const opened = await this.openApp(name);
    await waitFor(
      `the PDA of ${name} to reach the adapter`,
      async () => {
        const atUser = await this.courier.run('user');
        const atRelayer = await this.courier.run('relayer');
        return atUser.status === 0 && atRelayer.status === 0 && this.pdas.has(opened.app.id);
      },
      30_000,
      500,
    );
    return opened;
  }

  /** Where a node's PogRPC server listens, from the `pogrpc.json` it publishes. */
  pogrpcTarget(node: 'relayer-gateway' | 'twitter-api-adapter'): { host: string; port: number } {
    const root = node === 'twitter-api-adapter' ? this.adapterRoot : this.root;
    const { address } = JSON.parse(readFileSync(join(root, node, 'pogrpc.json'), 'utf8')) as { address: string };
    const [host, port] = address.split(':');
    return { host, port: Number(port) };
  }

  /** The adapter replies to a private endpoint with the PDA it issued (queued in the adapter's outbox). */
  async reply(appId: string, text: string): Promise<string> {
    const pda = this.pdas.get(appId);
    if (!pda) throw new Error(`No PDA from ${appId} yet`);
    const queued = await this.adapter.sendMessage(
      { type: 'text', content: Buffer.from(text) },
      { authorization: deserializeDeliveryAuthorization(pda) },
    );
    return queued.parcelId;
  }

  /** Wait until the relaying gateway stored these parcels (from the adapter) for a user gateway. */
  async waitUntilQueuedAtRelayer(parcelIds: readonly string[], timeoutMs = 15_000): Promise<void> {
    await waitFor(
      'the relaying gateway to queue the replies',
      () => {
        const stored = new Set(
          this.relayer
            .logs()
            .filter((l) => l.msg === 'Parcel stored' || l.msg === 'Parcel replaced its queued copy')
            .map((l) => l.parcelId),
        );
        return parcelIds.every((id) => stored.has(id));
      },
      timeoutMs,
    );
  }

  /** Collect what the user gateway holds for an app (false if the gateway could not be reached). */
  async collect(app: PrivateEndpoint, inbox: Inbox): Promise<boolean> {
    try {
      await app.collectMessages({ onMessage: async (message) => void inbox.messages.push(message) });
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    for (const app of this.apps) await app.close().catch(() => undefined);
    await this.adapter?.close().catch(() => undefined);
    await Promise.all([
      this.userGateway.stop('SIGKILL'),
      this.relayer.stop('SIGKILL'),
      this.adapterProcess?.stop('SIGKILL'),
    ]);
    if (!process.env.KEEP_TEST_DATA) rmSync(this.root, { recursive: true, force: true });
  }
}

/** Every expected text exactly once, nothing else. */
export function countOf(texts: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const t of texts) counts.set(t, (counts.get(t) ?? 0) + 1);
  return counts;
}

export { seededRandom } from '@twitter-relaynet/test-support';

/**
 * Instance `index` of a relaying gateway scaled out over one PostgreSQL database: its own data root under `root`
 * (identity files copied in by the test), CogRPC in plaintext and PogRPC on free ports, one shared address book.
 */
export function relayerInstance(
  root: string,
  index: number,
  databaseUrl: string,
  deliveryLeaseMs: number,
  extraArgs: readonly string[] = [],
): Daemon {
  return new Daemon('relayer-gateway', [
    ...['--data-root', join(root, `i${index}`), '--pogrpc-address', '127.0.0.1:0', '--poll-interval', '200'],
    ...['--cogrpc-address', '127.0.0.1:0', '--cogrpc-plaintext', '--database-url', databaseUrl],
    ...['--address-book', join(root, 'address-book.json'), '--delivery-lease', String(deliveryLeaseMs)],
    ...extraArgs,
  ]);
}
