/**
 * RS-019 / SPECS.md §7 attacks against the real daemons (bin/user-gateway, bin/relayer-gateway as
 * child processes, bin/relay as the courier, endpoints in this process; see world.ts). Each test is
 * one item of the checklist that scenario.spec.ts's "security" tests do not already cover; the
 * mapping is in /work/notes/e2-reliability.md (merged into RELIABILITY.md).
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';

import {
  Cargo,
  CargoMessageSet,
  Certificate,
  derSerializePublicKey,
  encryptPayload,
  generateRsaKeyPair,
  Parcel,
  pemToDer,
  silentLogger,
} from '@twitter-relaynet/core';
import { CoSocketClient, RefusalDisposition } from '@twitter-relaynet/cosocket';
import { selfIssueGatewayCertificate } from '@twitter-relaynet/gateway';
import { PogRPCClient } from '@twitter-relaynet/pogrpc';
import { makeHandshakeSigner, PoWebSocketConnection } from '@twitter-relaynet/powebsocket';
import WebSocket from 'ws';

import { ADAPTER_ADDRESS, buildExecutables, waitFor, World } from './world';

jest.setTimeout(60_000);

let world: World;
let alice: Awaited<ReturnType<World['openApp']>>;

beforeAll(async () => {
  buildExecutables();
  world = new World();
  await world.start();
  alice = await world.openApp('alice');
  // One round trip so that the adapter has alice's PDA.
  await world.courier.run('user');
  await world.courier.run('relayer');
  await waitFor("alice's PDA at the adapter", () => world.pdas.has(alice.app.id));
}, 120_000);

afterAll(async () => {
  if (process.env.ATTACKS_LOG_DIR && world) {
    writeFileSync(join(process.env.ATTACKS_LOG_DIR, 'relayer.log'), world.relayer.stderr);
    writeFileSync(join(process.env.ATTACKS_LOG_DIR, 'user.log'), world.userGateway.stderr);
  }
  await world?.close();
});

function relayingCertificate(): Certificate {
  return Certificate.deserialize(
    pemToDer(readFileSync(world.path('relayer-gateway', 'identity-certificate.pem')), 'CERTIFICATE'),
  );
}

/** A local endpoint registered with the user gateway over PoWebSocket (not an app: raw binding). */
async function registerMallory() {
  const keys = await generateRsaKeyPair();
  const socketPath = world.path('user-gateway', 'powebsocket.sock');
  const registration = await PoWebSocketConnection.register({
    socketPath,
    publicKey: derSerializePublicKey(keys.publicKey),
    logger: silentLogger,
  });
  return {
    keys,
    socketPath,
    certificate: Certificate.deserialize(registration.endpointCertificate),
    gatewayCertificate: Certificate.deserialize(registration.gatewayCertificate),
  };
}

function flipByte(file: string, at = 0.6): void {
  const bytes = readFileSync(file);
  bytes[Math.floor(bytes.length * at)] ^= 0xff;
  writeFileSync(file, bytes);
}

/** Empty the flashdrive, so that the next relay run at the user gateway leaves one CCA and one cargo. */
function emptyFlashdrive(): void {
  rmSync(world.courier.toRelayer, { recursive: true, force: true });
  rmSync(world.courier.toUser, { recursive: true, force: true });
}

function filesEndingWith(folder: string, suffix: string): string[] {
  return world.courier.files(folder).filter((f) => f.endsWith(suffix));
}

test("an endpoint cannot collect another endpoint's parcels, nor claim its identity", async () => {
  const replyId = await world.reply(alice.app.id, 'to alice: for her eyes only');
  await world.waitUntilQueuedAtRelayer([replyId]);
  await world.courier.run('user');
  await world.courier.run('relayer');
  await world.courier.run('user');
  await waitFor('the reply at the user gateway', () =>
    world.userGateway.logs().some((l) => l.parcelId === replyId && l.msg === 'Parcel stored'),
  );

  const mallory = await registerMallory();
  // With her own identity: the gateway hands her only her own parcels (none).
  const own = await PoWebSocketConnection.connect({
    socketPath: mallory.socketPath,
    sign: makeHandshakeSigner([{ privateKey: mallory.keys.privateKey, certificate: mallory.certificate }]),
    logger: silentLogger,
  });
  const collected: Buffer[] = [];
  await own.collectParcels({ onParcel: async (parcel) => void collected.push(parcel) });
  await own.close();
  expect(collected).toEqual([]);

  // Claiming alice's identity (her certificate, mallory's key): the handshake fails.
  await expect(
    (async () => {
      const fake = await PoWebSocketConnection.connect({
        socketPath: mallory.socketPath,
        sign: makeHandshakeSigner([{ privateKey: mallory.keys.privateKey, certificate: alice.app.certificate! }]),
        logger: silentLogger,
      });
      try {
        await fake.collectParcels({ onParcel: async (parcel) => void collected.push(parcel) });
      } finally {
        await fake.close();
      }
    })(),
  ).rejects.toThrow();
  expect(collected).toEqual([]);

  // Alice still gets it.
  const before = alice.inbox.messages.length;
  expect(await world.collect(alice.app, alice.inbox)).toBe(true);
  expect(alice.inbox.messages.slice(before).map((m) => m.parcelId)).toContain(replyId);
});

test('a tampered CCA is refused and nothing is collected with it', async () => {
  await world.reply(alice.app.id, 'to alice: waiting behind a tampered CCA');
  emptyFlashdrive();
  const atUser = await world.courier.run('user');
  expect(atUser.status).toBe(0);
  const ccas = filesEndingWith(world.courier.toRelayer, '.cca');
  expect(ccas).toHaveLength(1);
  for (const cargo of filesEndingWith(world.courier.toRelayer, '.cargo')) rmSync(join(world.courier.toRelayer, cargo));
  flipByte(join(world.courier.toRelayer, ccas[0]));
  const accepted = world.relayer.logs().filter((l) => l.msg === 'CCA accepted').length;
  const run = await world.courier.run('relayer');
  expect(run.status).not.toBe(0);
  // Refused by the relay (it checks what it carries) or by the gateway; either way nothing is collected.
  expect(filesEndingWith(world.courier.toUser, '.cargo')).toEqual([]);
  expect(world.relayer.logs().filter((l) => l.msg === 'CCA accepted').length).toBe(accepted);
});

test('tampered cargo is refused; replayed cargo brings its parcels to the adapter once', async () => {
  await alice.send('alice: cargo that will be tampered with');
  emptyFlashdrive();
  const atUser = await world.courier.run('user');
  expect(atUser.status).toBe(0);
  const [cargoFile] = filesEndingWith(world.courier.toRelayer, '.cargo');
  const original = join(world.root, 'cargo-original');
  copyFileSync(join(world.courier.toRelayer, cargoFile), original);
  const cargoId = (await Cargo.deserialize(readFileSync(original))).id;

  // Tampered (one octet inside the signed, encrypted payload): refused, nothing delivered. The relay
  // reports it and leaves it on the flashdrive, or the gateway refuses it (and the relay drops it).
  flipByte(join(world.courier.toRelayer, cargoFile));
  const refusedBefore = world.relayer.logs().filter((l) => l.msg === 'Cargo refused').length;
  const tamperedRun = await world.courier.run('relayer');
  const keptByRelay = filesEndingWith(world.courier.toRelayer, '.cargo').includes(cargoFile);
  if (keptByRelay) expect(tamperedRun.status).toBe(1);
  else
    await waitFor(
      'the gateway to refuse it',
      () => world.relayer.logs().filter((l) => l.msg === 'Cargo refused').length > refusedBefore,
    );
  expect(world.relayer.logs().some((l) => l.msg === 'Cargo received' && l.cargoId === cargoId)).toBe(false);
  process.stdout.write(`attacks: tampered cargo ${keptByRelay ? 'refused by the relay' : 'refused by the gateway'}\n`);

  // A courier whose relay does not check (sending straight to the gateway's CoSocket server): the
  // gateway itself refuses the tampered cargo, saying why to a relay that takes refusal reports, and
  // acknowledging it as "permanently refused and logged" to one that does not.
  const refusedByGateway = world.relayer.logs().filter((l) => l.msg === 'Cargo refused').length;
  const tampered = readFileSync(original);
  tampered[Math.floor(tampered.length * 0.6)] ^= 0xff;
  for (const refusalReports of [true, false]) {
    const direct = await CoSocketClient.connect(world.path('relayer-gateway', 'cosocket.sock'), { refusalReports });
    try {
      const report = await direct.deliverCargo([{ id: 'tampered', cargo: tampered }]);
      if (refusalReports) {
        expect(report.acked).toEqual([]);
        expect(report.refused).toEqual([
          expect.objectContaining({
            id: 'tampered',
            disposition: RefusalDisposition.FINAL,
            reason: expect.stringMatching(/^Cargo refused: /),
          }),
        ]);
      } else {
        expect(report.acked).toEqual(['tampered']);
      }
    } finally {
      await direct.close();
    }
  }
  await waitFor(
    'the gateway to refuse the tampered cargo',
    () => world.relayer.logs().filter((l) => l.msg === 'Cargo refused').length > refusedByGateway,
  );
  expect(world.relayer.logs().some((l) => l.msg === 'Cargo received' && l.cargoId === cargoId)).toBe(false);

  // The genuine copy: delivered once.
  emptyFlashdrive();
  mkdirSync(world.courier.toRelayer, { recursive: true });
  copyFileSync(original, join(world.courier.toRelayer, 'genuine.cargo'));
  await world.courier.run('relayer');
  const text = 'alice: cargo that will be tampered with';
  const message = await waitFor('the message at the adapter', () =>
    world.adapterInbox.messages.find((m) => m.content.toString() === text),
  );

  // The same cargo again (a courier replaying an old flashdrive): the parcel is not taken twice.
  copyFileSync(original, join(world.courier.toRelayer, 'replayed.cargo'));
  await world.courier.run('relayer');
  const receipts = await waitFor('the replayed cargo to be processed', () => {
    const lines = world.relayer
      .logs()
      .filter((l) => (l.msg === 'Cargo received' || l.msg === 'Cargo refused') && l.cargoId === cargoId);
    return lines.length >= 2 ? lines : null;
  });
  if (receipts[1].msg === 'Cargo received' && receipts[1].parcelsStored) {
    // Stored again (replacing a queued copy): then it is delivered again, and the adapter's endpoint drops it.
    await waitFor(
      'the second delivery to the adapter',
      () =>
        world.relayer
          .logs()
          .filter((l) => l.msg === 'Parcel delivered to public endpoint' && l.parcelId === message.parcelId).length >=
        2,
    );
  }
  expect(world.adapterInbox.contents().filter((t) => t === text)).toHaveLength(1);
});

test('a parcel tampered with on its way in is refused; the genuine one replaces its replayed copy', async () => {
  const mallory = await registerMallory();
  const parcel = new Parcel(
    { id: world.adapter.id, internetAddress: ADAPTER_ADDRESS },
    mallory.certificate,
    Buffer.from('payload'),
    {
      senderCaCertificateChain: [mallory.gatewayCertificate],
    },
  );
  const serialized = await parcel.serialize(mallory.keys.privateKey);
  const tampered = Buffer.from(serialized);
  tampered[tampered.length - 40] ^= 0xff; // inside the signature
  const connection = await PoWebSocketConnection.connect({
    socketPath: mallory.socketPath,
    sign: makeHandshakeSigner([{ privateKey: mallory.keys.privateKey, certificate: mallory.certificate }]),
    logger: silentLogger,
  });
  try {
    const refusedBefore = world.userGateway.logs().filter((l) => l.msg === 'Parcel refused').length;
    await connection.deliverParcel(tampered); // acknowledged: "permanently refused and logged"
    // A parcel whose signature does not verify is logged without its (untrusted) id.
    await waitFor(
      'the tampered parcel to be refused',
      () =>
        world.userGateway.logs().filter((l) => l.msg === 'Parcel refused' && /signature/i.test(String(l.reason)))
          .length > refusedBefore,
    );
    expect(world.userGateway.logs().some((l) => l.msg === 'Parcel stored' && l.parcelId === parcel.id)).toBe(false);
    await connection.deliverParcel(serialized);
    await connection.deliverParcel(serialized); // replayed
  } finally {
    await connection.close();
  }
  await waitFor('the genuine parcel stored, and its replay replacing it', () => {
    const logs = world.userGateway.logs().filter((l) => l.parcelId === parcel.id);
    return logs.some((l) => l.msg === 'Parcel stored') && logs.some((l) => l.msg === 'Parcel replaced its queued copy');
  });
});

test('cargo for another user gateway: the courier is told why, and the file is set aside, not deleted', async () => {
  // e.g. a flashdrive shared by two users: cargo from a relaying gateway for someone else's gateway.
  const stranger = await generateRsaKeyPair();
  const strangerCertificate = await selfIssueGatewayCertificate(stranger);
  const otherUserGateway = `0${'ab'.repeat(32)}`;
  const { envelopedData } = await encryptPayload(new CargoMessageSet([]).serialize(), {
    certificate: strangerCertificate,
  });
  const cargo = new Cargo({ id: otherUserGateway }, strangerCertificate, envelopedData);
  emptyFlashdrive();
  mkdirSync(world.courier.toUser, { recursive: true });
  writeFileSync(join(world.courier.toUser, 'stray.cargo'), await cargo.serialize(stranger.privateKey));

  const run = await world.courier.run('user');

  expect(run.status).toBe(1);
  expect(run.stderr).toContain(
    `stray.cargo: refused by the gateway: Cargo refused: Cargo is addressed to ${otherUserGateway}, not to this gateway`,
  );
  expect(run.stderr).toMatch(/\n[^\n]*; 1 file refused by the gateway\n$/);
  expect(world.courier.files(world.courier.toUser)).toEqual(['refused']);
  expect(world.courier.files(join(world.courier.toUser, 'refused'))).toEqual(['stray.cargo']);
  expect(world.userGateway.logs().some((l) => l.msg === 'Cargo refused' && l.cargoId === cargo.id)).toBe(true);
});

test('a relay pretending to be a gateway (cargo signed by an endpoint certificate of the user gateway) is refused', async () => {
  const mallory = await registerMallory();
  const relaying = relayingCertificate();
  const parcel = new Parcel(
    { id: world.adapter.id, internetAddress: ADAPTER_ADDRESS },
    mallory.certificate,
    Buffer.from('x'),
    {
      senderCaCertificateChain: [mallory.gatewayCertificate],
    },
  );
  const messageSet = new CargoMessageSet([await parcel.serialize(mallory.keys.privateKey)]);
  const { envelopedData } = await encryptPayload(messageSet.serialize(), { certificate: relaying });
  // In the user gateway's trust chain, but an endpoint's certificate: not a gateway's.
  const cargo = new Cargo({ id: relaying.calculateSubjectId() }, mallory.certificate, envelopedData, {
    senderCaCertificateChain: [mallory.gatewayCertificate],
  });
  mkdirSync(world.courier.toRelayer, { recursive: true });
  writeFileSync(join(world.courier.toRelayer, 'impostor.cargo'), await cargo.serialize(mallory.keys.privateKey));
  await world.courier.run('relayer');
  await waitFor('the refusal', () =>
    world.relayer.logs().some((l) => l.msg === 'Cargo refused' && l.cargoId === cargo.id),
  );
  expect(world.relayer.logs().some((l) => l.parcelId === parcel.id)).toBe(false);
});

/** Total size of the regular files below `dir`. */
function diskUsage(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += diskUsage(path);
    else if (entry.isFile()) total += lstatSync(path).size;
  }
  return total;
}

describe('oversized messages are refused before they are stored', () => {
  const OVERSIZED = 10 * 1024 * 1024; // above every binding's 9 MiB limit

  test('CoSocket: a cargo length above the limit is answered with Quit (invalid packet)', async () => {
    const before = diskUsage(world.path('relayer-gateway'));
    const received = await new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      const socket = connect({ path: world.path('relayer-gateway', 'cosocket.sock') }, () => {
        const header = Buffer.alloc(4);
        header.writeUInt32LE(OVERSIZED);
        socket.write(Buffer.concat([Buffer.from([0x01, 0x00, 0x03]), Buffer.from('big'), header]));
        socket.write(randomBytes(64 * 1024));
      });
      socket.on('data', (chunk) => chunks.push(chunk));
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(Buffer.concat(chunks)));
    });
    // A Quit packet (tag 0xff 0x00) with a non-OK reason closes the exchange.
    const quitAt = received.indexOf(Buffer.from([0xff, 0x00]));
    expect(quitAt).toBeGreaterThanOrEqual(0);
    expect(received.readUInt16LE(quitAt + 2)).not.toBe(0);
    expect(world.relayer.running).toBe(true);
    expect(diskUsage(world.path('relayer-gateway')) - before).toBeLessThan(1024 * 1024);
  });

  test('PoWebSocket: a message above the limit closes the connection with 1009 (too big)', async () => {
    const before = diskUsage(world.path('user-gateway'));
    const code = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`ws+unix://${world.path('user-gateway', 'powebsocket.sock')}:/`, {
        perMessageDeflate: false,
      });
      ws.on('open', () => ws.send(randomBytes(OVERSIZED)));
      ws.on('error', () => undefined);
      ws.on('close', (closeCode) => resolve(closeCode));
    });
    expect(code).toBe(1009);
    expect(world.userGateway.running).toBe(true);
    expect(diskUsage(world.path('user-gateway')) - before).toBeLessThan(1024 * 1024);
  });

  test('PogRPC: a parcel above the limit ends the call with RESOURCE_EXHAUSTED', async () => {
    const before = diskUsage(world.path('relayer-gateway'));
    const published = JSON.parse(readFileSync(world.path('relayer-gateway', 'pogrpc.json'), 'utf8'));
    // The client's own cap is raised so that the server's is what is tested.
    const client = new PogRPCClient(published.address, {
      tls: { pinnedCertificatePem: published.tlsCertificatePem },
      maxParcelLength: 2 * OVERSIZED,
    });
    try {
      const report = await client.deliverParcels([{ id: 'huge', parcel: randomBytes(OVERSIZED) }]);
      expect(report.acked).toEqual([]);
      expect(String(report.error)).toMatch(/RESOURCE_EXHAUSTED|larger than max|exceeds/i);
    } finally {
      client.close();
    }
    expect(world.relayer.running).toBe(true);
    expect(diskUsage(world.path('relayer-gateway')) - before).toBeLessThan(1024 * 1024);
  });
});

describe('private keys', () => {
  const DAEMON_DIRS = ['user-gateway', 'relayer-gateway'];

  function walk(dir: string, visit: (path: string, mode: number, kind: 'dir' | 'file' | 'socket') => void): void {
    visit(dir, lstatSync(dir).mode, 'dir');
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path, visit);
      else if (entry.isFile()) visit(path, lstatSync(path).mode, 'file');
      else if (entry.isSocket()) visit(path, lstatSync(path).mode, 'socket');
    }
  }

  test("every daemon's data directory is 0700, its key files and databases 0600, its sockets owner-only", () => {
    const loose: string[] = [];
    let keyFiles = 0;
    for (const name of DAEMON_DIRS) {
      walk(world.path(name), (path, mode, kind) => {
        const permissions = mode & 0o777;
        if (kind === 'dir' && permissions !== 0o700) loose.push(`${path} ${permissions.toString(8)}`);
        if (kind === 'socket' && (permissions & 0o077) !== 0) loose.push(`${path} ${permissions.toString(8)}`);
        // The state (SQLite, with its -wal and -shm files) is nobody else's business either.
        if (kind === 'file' && /sqlite/.test(path) && permissions !== 0o600)
          loose.push(`${path} ${permissions.toString(8)}`);
        // Certificates and connection parameters are published on purpose: they may be readable.
        if (kind === 'file' && readFileSync(path).includes('PRIVATE KEY')) {
          keyFiles++;
          if (permissions !== 0o600) loose.push(`${path} (private key) ${permissions.toString(8)}`);
        }
      });
    }
    expect(loose).toEqual([]);
    expect(keyFiles).toBeGreaterThanOrEqual(2); // at least both gateways' identity keys
    process.stdout.write(`attacks: ${keyFiles} PEM private key files checked\n`);
  });

  test('no private key material in any daemon log, after everything above', async () => {
    // A full trip more, so that the logs cover every interaction.
    await alice.send('alice: last words');
    await world.courier.run('user');
    await world.courier.run('relayer');
    const logs = [world.userGateway.stderr, world.userGateway.stdout, world.relayer.stderr, world.relayer.stdout].join(
      '\n',
    );
    expect(logs.length).toBeGreaterThan(1000);
    expect(logs).not.toMatch(/PRIVATE KEY/);
    // The body of every PEM private key (and its DER in hex) found in the data root.
    const secrets: string[] = [];
    walk(world.root, (path, _mode, kind) => {
      if (kind !== 'file') return;
      const content = readFileSync(path);
      const pem = /-----BEGIN [A-Z ]*PRIVATE KEY-----([\s\S]+?)-----END/.exec(content.toString('latin1'));
      if (pem) {
        const base64 = pem[1].replace(/\s+/g, '');
        secrets.push(base64.slice(40, 120), Buffer.from(base64, 'base64').subarray(30, 70).toString('hex'));
      }
    });
    for (const secret of secrets) expect(logs.includes(secret)).toBe(false);
    process.stdout.write(`attacks: ${secrets.length / 2} private keys searched for in ${logs.length} octets of logs\n`);
  });
});
