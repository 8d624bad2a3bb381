/**
 * bin/twitter-api-adapter as a child process (built with tsc -b): against the real X API emulator and a stand-in
 * relaying gateway (a real PogRPC server over TLS) given by flag, with a real app-side private endpoint talking to
 * it through what the adapter publishes.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import {
  createMemoryStores,
  getConnectionParametersId,
  PrivateEndpoint,
  readConnectionParameters,
  serializeDeliveryAuthorization,
} from '@twitter-relaynet/endpoint';
import { MemoryGatewayTransport } from '@twitter-relaynet/test-support/endpoint';
import {
  certificateFingerprint,
  createPogRPCServer,
  generateSelfSignedCertificate,
  PogRPCClient,
  type PogRPCServer,
} from '@twitter-relaynet/pogrpc';
import { decodeServiceMessage, serviceMessages, type TwitterServiceMessage } from '@twitter-relaynet/twitter-service';
import { buildPackages, Daemon, runProcess, waitFor } from '@twitter-relaynet/test-support';
import { DEFAULT_USER, startEmulator, type RunningEmulator } from '@twitter-relaynet/x-api-emulator';

const REPO = resolve(__dirname, '..', '..', '..');
const BIN = join(REPO, 'bin', 'twitter-api-adapter');
const INTERNET_ADDRESS = 'adapter.bin.relaynet.test';
/** Consumer credentials only this emulator accepts; the secret must never be printed. */
const CONSUMER = { appKey: 'bin-test-consumer-key', appSecret: 'bin-test-consumer-SECRET-do-not-print' };

jest.setTimeout(30_000);

function build(): void {
  buildPackages(REPO, ['packages/twitter-api-adapter']);
}

describe('bin/twitter-api-adapter', () => {
  const dir = mkdtempSync(join(tmpdir(), 'adapter-bin-'));
  const root = join(dir, 'root');
  const adapterDir = join(root, 'twitter-api-adapter');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: join(dir, 'home'),
    TWITTER_CONSUMER_KEY: CONSUMER.appKey,
    TWITTER_CONSUMER_SECRET: CONSUMER.appSecret,
  };
  let emulator: RunningEmulator;
  let gatewayServer: PogRPCServer;
  const toApp: Buffer[] = [];
  let daemon: Daemon | null = null;
  const gatewayCertificate = join(dir, 'relaying-gateway.pem');
  const gatewayFlags = () => [
    '--relaying-gateway',
    gatewayServer.address,
    '--relaying-gateway-certificate',
    gatewayCertificate,
  ];

  beforeAll(async () => {
    build();
    emulator = await startEmulator({ port: 0, dataDir: join(dir, 'emulator'), credentials: CONSUMER });
    gatewayServer = await createPogRPCServer({
      address: '127.0.0.1:0',
      tls: generateSelfSignedCertificate(),
      onParcel: async (parcel) => {
        toApp.push(parcel);
      },
    });
    writeFileSync(gatewayCertificate, gatewayServer.certificatePem!);
  }, 60_000);

  afterAll(async () => {
    await daemon?.stop('SIGKILL');
    await gatewayServer?.close();
    await emulator?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Runs bin/twitter-api-adapter to its exit. */
  async function run(args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
    const { status, signal, stdout, stderr } = await runProcess(BIN, args, { env: { ...env, ...extraEnv } });
    return { exit: { code: status, signal }, stdout, stderr };
  }

  test('publishes where the app and the relaying gateway find it, serves PogRPC over TLS, replies to the relaying gateway given by flag, stops cleanly', async () => {
    const child = new Daemon(BIN, {
      env,
      args: [
        '--data-root',
        root,
        '--pogrpc-address',
        '127.0.0.1:0',
        '--internet-address',
        INTERNET_ADDRESS,
        '--env-file',
        join(dir, 'absent.env'),
        '--api-base-url',
        emulator.url,
        ...gatewayFlags(),
      ],
      readyTimeoutMs: 20_000,
    });
    daemon = child;
    await child.start();

    // What it printed: node id, PogRPC address, Internet address, X API base URL, data folder.
    const nodeId = /node id (\S+)/.exec(child.stdout)![1];
    const pogrpc = JSON.parse(readFileSync(join(adapterDir, 'pogrpc.json'), 'utf8'));
    expect(pogrpc).toEqual({
      internetAddress: INTERNET_ADDRESS,
      address: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
      tlsCertificatePem: expect.stringContaining('BEGIN CERTIFICATE'),
    });
    expect(child.stdout).toContain(pogrpc.address);
    expect(child.stdout).toContain(INTERNET_ADDRESS);
    expect(child.stdout).toContain(emulator.url);
    expect(child.stdout).toContain(adapterDir);
    expect(child.stdout).toContain(
      `relaying gateway (replies): ${gatewayServer.address} (TLS certificate SHA-256 ${certificateFingerprint(gatewayServer.certificatePem!)} from ${gatewayCertificate})`,
    );

    const parameters = await readConnectionParameters(join(adapterDir, 'connection-parameters.json'));
    expect(parameters.internetAddress).toBe(INTERNET_ADDRESS);
    expect(getConnectionParametersId(parameters)).toBe(nodeId);
    expect(parameters.sessionKey).toBeDefined();

    // State: private folder, TLS key 0600.
    expect(statSync(adapterDir).mode & 0o777).toBe(0o700);
    expect(statSync(join(adapterDir, 'pogrpc-tls-key.pem')).mode & 0o777).toBe(0o600);

    // The app subscribes: its parcel reaches the adapter over PogRPC, TLS pinned to the published certificate.
    const app = await PrivateEndpoint.open({
      stores: createMemoryStores(),
      transport: await MemoryGatewayTransport.create(),
    });
    const client = new PogRPCClient(pogrpc.address, {
      tls: { pinnedCertificatePem: pogrpc.tlsCertificatePem },
      gatewayAddress: gatewayServer.address,
    });
    try {
      await app.register();
      const peer = await app.addPublicPeer(parameters);
      const authorization = await app.issuePda(peer.identityCertificate, new Date(Date.now() + 86_400_000));
      const subscription = await app.makeParcel(
        peer.id,
        serviceMessages.updateSubscription({
          deliveryAuthorization: serializeDeliveryAuthorization(authorization),
          credentials: {
            accessToken: emulator.credentials.accessToken,
            accessSecret: emulator.credentials.accessSecret,
          },
          creationDate: new Date(),
        }),
      );
      const report = await client.deliverParcels([{ id: 'subscription', parcel: subscription.parcel }]);
      expect(report.error).toBeUndefined();
      expect(report.acked).toEqual(['subscription']);

      // The answers reach the relaying gateway it was given, its certificate pinned.
      await waitFor(
        'the subscription status and the timeline at the relaying gateway',
        () => toApp.length >= 2,
        20_000,
      );
      const messages: TwitterServiceMessage[] = [];
      for (const parcel of toApp) {
        await app.receiveParcel(parcel, async (message) => {
          messages.push(decodeServiceMessage(message.type, message.content)!);
        });
      }
      expect(messages.map((m) => m.kind).sort()).toEqual(['subscriptionStatus', 'timelineUpdateBatch']);
      const batch = messages.find((m) => m.kind === 'timelineUpdateBatch')!;
      const tweets = batch.kind === 'timelineUpdateBatch' ? batch.message.tweets : [];
      expect(tweets.length).toBeGreaterThan(0);
      expect(tweets.every((t) => t.authorUsername !== 'unknown' && t.authorUsername !== DEFAULT_USER.username)).toBe(
        true,
      );
    } finally {
      client.close();
      await app.close();
    }

    await child.stop('SIGTERM');
    expect(child.exit).toEqual({ code: 0, signal: null });
    const output = child.stdout + child.stderr;
    for (const secret of [CONSUMER.appSecret, emulator.credentials.accessSecret]) expect(output).not.toContain(secret);
    // Logs are JSON lines on stderr (apart from the shutdown notice).
    const lines = child.stderr.split('\n').filter((line) => line && !line.startsWith('twitter-api-adapter: SIGTERM'));
    expect(lines.length).toBeGreaterThan(0);
    lines.forEach((line) => expect(() => JSON.parse(line)).not.toThrow());
  });

  test('a malformed .env: exit 2 and one line naming the variable, without its value', async () => {
    const envFile = join(dir, 'malformed.env');
    writeFileSync(envFile, '# settings\nTWITTER_CONSUMER_SECRET="half-a-secret\n');
    const child = await run(['--data-root', join(dir, 'other-root'), '--env-file', envFile, ...gatewayFlags()], {
      TWITTER_CONSUMER_KEY: '',
      TWITTER_CONSUMER_SECRET: '',
    });
    expect(child.exit).toEqual({ code: 2, signal: null });
    expect(child.stdout).toBe('');
    expect(child.stderr.trim().split('\n')).toHaveLength(1);
    expect(child.stderr).toContain('TWITTER_CONSUMER_SECRET');
    expect(child.stderr).toContain(`${envFile} line 2`);
    expect(child.stderr).not.toContain('half-a-secret');
  });

  test('a bad flag value or an unknown flag: exit 2', async () => {
    const bad = await run([
      '--data-root',
      join(dir, 'other-root'),
      '--env-file',
      join(dir, 'absent.env'),
      '--sync-interval-ms',
      'often',
      ...gatewayFlags(),
    ]);
    expect(bad.exit).toEqual({ code: 2, signal: null });
    expect(bad.stderr).toContain('TWITTER_API_ADAPTER_SYNC_INTERVAL_MS');
    const unknown = await run(['--frobnicate']);
    expect(unknown.exit).toEqual({ code: 2, signal: null });
    expect(unknown.stderr).toContain('--frobnicate');
  });

  test('no relaying gateway configured, or a certificate that cannot be read: exit 2 and one line saying which; its folder is never read', async () => {
    // What the relaying gateway publishes in a shared data root is no configuration of the adapter.
    const shared = join(dir, 'shared-root');
    await mkdir(join(shared, 'relayer-gateway'), { recursive: true });
    writeFileSync(
      join(shared, 'relayer-gateway', 'pogrpc.json'),
      JSON.stringify({ address: gatewayServer.address, tlsCertificatePem: gatewayServer.certificatePem }),
    );
    const base = ['--data-root', shared, '--env-file', join(dir, 'absent.env'), '--api-base-url', emulator.url];
    const missing = await run(base);
    expect(missing.exit).toEqual({ code: 2, signal: null });
    expect(missing.stderr).toMatch(
      /^twitter-api-adapter: TWITTER_API_ADAPTER_RELAYING_GATEWAY \(--relaying-gateway\) is required: .*\n$/,
    );
    const unreadable = await run([
      ...base,
      '--relaying-gateway',
      gatewayServer.address,
      '--relaying-gateway-certificate',
      join(dir, 'none.pem'),
    ]);
    expect(unreadable.exit).toEqual({ code: 2, signal: null });
    expect(unreadable.stderr).toContain(
      `--relaying-gateway-certificate): cannot read ${join(dir, 'none.pem')} (ENOENT)`,
    );
    expect(missing.stdout + unreadable.stdout).toBe('');
  });

  test('its PogRPC address already in use: exit 1, saying why', async () => {
    const taken = await createPogRPCServer({
      address: '127.0.0.1:0',
      tls: generateSelfSignedCertificate(),
      onParcel: async () => undefined,
    });
    try {
      const child = await run([
        '--data-root',
        join(dir, 'busy-root'),
        '--pogrpc-address',
        taken.address,
        '--env-file',
        join(dir, 'absent.env'),
        '--api-base-url',
        emulator.url,
        ...gatewayFlags(),
      ]);
      expect(child.exit).toEqual({ code: 1, signal: null });
      expect(child.stderr).toContain('could not start');
      expect(child.stdout).not.toContain('ready');
    } finally {
      await taken.close();
    }
  });

  test('--help documents the exit codes and the variables', async () => {
    const child = await run(['--help']);
    expect(child.exit).toEqual({ code: 0, signal: null });
    expect(child.stdout).toMatch(/Exit status:\n\s+0 .*\n\s+1 .*\n\s+2 /);
    for (const variable of [
      'TWITTER_API_BASE_URL',
      'TWITTER_CONSUMER_KEY',
      'TWITTER_API_ADAPTER_POGRPC_ADDRESS',
      'TWITTER_API_ADAPTER_RELAYING_GATEWAY',
      'TWITTER_API_ADAPTER_RELAYING_GATEWAY_CERTIFICATE',
      'RELAYNET_DATA_ROOT',
    ]) {
      expect(child.stdout).toContain(variable);
    }
  });
});
