/**
 * The whole network with the real executables: bin/relayer-gateway and bin/user-gateway as child
 * processes, bin/relay as the courier, endpoints in the test process (see world.ts).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import {
  Certificate,
  derSerializePublicKey,
  generateRsaKeyPair,
  Parcel,
  pemToDer,
  silentLogger,
} from '@twitter-relaynet/core';
import { createMemoryStores, selfIssueGatewayCertificate, UserGateway } from '@twitter-relaynet/gateway';
import { PogRPCClient } from '@twitter-relaynet/pogrpc';
import { makeHandshakeSigner, PoWebSocketConnection } from '@twitter-relaynet/powebsocket';

import { ADAPTER_ADDRESS, buildExecutables, countOf, REPO, waitFor, World } from './world';

jest.setTimeout(60_000);

let world: World;
let alice: Awaited<ReturnType<World['openApp']>>;
let bob: Awaited<ReturnType<World['openApp']>>;

beforeAll(async () => {
  buildExecutables();
  world = new World();
  await world.start();
  alice = await world.openApp('alice');
  bob = await world.openApp('bob');
}, 120_000);

afterAll(async () => {
  await world?.close();
});

/** user gateway → flashdrive → relaying gateway (and what it has for the user back onto the flashdrive). */
async function tripToInternet(): Promise<void> {
  const atUser = await world.courier.run('user');
  expect({ status: atUser.status, stderr: atUser.stderr }).toMatchObject({ status: 0 });
  const atRelayer = await world.courier.run('relayer');
  expect({ status: atRelayer.status, stderr: atRelayer.stderr }).toMatchObject({ status: 0 });
}

describe('the daemons', () => {
  test('print their node id, sockets and data directory, and publish what the others read', () => {
    expect(world.relayer.stdout).toMatch(/relayer-gateway: node id 0[0-9a-f]{64}/);
    expect(world.relayer.stdout).toContain(join(world.root, 'relayer-gateway', 'cosocket.sock'));
    expect(world.userGateway.stdout).toMatch(/user-gateway: node id 0[0-9a-f]{64}/);
    expect(world.userGateway.stdout).toContain(join(world.root, 'user-gateway', 'powebsocket.sock'));
    expect(world.userGateway.stdout).toContain(`data directory: ${join(world.root, 'user-gateway')}`);
    const pogrpc = JSON.parse(readFileSync(world.path('relayer-gateway', 'pogrpc.json'), 'utf8'));
    expect(pogrpc.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(pogrpc.tlsCertificatePem).toContain('BEGIN CERTIFICATE');
    // The user gateway pinned the certificate the relaying gateway published, and is certified by it.
    const published = readFileSync(world.path('relayer-gateway', 'identity-certificate.pem'), 'utf8');
    expect(readFileSync(world.path('user-gateway', 'relaying-gateway-certificate.pem'), 'utf8')).toBe(published);
    expect(world.userGateway.logs().some((l) => l.msg === 'Registered with the relaying gateway')).toBe(true);
  });

  test.each(['user-gateway', 'relayer-gateway'])(
    '%s: --help, and a bad flag is a one-line error with status 2',
    (kind) => {
      const help = spawnSync(join(REPO, 'bin', kind), ['--help'], { encoding: 'utf8' });
      expect(help.status).toBe(0);
      expect(help.stdout).toContain('--data-root');
      expect(help.stdout).toContain('RELAYNET_DATA_ROOT');
      const bad = spawnSync(join(REPO, 'bin', kind), ['--no-such-flag'], { encoding: 'utf8', cwd: '/' });
      expect(bad.status).toBe(2);
      expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    },
  );
});

describe('parcels cross the sneakernet', () => {
  test('from private endpoints to the public endpoint after two relay runs, replies back after two more', async () => {
    const texts = ['tweet 1', 'tweet 2', 'tweet 3'];
    for (const text of texts) await alice.send(`alice: ${text}`);
    await bob.send('bob: hello');

    await tripToInternet();
    const expected = [...texts.map((t) => `alice: ${t}`), 'bob: hello'];
    await waitFor('the adapter to receive every parcel', () => world.adapterInbox.messages.length >= expected.length);
    expect(countOf(world.adapterInbox.contents())).toEqual(countOf(expected));
    await waitFor('both PDAs', () => world.pdas.has(alice.app.id) && world.pdas.has(bob.app.id));
    // Log lines come through the daemon's stderr pipe, possibly after the deliveries themselves.
    await waitFor(
      'the relaying gateway to log six deliveries to the adapter',
      () =>
        world.relayer
          .logs()
          .filter((l) => l.msg === 'Parcel delivered to public endpoint' && l.route === 'address book').length >= 6,
    );

    // Replies: through the relaying gateway's PogRPC server (pogrpc.json), queued for the user gateway.
    const replies = [
      await world.reply(alice.app.id, 'to alice 1'),
      await world.reply(alice.app.id, 'to alice 2'),
      await world.reply(bob.app.id, 'to bob'),
    ];
    await world.waitUntilQueuedAtRelayer(replies);

    // The courier comes back: a fresh CCA at the user gateway, the cargo at the relaying gateway, home.
    await tripToInternet();
    const home = await world.courier.run('user');
    expect(home.status).toBe(0);
    expect(await world.collect(alice.app, alice.inbox)).toBe(true);
    expect(await world.collect(bob.app, bob.inbox)).toBe(true);
    // Each endpoint gets its own parcels and never another's.
    expect(alice.inbox.contents().sort()).toEqual(['to alice 1', 'to alice 2']);
    expect(bob.inbox.contents()).toEqual(['to bob']);
    expect(alice.inbox.messages.every((m) => m.sender.id === world.adapter.id)).toBe(true);
  });

  test('a flashdrive lost after collection: the parcels come again on the next trip (PCA), then stop coming', async () => {
    const before = world.adapterInbox.messages.length;
    await alice.send('alice: lost once');
    await alice.send('alice: lost twice');
    const generated = () => world.userGateway.logs().filter((l) => l.msg === 'Cargo generated');
    const generatedBefore = generated().length;
    const lost = await world.courier.run('user');
    expect(lost.status).toBe(0);
    await waitFor('the cargo to be logged', () => generated().length > generatedBefore);
    expect(generated().at(-1)).toMatchObject({ parcelCount: 2 });
    // The flashdrive is lost: cargo and CCA gone.
    rmSync(world.courier.toRelayer, { recursive: true, force: true });

    const generatedBeforeRetry = generated().length;
    await tripToInternet();
    await waitFor('the cargo to be logged again', () => generated().length > generatedBeforeRetry);
    expect(generated().at(-1)).toMatchObject({ parcelCount: 2 });
    await waitFor('the parcels', () => world.adapterInbox.messages.length >= before + 2);
    expect(countOf(world.adapterInbox.contents().slice(before))).toEqual(
      countOf(['alice: lost once', 'alice: lost twice']),
    );

    // The PCAs come home; the next cargo no longer carries the parcels.
    await world.courier.run('user'); // delivers the relaying gateway's cargo (PCAs), collects a CCA and cargo
    await world.courier.run('relayer');
    const again = await world.courier.run('user');
    expect([0, 3]).toContain(again.status);
    // The relaying gateway's folder was emptied by the previous run: any cargo there is new, and
    // there is none, because nothing is left to send (the CCA still travels).
    expect(readdirSync(world.courier.toRelayer).filter((name) => name.endsWith('.cargo'))).toEqual([]);
    expect(world.adapterInbox.messages.length).toBe(before + 2);
  });
});

describe('security', () => {
  test('a relay without a CCA, with an invalid CCA or with a reused CCA gets nothing', async () => {
    const folder = world.courier.toUser;
    rmSync(folder, { recursive: true, force: true });
    rmSync(world.courier.toRelayer, { recursive: true, force: true });
    await alice.send('alice: for the CCA test');
    await world.waitUntilQueuedAtRelayer([await world.reply(alice.app.id, 'to alice: CCA test')]);

    // No CCA at all.
    const none = await world.courier.run('relayer');
    expect(none.status).toBe(1);
    expect(world.courier.files(folder)).toEqual([]);

    // A valid CCA, used once: keep a copy.
    const atUser = await world.courier.run('user');
    expect(atUser.status).toBe(0);
    const cca = world.courier.files(world.courier.toRelayer).find((f) => f.endsWith('.cca'))!;
    const copy = join(world.root, 'cca-copy');
    copyFileSync(join(world.courier.toRelayer, cca), copy);
    const first = await world.courier.run('relayer');
    expect(first.status).toBe(0);
    rmSync(folder, { recursive: true, force: true });

    // The same CCA again: nothing collected; the courier is told why, and the spent CCA is set aside
    // so that the relay does not carry it forever.
    copyFileSync(copy, join(world.courier.toRelayer, 'again.cca'));
    const reused = await world.courier.run('relayer');
    expect(reused.status).toBe(1);
    expect(reused.stderr).toMatch(
      /again\.cca \(pickup authorization\): refused by the gateway: CCA refused: CCA \S+ from \S+ was already used\n/,
    );
    expect(world.courier.files(folder)).toEqual([]);
    expect(world.courier.files(world.courier.toRelayer)).not.toContain('again.cca');
    expect(world.courier.files(join(world.courier.toRelayer, 'refused'))).toEqual(['again.cca']);
    await waitFor('the reuse to be logged', () =>
      world.relayer.logs().some((l) => l.msg === 'CCA refused' && l.refusal === 'CcaReusedError'),
    );

    // A CCA from a user gateway the relaying gateway never registered.
    const relayingCertificate = Certificate.deserialize(
      pemToDer(readFileSync(world.path('relayer-gateway', 'identity-certificate.pem')), 'CERTIFICATE'),
    );
    const rogue = await makeRogueGateway(relayingCertificate);
    mkdirSync(world.courier.toRelayer, { recursive: true });
    writeFileSync(join(world.courier.toRelayer, 'rogue.cca'), await rogue.generateCca());
    const invalid = await world.courier.run('relayer');
    expect(invalid.status).toBe(1);
    expect(invalid.stderr).toMatch(
      /rogue\.cca \(pickup authorization\): refused by the gateway: CCA refused: CCA sender \S+ is not a user gateway registered here/,
    );
    expect(world.courier.files(folder)).toEqual([]);
    await waitFor('the refusal to be logged', () =>
      world.relayer.logs().some((l) => l.msg === 'CCA refused' && l.refusal === 'CcaUnauthorizedSenderError'),
    );
    expect(world.courier.files(join(world.courier.toRelayer, 'refused'))).toEqual(['again.cca', 'rogue.cca']);
    rmSync(join(world.courier.toRelayer, 'refused'), { recursive: true });
  });

  test('cargo from an unregistered gateway is refused', async () => {
    const relayingCertificate = Certificate.deserialize(
      pemToDer(readFileSync(world.path('relayer-gateway', 'identity-certificate.pem')), 'CERTIFICATE'),
    );
    const rogue = await makeRogueGateway(relayingCertificate);
    const endpointKeys = await generateRsaKeyPair();
    const endpointCertificate = await rogue.registerEndpoint(endpointKeys.publicKey);
    const parcel = new Parcel(
      { id: world.adapter.id, internetAddress: ADAPTER_ADDRESS },
      endpointCertificate,
      Buffer.from('x'),
      {
        senderCaCertificateChain: [rogue.certificate],
      },
    );
    await rogue.receiveParcelFromEndpoint(await parcel.serialize(endpointKeys.privateKey));
    let cargoId = '';
    mkdirSync(world.courier.toRelayer, { recursive: true });
    for await (const cargo of rogue.generateCargoForRelayingGateway()) {
      cargoId = cargo.id;
      writeFileSync(join(world.courier.toRelayer, 'rogue.cargo'), cargo.serialized);
    }
    const run = await world.courier.run('relayer');
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/rogue\.cargo: refused by the gateway: Cargo refused: Cargo sender \S+ is not /);
    expect(world.courier.files(join(world.courier.toRelayer, 'refused'))).toEqual(['rogue.cargo']);
    rmSync(join(world.courier.toRelayer, 'refused'), { recursive: true });
    await waitFor('the refusal', () =>
      world.relayer.logs().some((l) => l.msg === 'Cargo refused' && l.cargoId === cargoId),
    );
    expect(world.relayer.logs().some((l) => l.parcelId === parcel.id && l.msg !== 'Parcel refused')).toBe(false);
  });

  test('parcels without a valid PDA for a private endpoint are refused at both gateways', async () => {
    // From the Internet: signed by a stranger, not with a PDA alice issued.
    const stranger = await generateRsaKeyPair();
    const strangerCertificate = await selfIssueGatewayCertificate(stranger);
    const fromInternet = new Parcel({ id: alice.app.id }, strangerCertificate, Buffer.from('x'));
    const published = JSON.parse(readFileSync(world.path('relayer-gateway', 'pogrpc.json'), 'utf8'));
    const client = new PogRPCClient(published.address, { tls: { pinnedCertificatePem: published.tlsCertificatePem } });
    const report = await client.deliverParcels([
      { id: 'bad-pda', parcel: await fromInternet.serialize(stranger.privateKey) },
    ]);
    client.close();
    expect(report.acked).toEqual(['bad-pda']); // permanently refused and logged
    await waitFor('the refusal at the relaying gateway', () =>
      world.relayer.logs().some((l) => l.msg === 'Parcel refused' && l.parcelId === fromInternet.id),
    );

    // From a local endpoint to alice, with its own certificate instead of a PDA from alice.
    const keys = await generateRsaKeyPair();
    const socketPath = world.path('user-gateway', 'powebsocket.sock');
    const registration = await PoWebSocketConnection.register({
      socketPath,
      publicKey: derSerializePublicKey(keys.publicKey),
      logger: silentLogger,
    });
    const certificate = Certificate.deserialize(registration.endpointCertificate);
    const connection = await PoWebSocketConnection.connect({
      socketPath,
      sign: makeHandshakeSigner([{ privateKey: keys.privateKey, certificate }]),
      logger: silentLogger,
    });
    const local = new Parcel({ id: alice.app.id }, certificate, Buffer.from('x'), {
      senderCaCertificateChain: [Certificate.deserialize(registration.gatewayCertificate)],
    });
    await connection.deliverParcel(await local.serialize(keys.privateKey));
    await connection.close();
    await waitFor('the refusal at the user gateway', () =>
      world.userGateway.logs().some((l) => l.msg === 'Parcel refused' && l.parcelId === local.id),
    );

    // Neither reaches alice.
    rmSync(world.courier.toUser, { recursive: true, force: true });
    await world.courier.run('user');
    await world.courier.run('relayer');
    await world.courier.run('user');
    const before = alice.inbox.messages.length;
    expect(await world.collect(alice.app, alice.inbox)).toBe(true);
    const ids = alice.inbox.messages.slice(before).map((m) => m.parcelId);
    expect(ids).not.toContain(fromInternet.id);
    expect(ids).not.toContain(local.id);
  });
});

/** A user gateway with a self-issued certificate: never registered with the relaying gateway. */
async function makeRogueGateway(relayingCertificate: Certificate): Promise<UserGateway> {
  const keys = await generateRsaKeyPair();
  const certificate = await selfIssueGatewayCertificate(keys);
  return new UserGateway({
    identity: { privateKey: keys.privateKey, certificate },
    relayingGateway: { certificate: relayingCertificate },
    stores: createMemoryStores(),
  });
}
