/**
 * The X API out of reach, end to end: bin/twitter-api-adapter (a child process) pointed at a closed local port,
 * bin/twitter-app (child processes) behind a PoWebSocket user gateway stand-in, and a stand-in relaying gateway
 * (a real PogRPC server over TLS) carrying the adapter's parcels back to the user gateway, as the courier would.
 * After three failed attempts the adapter tells the app that the tweet and the subscription wait for the X API,
 * and why; the app says so, and never that the subscription was confirmed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import {
  createPogRPCServer,
  generateSelfSignedCertificate,
  PogRPCClient,
  type PogRPCServer,
} from '@twitter-relaynet/pogrpc';

import { buildPackages, runProcess, waitFor } from '@twitter-relaynet/test-support';
import { TestUserGateway } from '@twitter-relaynet/test-support/endpoint';

const REPO = resolve(__dirname, '..', '..', '..');

jest.setTimeout(120_000);

/** A local port nothing listens on: bound once by us, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

async function run(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { status, stdout, stderr } = await runProcess(join(REPO, 'bin', command), args, { env, cwd: process.cwd() });
  return { code: status, stdout, stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'adapter-unreachable-'));
const root = join(dir, 'root');
const env: NodeJS.ProcessEnv = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: join(dir, 'home'),
  RELAYNET_DATA_ROOT: root,
  TWITTER_APP_ENV_FILE: join(dir, 'absent.env'),
  TWITTER_API_ADAPTER_ENV_FILE: join(dir, 'absent.env'),
  TWITTER_CONSUMER_KEY: 'unreachable-test-key',
  TWITTER_CONSUMER_SECRET: 'unreachable-test-secret',
};
let userGateway: TestUserGateway;
let relayingGateway: PogRPCServer;
/** What the adapter sent the relaying gateway, in order. */
const fromAdapter: Buffer[] = [];
let adapter: ChildProcess | null = null;
let adapterStderr = '';

beforeAll(async () => {
  buildPackages(REPO, ['packages/twitter-api-adapter', 'packages/twitter-app']);
  userGateway = await TestUserGateway.create(join(root, 'user-gateway', 'powebsocket.sock'));
  await userGateway.start();
  relayingGateway = await createPogRPCServer({
    address: '127.0.0.1:0',
    tls: generateSelfSignedCertificate(),
    onParcel: async (parcel) => void fromAdapter.push(Buffer.from(parcel)),
  });
  writeFileSync(join(dir, 'relaying-gateway.pem'), relayingGateway.certificatePem!);
}, 120_000);

afterAll(async () => {
  adapter?.kill('SIGKILL');
  await userGateway?.stop();
  await relayingGateway?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('the X API unreachable: after 3 attempts the app shows the tweet and the subscription waiting for it, and why', async () => {
  const apiBaseUrl = `http://127.0.0.1:${await closedPort()}`;
  adapter = spawn(
    join(REPO, 'bin', 'twitter-api-adapter'),
    [
      '--data-root',
      root,
      '--pogrpc-address',
      '127.0.0.1:0',
      '--api-base-url',
      apiBaseUrl,
      '--relaying-gateway',
      relayingGateway.address,
      '--relaying-gateway-certificate',
      join(dir, 'relaying-gateway.pem'),
    ],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let adapterStdout = '';
  adapter.stdout!.on('data', (chunk) => (adapterStdout += chunk));
  adapter.stderr!.on('data', (chunk) => (adapterStderr += chunk));
  await waitFor('the adapter to be ready', () => adapterStdout.includes('twitter-api-adapter: ready'), 30_000);

  // The app registers, subscribes and tweets; its parcels wait at the user gateway.
  const tweeted = await run('twitter-app', ['tweet', 'Hello while X is out of reach'], env);
  expect(tweeted).toMatchObject({ code: 0 });
  const appId = JSON.parse((await run('twitter-app', ['status', '--json'], env)).stdout).endpointId as string;

  // The courier takes them to the Internet side: the relaying gateway delivers them to the adapter.
  const published = JSON.parse(readFileSync(join(root, 'twitter-api-adapter', 'pogrpc.json'), 'utf8'));
  const client = new PogRPCClient(published.address, {
    tls: { pinnedCertificatePem: published.tlsCertificatePem },
    gatewayAddress: relayingGateway.address,
  });
  try {
    const parcels = userGateway.delivered.map((parcel, index) => ({ id: `parcel-${index}`, parcel }));
    const report = await client.deliverParcels(parcels);
    expect(report.acked).toHaveLength(parcels.length);
  } finally {
    client.close();
  }

  // Three failed attempts (5 s, then 10 s apart): the tweet's WAITING outcome and the subscription's WAITING status.
  await waitFor('two parcels from the adapter', () => fromAdapter.length >= 2, 90_000);
  const attempts = adapterStderr.split('\n').filter((line) => line.includes('"X API unreachable: will retry"'));
  expect(attempts.length).toBeGreaterThanOrEqual(3);
  expect(attempts[0]).toMatch(/Network error: .*ECONNREFUSED/);

  // The courier brings them back; the app collects them.
  userGateway.queue(appId, fromAdapter.splice(0));
  const timeline = await run('twitter-app', ['timeline'], env);
  expect(timeline).toMatchObject({ code: 0 });
  expect(timeline.stdout).toMatch(
    /Your subscription to the home timeline is waiting for the X API, which the Twitter API adapter could not reach yet \(Network error: .*ECONNREFUSED.*\); it keeps trying\./,
  );
  expect(timeline.stdout).toMatch(
    /waiting "Hello while X is out of reach": waiting for the X API, which the Twitter API adapter could not reach yet \(Network error: .*ECONNREFUSED.*\); it keeps trying/,
  );
  expect(timeline.stdout).not.toMatch(/confirmed/);

  const status = await run('twitter-app', ['status'], env);
  expect(status.stdout).toMatch(/^Tweets: 0 queued in the app, 1 with the user gateway, 0 confirmed, 0 failed$/m);
  expect(status.stdout).toMatch(
    /^Subscription: home timeline until .*; waiting for the X API, which the Twitter API adapter could not reach yet/m,
  );
  expect(status.stdout).toMatch(
    /^ {2}waiting +"Hello while X is out of reach" \(waiting for the X API, .*ECONNREFUSED.*; it keeps trying\)$/m,
  );
  expect(status.stdout).not.toMatch(/confirmed by the adapter/);
  expect(JSON.parse((await run('twitter-app', ['status', '--json'], env)).stdout)).toMatchObject({
    subscriptionState: 'waiting',
  });
});
