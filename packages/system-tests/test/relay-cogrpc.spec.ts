/**
 * bin/relay across the network: a real bin/relayer-gateway serving CogRPC (TLS on port 0, its address and
 * certificate read from the cogrpc.json it publishes), a real bin/user-gateway and the apps' endpoints, with the
 * courier's runs at the user gateway over CoSocket and at the relaying gateway over CogRPC (--gateway).
 */
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { certificateFingerprint, generateSelfSignedCertificate } from '@twitter-relaynet/cogrpc';
import { runProcess } from '@twitter-relaynet/test-support';

import { buildExecutables, REPO, waitFor, World } from './world';

interface Run {
  readonly status: number | null;
  readonly stderr: string;
}

/** A world whose relaying gateway also serves CogRPC on port 0 (`extra`: more of its flags). */
function cogrpcWorld(...extra: string[]): World {
  const world = new World();
  world.relayerFlags = ['--cogrpc-address', '127.0.0.1:0', ...extra];
  return world;
}

/** `bin/relay relayer-gateway` on `world`'s flashdrive with these options. */
function relayAtRelayer(world: World, ...options: string[]): Promise<Run> {
  return runProcess(join(REPO, 'bin', 'relay'), [
    'relayer-gateway',
    '--data-root',
    world.root,
    '--wait',
    '0',
    '--no-progress',
    ...options,
  ]);
}

function published(world: World): { address: string; tlsCertificatePem: string | null } {
  return JSON.parse(readFileSync(world.path('relayer-gateway', 'cogrpc.json'), 'utf8'));
}

/** Every entry under `folder` with its type, size, mtime and content digest: what "nothing changed" compares. */
function snapshot(folder: string): Record<string, string> {
  const entries: Record<string, string> = {};
  const visit = (path: string) => {
    const stats = lstatSync(path);
    const digest = stats.isFile()
      ? createHash('sha256').update(readFileSync(path)).digest('hex')
      : stats.isDirectory()
        ? 'dir'
        : 'other';
    entries[path] = `${digest} ${stats.size} ${stats.mtimeMs} ${stats.mode}`;
    if (stats.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
  };
  visit(folder);
  return entries;
}

const withColons = (hex: string) => hex.toUpperCase().match(/../g)!.join(':');
const messageFiles = (world: World, folder: string) =>
  world.courier.files(folder).filter((name) => /\.(cargo|cca)$/.test(name));

beforeAll(() => buildExecutables('packages/cogrpc'), 120_000);

describe('over TLS', () => {
  const world = cogrpcWorld();
  let app: Awaited<ReturnType<World['openApp']>>;
  let certificateFile: string;
  let gateway: string;

  beforeAll(async () => {
    await world.start();
    const { address, tlsCertificatePem } = published(world);
    gateway = address;
    certificateFile = world.path('relayer-cogrpc-cert.pem');
    writeFileSync(certificateFile, tlsCertificatePem!);
    app = await world.openApp('a');
  }, 120_000);

  afterAll(() => world.close());

  test('a round trip: cargo delivered and collected over CogRPC with a pinned certificate, as over CoSocket', async () => {
    // The app's PDA, in cargo with a CCA, onto the flashdrive at the user gateway.
    expect((await world.courier.run('user')).status).toBe(0);
    expect(messageFiles(world, world.courier.toRelayer).some((name) => name.endsWith('.cargo'))).toBe(true);

    const there = await relayAtRelayer(
      world,
      '--gateway',
      gateway,
      '--gateway-certificate',
      certificateFile,
      '--verbose',
    );
    expect(there.stderr).toMatch(/"msg":"Cargo delivered and deleted"/);
    expect(there.status).toBe(0);
    expect(messageFiles(world, world.courier.toRelayer)).toEqual([]); // the cargo acked, the CCA used
    await waitFor('the PDA to reach the adapter', () => world.pdas.has(app.app.id));

    const parcelId = await world.reply(app.app.id, 'hello over CogRPC');
    await world.waitUntilQueuedAtRelayer([parcelId]);
    expect((await world.courier.run('user')).status).toBe(0); // a fresh CCA
    const back = await relayAtRelayer(
      world,
      '--gateway',
      `https://${gateway}`,
      '--gateway-certificate',
      certificateFile,
    );
    expect(back.stderr).toMatch(/collected [1-9]\d* cargo/);
    expect(back.status).toBe(0);
    expect(messageFiles(world, world.courier.toUser).filter((name) => name.endsWith('.cargo'))).toHaveLength(1);

    expect((await world.courier.run('user')).status).toBe(0);
    await waitFor('the reply to reach the app', async () => {
      await world.collect(app.app, app.inbox);
      return app.inbox.contents().includes('hello over CogRPC');
    });
  }, 120_000);

  test.each([
    [
      '--gateway-certificate, another certificate',
      () => ['--gateway-certificate', otherCertificateFile(world)],
      'the certificate in',
    ],
    [
      '--gateway-fingerprint, another one',
      () => ['--gateway-fingerprint', withColons(certificateFingerprint(other.certificatePem))],
      '--gateway-fingerprint has',
    ],
  ])(
    'a server that presents another certificate (%s) is refused, exit 1, and nothing on the flashdrive changes',
    async (_label, trust, source) => {
      await app.send('not to be carried');
      expect((await world.courier.run('user')).status).toBe(0);
      expect(messageFiles(world, world.courier.toRelayer).length).toBeGreaterThan(0);
      const before = snapshot(world.path('flashdrive'));

      const run = await relayAtRelayer(world, '--gateway', gateway, ...trust());

      expect(run.status).toBe(1);
      const served = certificateFingerprint(published(world).tlsCertificatePem!);
      const expected = certificateFingerprint(other.certificatePem);
      expect(run.stderr).toContain(
        `relay: the gateway at ${gateway} presented a TLS certificate with SHA-256 fingerprint ${served}, but ${source}`,
      );
      expect(run.stderr).toContain(`has ${expected}: refusing to talk to it`);
      expect(run.stderr).toMatch(/nothing was delivered or collected\n$/);
      expect(snapshot(world.path('flashdrive'))).toEqual(before);
      expect(existsSync(world.path('flashdrive', '.relay.lock'))).toBe(false);
    },
    60_000,
  );

  test('the SHA-256 fingerprint of the served certificate (colons, any case) is trusted: the cargo goes', async () => {
    await app.send('carried');
    expect((await world.courier.run('user')).status).toBe(0);
    const fingerprint = withColons(certificateFingerprint(published(world).tlsCertificatePem!));

    const run = await relayAtRelayer(world, '--gateway', gateway, '--gateway-fingerprint', fingerprint);

    expect(run.stderr).toMatch(/delivered \d+ cargo/);
    expect(run.status).toBe(0);
    expect(messageFiles(world, world.courier.toRelayer)).toEqual([]);
  }, 60_000);

  test("without a pin the system's CAs decide: a self-signed gateway is refused with its fingerprint, nothing changes", async () => {
    await app.send('not carried either');
    expect((await world.courier.run('user')).status).toBe(0);
    const before = snapshot(world.path('flashdrive'));

    const run = await relayAtRelayer(world, '--gateway', gateway);

    expect(run.status).toBe(1);
    const served = certificateFingerprint(published(world).tlsCertificatePem!);
    expect(run.stderr).toContain(`presented a TLS certificate this system does not trust`);
    expect(run.stderr).toContain(`its SHA-256 fingerprint is ${served}`);
    expect(snapshot(world.path('flashdrive'))).toEqual(before);
  }, 60_000);

  test('--gateway-plaintext against a TLS server fails without touching the cargo; http:// needs --gateway-plaintext', async () => {
    const files = messageFiles(world, world.courier.toRelayer);
    expect(files.length).toBeGreaterThan(0);

    const plain = await relayAtRelayer(world, '--gateway', gateway, '--gateway-plaintext');
    expect(plain.status).toBe(1);
    expect(plain.stderr).toMatch(/not delivered, kept on the flashdrive/);
    expect(messageFiles(world, world.courier.toRelayer)).toEqual(files);

    const http = await relayAtRelayer(world, '--gateway', `http://${gateway}`);
    expect(http.status).toBe(2);
    expect(http.stderr).toContain('is http:// (no TLS): add --gateway-plaintext if you mean it');
  }, 60_000);
});

const other = generateSelfSignedCertificate();
function otherCertificateFile(world: World): string {
  const file = world.path('other-cert.pem');
  writeFileSync(file, other.certificatePem);
  return file;
}

test('--gateway-plaintext: a relaying gateway serving CogRPC without TLS takes the cargo and hands out the reply', async () => {
  const world = cogrpcWorld('--cogrpc-plaintext');
  try {
    await world.start();
    const { address, tlsCertificatePem } = published(world);
    expect(tlsCertificatePem).toBeNull();
    const app = await world.openApp('p');
    expect((await world.courier.run('user')).status).toBe(0);

    const there = await relayAtRelayer(world, '--gateway', `http://${address}`, '--gateway-plaintext');
    expect(there.status).toBe(0);
    await waitFor('the PDA to reach the adapter', () => world.pdas.has(app.app.id));

    await world.waitUntilQueuedAtRelayer([await world.reply(app.app.id, 'hello in plaintext')]);
    expect((await world.courier.run('user')).status).toBe(0);
    const back = await relayAtRelayer(world, '--gateway', address, '--gateway-plaintext');
    expect(back.stderr).toMatch(/collected [1-9]\d* cargo/);
    expect(back.status).toBe(0);
  } finally {
    await world.close();
  }
}, 120_000);
