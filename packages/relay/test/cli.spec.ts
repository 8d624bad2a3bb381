/**
 * bin/relay as a child process, exactly as a courier runs it, against real CoSocket servers started here
 * (a "user gateway" and a "relaying gateway") and real RAMF cargo and CCAs.
 *
 * beforeAll builds the package (`tsc -b packages/relay`, incremental) so the wrapper runs current code.
 */
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import {
  type CollectionItem,
  CoSocketProtocolError,
  CoSocketRefusalError,
  createCoSocketServer,
  type CoSocketServer,
  QuitReason,
  RefusalDisposition,
} from '@twitter-relaynet/cosocket';

import { buildPackages, runProcess } from '@twitter-relaynet/test-support';

import { getWorld, makeCargo, makeCca, makeParcelCollectionAck, type World } from './fixtures';

const REPO = resolve(__dirname, '..', '..', '..');
const RELAY = join(REPO, 'bin', 'relay');
const UUID_NAME = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\.(cargo|cca)$/;

let world: World;

beforeAll(async () => {
  buildPackages(REPO, ['packages/relay']);
  world = await getWorld();
}, 120_000);

// ---------------------------------------------------------------------------------------------
// Helpers

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

interface RunOptions {
  /** Run as another user (the read-only test, when the tests run as root). */
  uid?: number;
  gid?: number;
  /** Wrap in `sh -c` with this prefix (e.g. a ulimit). */
  shellPrefix?: string;
  env?: NodeJS.ProcessEnv;
}

function runRelay(args: string[], options: RunOptions = {}): Promise<Result> {
  const { uid, gid } = options;
  return options.shellPrefix
    ? runProcess('sh', ['-c', `${options.shellPrefix}; exec "$0" "$@"`, RELAY, ...args], { uid, gid })
    : runProcess(RELAY, args, { uid, gid, env: options.env });
}

let dir: string;
let incoming: string;
let outgoing: string;
let socketPath: string;
const servers: Array<CoSocketServer | Server> = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'relay-'));
  incoming = join(dir, 'incoming');
  outgoing = join(dir, 'outgoing');
  socketPath = join(dir, 'gw.sock');
  mkdirSync(incoming);
});

afterEach(async () => {
  await Promise.all(
    servers
      .splice(0)
      .map((server) =>
        'bufferedBytes' in server ? server.close() : new Promise<void>((done) => server.close(() => done())),
      ),
  );
  rmSync(dir, { recursive: true, force: true });
});

function args(...extra: string[]): string[] {
  return ['--cosocket', socketPath, '--incoming', incoming, '--outgoing', outgoing, '--wait', '0', ...extra];
}

const summaryOf = (result: Result) => result.stderr.trim().split('\n').pop();

interface Gateway {
  server: CoSocketServer;
  /** Cargo stored by onCargoDelivered, in order. */
  stored: Buffer[];
  /** What each stored cargo's file looked like at store time (i.e. before the ack): still on the drive? */
  stillOnDriveWhenStored: boolean[];
  /** CCAs presented, one per collection request (null = none). */
  requests: Array<Buffer | null>;
  /** Items the relay acknowledged. */
  acked: Buffer[];
  lastStoreAt: number;
  firstRequestAt: number;
}

interface GatewayOptions {
  /** Items for a collection request; throw a CoSocketProtocolError to refuse it. Default: nothing. */
  collect?(cca: Buffer | null): CollectionItem[] | AsyncIterable<CollectionItem>;
  /** Called before storing; throw to refuse (no ack). */
  beforeStore?(cargo: Buffer, index: number): void;
}

async function startGateway(options: GatewayOptions = {}): Promise<Gateway> {
  const gateway: Omit<Gateway, 'server'> = {
    stored: [],
    stillOnDriveWhenStored: [],
    requests: [],
    acked: [],
    lastStoreAt: 0,
    firstRequestAt: 0,
  };
  const server = await createCoSocketServer({
    socketPath,
    async onCargoDelivered(cargo) {
      options.beforeStore?.(cargo, gateway.stored.length);
      gateway.stored.push(cargo);
      gateway.stillOnDriveWhenStored.push(filesIn(incoming).some((name) => contentOf(incoming, name).equals(cargo)));
      gateway.lastStoreAt = Date.now();
    },
    onCargoCollectionRequest(cca) {
      gateway.requests.push(cca);
      gateway.firstRequestAt ||= Date.now();
      const raw = options.collect?.(cca) ?? [];
      const track = (item: CollectionItem): CollectionItem => ({
        ...item,
        onAck: () => void gateway.acked.push((item.cargo ?? item.cca)!),
      });
      const items =
        Symbol.asyncIterator in raw
          ? (async function* () {
              for await (const item of raw as AsyncIterable<CollectionItem>) yield track(item);
            })()
          : (raw as CollectionItem[]).map(track);
      return { gatewayAddress: 'test-gateway', items };
    },
  });
  servers.push(server);
  return Object.assign(gateway, { server });
}

function filesIn(folder: string): string[] {
  return existsSync(folder) ? readdirSync(folder).sort() : [];
}

function contentOf(folder: string, name: string): Buffer {
  try {
    return readFileSync(join(folder, name));
  } catch {
    return Buffer.alloc(0);
  }
}

function sortBuffers(buffers: readonly Buffer[]): Buffer[] {
  return [...buffers].sort(Buffer.compare);
}

// ---------------------------------------------------------------------------------------------

describe('at the user gateway (no CCA carried)', () => {
  test('delivers every cargo, deleting each file only after its ack; collects cargo and a fresh CCA', async () => {
    const toUser = await Promise.all([
      makeCargo(world, 'relaying'),
      makeCargo(world, 'relaying', { paddingOctets: 300_000 }),
      makeCargo(world, 'relaying'),
    ]);
    // Names do not matter on the way in: the content says what a file is.
    ['a.cargo', 'b.cargo', 'cargo-without-extension'].forEach((name, i) =>
      writeFileSync(join(incoming, name), toUser[i]),
    );
    const fromUser = [await makeCargo(world, 'user', { paddingOctets: 200_000 }), await makeCargo(world, 'user')];
    const freshCca = await makeCca(world);
    const gateway = await startGateway({
      collect: () => [{ cargo: fromUser[0] }, { cca: freshCca }, { cargo: fromUser[1] }],
    });

    const result = await runRelay(args('--wait', '1'));

    expect(result.stdout).toBe('');
    expect(result.status).toBe(0);
    // Delivery: every cargo stored intact, each still on the drive while being stored (before its ack),
    // and all gone afterwards.
    expect(sortBuffers(gateway.stored)).toEqual(sortBuffers(toUser));
    expect(gateway.stillOnDriveWhenStored).toEqual([true, true, true]);
    expect(filesIn(incoming)).toEqual([]);
    // It waited --wait seconds after delivering, then collected once, without a CCA.
    expect(gateway.requests).toEqual([null]);
    expect(gateway.firstRequestAt - gateway.lastStoreAt).toBeGreaterThanOrEqual(900);
    // Collection: <uuid>.cargo / <uuid>.cca, contents intact, no temp files, everything acked.
    const saved = filesIn(outgoing);
    expect(saved).toHaveLength(3);
    saved.forEach((name) => expect(name).toMatch(UUID_NAME));
    expect(sortBuffers(saved.filter((n) => n.endsWith('.cargo')).map((n) => contentOf(outgoing, n)))).toEqual(
      sortBuffers(fromUser),
    );
    expect(saved.filter((n) => n.endsWith('.cca')).map((n) => contentOf(outgoing, n))).toEqual([freshCca]);
    expect(sortBuffers(gateway.acked)).toEqual(sortBuffers([...fromUser, freshCca]));
    // Not a terminal: no progress bars, just the summary line.
    expect(result.stderr).not.toContain('\r');
    const deliveredKb = Math.round(toUser.reduce((sum, c) => sum + c.length, 0) / 1000);
    const collectedKb = Math.round(fromUser.reduce((sum, c) => sum + c.length, 0) / 1000);
    expect(result.stderr).toBe(
      "relay: waiting 1 s for the gateway's answers to what was delivered, to take them on this trip (--wait 0 skips this)\n" +
        `relay: delivered 3 cargo (${deliveredKb} kB), collected 2 cargo (${collectedKb} kB) and 1 pickup authorization into ${outgoing}\n`,
    );
  });

  test('outgoing is created if missing; nothing to deliver or collect exits 3', async () => {
    const gateway = await startGateway();
    const result = await runRelay(args());
    expect(result.status).toBe(3);
    expect(result.stderr).toBe('relay: nothing to do (no cargo delivered or collected)\n');
    expect(gateway.requests).toEqual([null]);
    expect(existsSync(outgoing)).toBe(true);
  });

  test('a missing incoming folder means nothing to deliver, and is reported', async () => {
    rmSync(incoming, { recursive: true });
    await startGateway();
    const result = await runRelay(args());
    expect(result.status).toBe(3);
    expect(result.stderr).toContain(`relay: incoming folder ${incoming} does not exist: nothing to deliver\n`);
    expect(summaryOf(result)).toBe('relay: nothing to do (no cargo delivered or collected)');
  });
});

describe('at the relaying gateway (CCAs carried)', () => {
  test('presents each CCA once, saves what it authorises, then deletes the used CCA; --verbose logs ids', async () => {
    const [ccaA, ccaB] = [await makeCca(world), await makeCca(world)];
    const fromUser = await makeCargo(world, 'user');
    writeFileSync(join(incoming, 'one.cca'), ccaA);
    writeFileSync(join(incoming, 'two.cca'), ccaB);
    writeFileSync(join(incoming, 'tweets.cargo'), fromUser);
    const forA = await makeCargo(world, 'relaying');
    const forB = await makeCargo(world, 'relaying');
    const gateway = await startGateway({
      collect(cca) {
        if (!cca) throw new CoSocketProtocolError('A CCA is required here', QuitReason.INVALID_PACKET);
        if (cca.equals(ccaA)) return [{ cargo: forA }];
        if (cca.equals(ccaB)) return [{ cargo: forB }];
        throw new CoSocketProtocolError('Unknown CCA', QuitReason.INVALID_PACKET);
      },
    });

    const result = await runRelay(args('--verbose'));

    expect(result.status).toBe(0);
    expect(gateway.stored).toEqual([fromUser]);
    expect(sortBuffers(gateway.requests as Buffer[])).toEqual(sortBuffers([ccaA, ccaB]));
    expect(filesIn(incoming)).toEqual([]); // cargo delivered, both CCAs used
    const saved = filesIn(outgoing);
    expect(sortBuffers(saved.map((n) => contentOf(outgoing, n)))).toEqual(sortBuffers([forA, forB]));
    expect(sortBuffers(gateway.acked)).toEqual(sortBuffers([forA, forB]));
    expect(summaryOf(result)).toMatch(
      /^relay: delivered 1 cargo \(\d+\.\d kB\), collected 2 cargo \(\d+\.\d kB\) and 0 pickup authorizations into \S+outgoing$/,
    );

    const logs = result.stderr
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const delivered = logs.find((l) => l.msg === 'Cargo delivered and deleted');
    expect(delivered).toMatchObject({ component: 'relay', file: join(incoming, 'tweets.cargo') });
    expect(delivered?.cargoId).toEqual(expect.any(String));
    expect(delivered?.deliveryId).toMatch(/^[0-9a-f-]{36}$/);
    const collected = logs.filter((l) => l.msg === 'Cargo collected and saved');
    expect(collected).toHaveLength(2);
    collected.forEach((l) => expect(l).toMatchObject({ deliveryId: expect.any(String), cargoId: expect.any(String) }));
    expect(logs.filter((l) => l.msg === 'Used CCA deleted')).toHaveLength(2);
  });

  test('a CCA the gateway refuses is kept, and the run fails', async () => {
    const cca = await makeCca(world);
    writeFileSync(join(incoming, 'old.cca'), cca);
    await startGateway({
      collect() {
        throw new CoSocketProtocolError('CCA already used', QuitReason.INVALID_PACKET);
      },
    });
    const result = await runRelay(args());
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(
      /relay: collection with the pickup authorization .*old\.cca failed: .*; the pickup authorization is kept\n/,
    );
    expect(contentOf(incoming, 'old.cca')).toEqual(cca);
    expect(summaryOf(result)).toBe(
      'relay: delivered 0 cargo (0 B), collected 0 cargo (0 B) and 0 pickup authorizations; 1 error',
    );
  });

  test('no CCA on the flashdrive: the refused collection says where a CCA comes from, exit 1', async () => {
    const gateway = await startGateway({
      collect(cca) {
        if (!cca) throw new CoSocketProtocolError('A CCA is required here', QuitReason.INVALID_PACKET);
        return [];
      },
    });

    const result = await runRelay(args());

    expect(result.status).toBe(1);
    expect(gateway.requests).toEqual([null]);
    expect(result.stderr).toContain(
      `relay: collection without a pickup authorization (CCA) failed: Peer quit: invalid-packet (${incoming} holds no pickup authorization (CCA): a relaying gateway needs one, which the relay run at the user gateway brings)`,
    );
  });
});

describe('files that are not valid cargo or CCAs', () => {
  test('are reported one by one and left in place; everything else still moves', async () => {
    const good = await makeCargo(world, 'user');
    const anotherGood = await makeCargo(world, 'user');
    const cca = await makeCca(world);
    const corrupted = Buffer.from(good);
    corrupted[corrupted.length - 20] ^= 0xff; // inside the signature
    const bad: Record<string, Buffer> = {
      'empty.cargo': Buffer.alloc(0),
      'truncated.cargo': good.subarray(0, Math.floor(good.length / 2)),
      'corrupted.cargo': corrupted,
      'notes.txt': Buffer.from('Shopping list: milk, eggs\n'),
      'tiny.cargo': Buffer.from('Awa'),
      'parcel-ack.cargo': makeParcelCollectionAck(),
      'truncated.cca': cca.subarray(0, cca.length - 100),
    };
    for (const [name, content] of Object.entries(bad)) writeFileSync(join(incoming, name), content);
    writeFileSync(join(incoming, 'huge.cargo'), '');
    truncateSync(join(incoming, 'huge.cargo'), 10 * 1024 * 1024); // sparse: above the 9 MiB RAMF limit
    writeFileSync(join(incoming, 'good.cargo'), good);
    writeFileSync(join(incoming, 'zz-good.cargo'), anotherGood);
    // Ours or the system's: ignored silently, never sent.
    writeFileSync(join(incoming, '.3f6c.cargo.tmp'), good.subarray(0, 100));
    mkdirSync(join(incoming, 'System Volume Information'));
    const collected = await makeCargo(world, 'relaying');
    const gateway = await startGateway({ collect: () => [{ cargo: collected }] });

    const result = await runRelay(args());

    expect(result.status).toBe(1);
    expect(sortBuffers(gateway.stored)).toEqual(sortBuffers([good, anotherGood]));
    expect(gateway.requests).toEqual([null]); // the only CCA was invalid: not presented
    expect(filesIn(outgoing).map((n) => contentOf(outgoing, n))).toEqual([collected]);
    for (const [name, content] of Object.entries(bad)) expect(contentOf(incoming, name)).toEqual(content);
    expect(filesIn(incoming)).toEqual(
      [...Object.keys(bad), 'huge.cargo', '.3f6c.cargo.tmp', 'System Volume Information'].sort(),
    );
    const lines = result.stderr.trim().split('\n');
    const lineFor = (name: string) => lines.filter((line) => line.includes(`/${name}: left in place: `));
    expect(lineFor('empty.cargo')).toEqual([expect.stringMatching(/empty file \(0 octets\)$/)]);
    expect(lineFor('truncated.cargo')).toEqual([expect.stringMatching(/left in place: invalid cargo: /)]);
    expect(lineFor('corrupted.cargo')).toEqual([expect.stringMatching(/left in place: invalid cargo: .*signature/i)]);
    expect(lineFor('notes.txt')).toEqual([expect.stringMatching(/not a RAMF message: .*"Awala"/)]);
    expect(lineFor('tiny.cargo')).toEqual([expect.stringMatching(/not a RAMF message: .*too short/)]);
    expect(lineFor('parcel-ack.cargo')).toEqual([
      expect.stringMatching(/a parcel collection acknowledgement, neither cargo nor a CCA$/),
    ]);
    expect(lineFor('truncated.cca')).toEqual([expect.stringMatching(/left in place: invalid CCA: /)]);
    expect(lineFor('huge.cargo')).toEqual([
      expect.stringMatching(/too large: 10485760 octets, above the RAMF limit of 9437184$/),
    ]);
    expect(result.stderr).not.toContain('.tmp');
    expect(result.stderr).not.toContain('System Volume Information');
    expect(summaryOf(result)).toMatch(
      /^relay: delivered 2 cargo \(.*\), collected 1 cargo \(.*\) and 0 pickup authorizations into \S+outgoing; 8 invalid files left in place$/,
    );
  });
});

describe('failures: nothing is deleted that was not acked, nothing acked that was not saved', () => {
  test('a gateway that drops the connection mid-delivery: every file stays, non-zero exit', async () => {
    const cargoes = [await makeCargo(world, 'user'), await makeCargo(world, 'user', { paddingOctets: 100_000 })];
    cargoes.forEach((cargo, i) => writeFileSync(join(incoming, `${i}.cargo`), cargo));
    let received = 0;
    const dropper = createServer((socket) => {
      socket.on('data', (chunk) => {
        received += chunk.length;
        socket.destroy(); // mid-delivery, before any ack
      });
    });
    servers.push(dropper);
    await new Promise<void>((done) => dropper.listen(socketPath, done));

    const result = await runRelay(args());

    expect(received).toBeGreaterThan(0);
    expect(result.status).toBe(1);
    expect(filesIn(incoming).map((n) => contentOf(incoming, n))).toEqual(cargoes);
    expect(result.stderr).toMatch(/relay: .*0\.cargo: not delivered, kept on the flashdrive: /);
    expect(result.stderr).toMatch(/relay: .*1\.cargo: not delivered, kept on the flashdrive: /);
    // It still tried to collect (a separate connection), which this gateway dropped too.
    expect(result.stderr).toContain('relay: collection without a pickup authorization (CCA) failed: ');
    expect(summaryOf(result)).toBe(
      'relay: delivered 0 cargo (0 B), collected 0 cargo (0 B) and 0 pickup authorizations; 2 cargo not delivered (kept), 1 error',
    );
  });

  test('a gateway that fails to store one cargo: the acked ones are deleted, the rest kept', async () => {
    const cargoes = await Promise.all([0, 1, 2].map(() => makeCargo(world, 'user')));
    cargoes.forEach((cargo, i) => writeFileSync(join(incoming, `${i}.cargo`), cargo));
    const gateway = await startGateway({
      beforeStore(_cargo, index) {
        if (index === 1) throw new Error('disk on fire');
      },
    });

    const result = await runRelay(args());

    expect(result.status).toBe(1);
    expect(gateway.stored).toHaveLength(1);
    const kept = filesIn(incoming);
    expect(kept).toHaveLength(2);
    expect(kept.map((n) => contentOf(incoming, n))).not.toContainEqual(gateway.stored[0]);
    // CoSocket's Quit has no text: the courier is sent to the gateway's log, where the reason is.
    expect(result.stderr).toMatch(
      /: not delivered, kept on the flashdrive: the gateway could not take it \(it quit with internal-error\); its log says why\n/,
    );
    expect(summaryOf(result)).toMatch(/^relay: delivered 1 cargo \(.*\), .*; 2 cargo not delivered \(kept\)$/);
  });

  test('no gateway listening: one clear line, files untouched', async () => {
    const cargo = await makeCargo(world, 'user');
    writeFileSync(join(incoming, 'x.cargo'), cargo);
    const result = await runRelay(args());
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(
      `relay: cannot connect to the gateway at ${socketPath} to deliver cargo: Could not connect: connect ENOENT ${socketPath} (is the gateway running?)\n`,
    );
    expect(contentOf(incoming, 'x.cargo')).toEqual(cargo);
  });

  test('a read-only outgoing folder: clear error, nothing acked, nothing left behind', async () => {
    const fromUser = [await makeCargo(world, 'user'), await makeCargo(world, 'user')];
    const freshCca = await makeCca(world);
    const gateway = await startGateway({
      collect: () => [{ cargo: fromUser[0] }, { cca: freshCca }, { cargo: fromUser[1] }],
    });
    mkdirSync(outgoing);
    chmodSync(outgoing, 0o555);
    // Root ignores permissions: then run the relay as nobody, with access to the socket and the folders.
    const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    if (asNobody.uid !== undefined) {
      chmodSync(dir, 0o777);
      chmodSync(incoming, 0o777);
      chmodSync(socketPath, 0o666);
    }

    const result = await runRelay(args(), asNobody);

    expect(result.status).toBe(1);
    expect(gateway.requests).toEqual([null]);
    expect(gateway.acked).toEqual([]);
    expect(filesIn(outgoing)).toEqual([]);
    expect(result.stderr).toMatch(
      /relay: .*outgoing\/[0-9a-f-]{36}\.cargo: could not be saved \(permission denied \(EACCES\)\); not acknowledged, the gateway keeps it; collection stopped\n/,
    );
    expect(summaryOf(result)).toBe(
      'relay: delivered 0 cargo (0 B), collected 0 cargo (0 B) and 0 pickup authorizations; 1 error',
    );
  });

  test('a file too big for the disk (EFBIG via ulimit -f): not acked, no partial file left', async () => {
    const big = await makeCargo(world, 'relaying', { paddingOctets: 50_000 });
    const gateway = await startGateway({ collect: () => [{ cargo: big }] });

    // 8 blocks (4 KiB with dash's 512-octet blocks, 8 KiB with bash's): far less than the cargo.
    const result = await runRelay(args(), { shellPrefix: 'ulimit -f 8' });

    expect(result.status).toBe(1);
    expect(gateway.acked).toEqual([]);
    expect(filesIn(outgoing)).toEqual([]);
    expect(result.stderr).toMatch(/could not be saved \(file too large \(EFBIG\)\); not acknowledged/);
  });

  test('an incoming folder that vanishes mid-run: per-file errors, non-zero exit, collection still done', async () => {
    // More files than the relay can have read when the first store happens (a window of 5 unacked
    // deliveries, one read ahead), so that some are still unread when the drive goes.
    const cargoes = await Promise.all(Array.from({ length: 10 }, () => makeCargo(world, 'user')));
    cargoes.forEach((cargo, i) => writeFileSync(join(incoming, `${i}.cargo`), cargo));
    const collected = await makeCargo(world, 'relaying');
    const gateway = await startGateway({
      beforeStore: () => rmSync(incoming, { recursive: true, force: true }), // the flashdrive is yanked
      collect: () => [{ cargo: collected }],
    });

    const result = await runRelay(args());

    expect(result.status).toBe(1);
    expect(gateway.stored.length).toBeGreaterThanOrEqual(1);
    const unread = cargoes
      .map((_, i) => i)
      .filter((i) =>
        result.stderr.includes(`${i}.cargo: left in place: could not be read: no such file or directory (ENOENT)`),
      );
    expect(unread).toContain(9);
    // Every file was either delivered or reported as unread, never both.
    const delivered = cargoes.map((_, i) => i).filter((i) => gateway.stored.some((c) => c.equals(cargoes[i])));
    expect([...delivered, ...unread].sort((a, b) => a - b)).toEqual(cargoes.map((_, i) => i));
    expect(filesIn(outgoing).map((n) => contentOf(outgoing, n))).toEqual([collected]);
  });

  test('an outgoing folder that vanishes mid-collection: the unsaved cargo is not acked', async () => {
    const [first, second] = [await makeCargo(world, 'relaying'), await makeCargo(world, 'relaying')];
    const gateway = await startGateway({
      collect: () =>
        (async function* () {
          yield { cargo: first };
          // Wait for the relay to save and ack the first, then pull the drive.
          while (gateway.acked.length === 0) await new Promise((r) => setTimeout(r, 10));
          rmSync(outgoing, { recursive: true, force: true });
          yield { cargo: second };
        })(),
    });

    const result = await runRelay(args());

    expect(result.status).toBe(1);
    expect(gateway.acked).toEqual([first]);
    expect(result.stderr).toMatch(
      /\.cargo: could not be saved \(no such file or directory \(ENOENT\)\); not acknowledged/,
    );
    expect(summaryOf(result)).toMatch(/collected 1 cargo .*; 1 error$/);
  });
});

describe('command line', () => {
  test.each([
    [
      ['--incoming', 'in', '--outgoing', 'out'],
      'relay: --cosocket is required without GATEWAY (user-gateway or relayer-gateway) (see relay --help)',
    ],
    [
      ['--cosocket', 's', '--outgoing', 'out'],
      'relay: --incoming is required without GATEWAY (user-gateway or relayer-gateway) (see relay --help)',
    ],
    [
      ['--cosocket', 's', '--incoming', 'in'],
      'relay: --outgoing is required without GATEWAY (user-gateway or relayer-gateway) (see relay --help)',
    ],
    [
      ['internet-gateway'],
      'relay: unknown gateway "internet-gateway": expected user-gateway or relayer-gateway (see relay --help)',
    ],
    [
      ['user-gateway', 'relayer-gateway'],
      'relay: too many arguments. Expected 1 argument but got 2. (see relay --help)',
    ],
    [
      ['--data-root', 'r', '--cosocket', 's', '--incoming', 'in', '--outgoing', 'out'],
      'relay: --data-root and --flashdrive need GATEWAY (user-gateway or relayer-gateway) (see relay --help)',
    ],
    [
      ['--cosocket', 's', '--incoming', 'in', '--outgoing', 'out', '--wait', 'soon'],
      'relay: --wait must be a number of seconds (got "soon") (see relay --help)',
    ],
    [
      ['--cosocket', 's', '--incoming', 'in', '--outgoing', 'out', '--wait', '-1'],
      'relay: --wait must be a number of seconds (got "-1") (see relay --help)',
    ],
    [
      ['--cosocket', '', '--incoming', 'in', '--outgoing', 'out'],
      'relay: --cosocket must not be empty (see relay --help)',
    ],
    [
      ['--cosocket', 's', '--incoming', 'same', '--outgoing', './same/'],
      'relay: --incoming and --outgoing must be different folders (see relay --help)',
    ],
    [
      ['--cosocket', 's', '--incoming', 'in', '--outgoing', 'out', '--colour'],
      "relay: unknown option '--colour' (see relay --help)",
    ],
  ])('%j → exit 2 with one line', async (argv, message) => {
    const result = await runRelay(argv);
    expect(result.status).toBe(2);
    expect(result.stderr).toBe(`${message}\n`);
  });

  test('--help documents the flags and exit codes', async () => {
    const result = await runRelay(['--help']);
    expect(result.status).toBe(0);
    for (const flag of ['--cosocket', '--incoming', '--outgoing', '--wait', '--init', '--verbose', '--no-progress']) {
      expect(result.stdout).toContain(flag);
    }
    // The courier's words for a CCA, and why the relay waits.
    expect(result.stdout).toMatch(
      /A pickup authorization \(CCA, cargo\s+collection authorization\) is a single-use file/,
    );
    expect(result.stdout).toMatch(/relay relayer-gateway waits 5 s after delivering/);
    expect(result.stdout).toMatch(/Exit status:\n\s+0 +done[^]*1 +failure[^]*2 +usage error[^]*3 +nothing to do/);
  });

  test('GATEWAY takes the socket and the flashdrive folders from the data root (RELAYNET_DATA_ROOT)', async () => {
    const root = join(dir, 'root');
    mkdirSync(join(root, 'user-gateway'), { recursive: true });
    mkdirSync(join(root, 'flashdrive', 'user-gw'), { recursive: true });
    socketPath = join(root, 'user-gateway', 'cosocket.sock');
    const delivered = await makeCargo(world, 'user');
    writeFileSync(join(root, 'flashdrive', 'user-gw', 'a.cargo'), delivered);
    const collected = await makeCargo(world, 'relaying');
    const gateway = await startGateway({ collect: () => [{ cargo: collected }] });

    const result = await runRelay(['user-gateway', '--wait', '0'], {
      env: { ...process.env, RELAYNET_DATA_ROOT: root },
    });

    expect(result.status).toBe(0);
    expect(gateway.stored).toEqual([delivered]);
    expect(readdirSync(join(root, 'flashdrive', 'user-gw'))).toEqual([]);
    const saved = readdirSync(join(root, 'flashdrive', 'relayer-gw'));
    expect(saved).toHaveLength(1);
    expect(readFileSync(join(root, 'flashdrive', 'relayer-gw', saved[0]))).toEqual(collected);
  });

  test('--flashdrive and --data-root move the defaults of GATEWAY; an explicit option still wins', async () => {
    const root = join(dir, 'other-root');
    const drive = join(dir, 'usb');
    mkdirSync(join(root, 'relayer-gateway'), { recursive: true });
    mkdirSync(join(drive, 'relayer-gw'), { recursive: true });
    socketPath = join(root, 'relayer-gateway', 'cosocket.sock');
    const delivered = await makeCargo(world, 'user');
    writeFileSync(join(drive, 'relayer-gw', 'b.cargo'), delivered);
    writeFileSync(join(drive, 'relayer-gw', 'c.cca'), await makeCca(world));
    const collected = await makeCargo(world, 'relaying');
    const gateway = await startGateway({ collect: () => [{ cargo: collected }] });

    const result = await runRelay(
      ['relayer-gateway', '--data-root', root, '--flashdrive', drive, '--outgoing', outgoing, '--wait', '0'],
      { env: { ...process.env, RELAYNET_DATA_ROOT: join(dir, 'not-this-one') } },
    );

    expect(result.status).toBe(0);
    expect(gateway.stored).toEqual([delivered]);
    expect(readdirSync(outgoing)).toHaveLength(1);
    expect(existsSync(join(drive, 'user-gw'))).toBe(false);
  });

  test('at a relaying gateway with no pickup authorization on the flashdrive there is nothing to collect: not asked, not a refusal', async () => {
    const root = join(dir, 'no-cca-root');
    const drive = join(dir, 'no-cca-usb');
    mkdirSync(join(root, 'relayer-gateway'), { recursive: true });
    mkdirSync(join(drive, 'relayer-gw'), { recursive: true });
    socketPath = join(root, 'relayer-gateway', 'cosocket.sock');
    const gateway = await startGateway();

    const result = await runRelay(['relayer-gateway', '--data-root', root, '--flashdrive', drive, '--wait', '0']);

    expect(result.status).toBe(3); // nothing to do, not a failure
    expect(result.stderr).toMatch(/no pickup authorization \(CCA\) on the flashdrive, so nothing to collect here/);
    expect(result.stderr).not.toMatch(/refused/);
    expect(gateway.requests).toHaveLength(0);
  });

  test('--progress draws bars (bytes and counts) even when stderr is not a terminal', async () => {
    writeFileSync(join(incoming, 'a.cargo'), await makeCargo(world, 'user'));
    const collected = await makeCargo(world, 'relaying');
    await startGateway({ collect: () => [{ cargo: collected }] });
    const result = await runRelay(args('--progress'));
    expect(result.status).toBe(0);
    // The terminal's erase-line sequence (ESC [2K) is what the test is about.
    // eslint-disable-next-line no-control-regex
    expect(result.stderr).toMatch(/\r\x1b\[2Krelay: delivering \[#{24}\] 1\/1 cargo \d+\.\d kB\/\d+\.\d kB/);
    expect(result.stderr).toMatch(
      // eslint-disable-next-line no-control-regex
      /\r\x1b\[2Krelay: collecting without a pickup authorization \(CCA\): 1 cargo \(\d+\.\d kB\), 0 pickup authorizations/,
    );
    expect(summaryOf(result)).toMatch(
      /relay: delivered 1 cargo \(.*\), collected 1 cargo \(.*\) and 0 pickup authorizations into \S+outgoing$/,
    );
  });
});

describe('refusals the gateway explains (refusal reports)', () => {
  test('cargo refused for good is moved to refused/ with the reason printed; cargo refused for now stays; exit 1', async () => {
    const [good, foreign, early] = await Promise.all([
      makeCargo(world, 'user'),
      makeCargo(world, 'user'),
      makeCargo(world, 'user'),
    ]);
    writeFileSync(join(incoming, 'a-good.cargo'), good);
    writeFileSync(join(incoming, 'b-foreign.cargo'), foreign);
    writeFileSync(join(incoming, 'c-early.cargo'), early);
    const gateway = await startGateway({
      beforeStore(cargo) {
        if (cargo.equals(foreign))
          throw new CoSocketRefusalError('Cargo is addressed to 0abc, not to this gateway', RefusalDisposition.FINAL);
        if (cargo.equals(early))
          throw new CoSocketRefusalError('Clock skew: dated 3.0 h ahead', RefusalDisposition.LATER);
      },
    });

    const result = await runRelay(args());

    expect(result.status).toBe(1);
    expect(gateway.stored).toEqual([good]);
    expect(result.stderr).toContain(
      'b-foreign.cargo: refused by the gateway: Cargo is addressed to 0abc, not to this gateway\n',
    );
    expect(result.stderr).toMatch(
      /b-foreign\.cargo: moved to \S+refused\/b-foreign\.cargo \(it will not be presented again\)\n/,
    );
    expect(result.stderr).toContain(
      'c-early.cargo: not taken by the gateway for now, kept on the flashdrive: Clock skew: dated 3.0 h ahead\n',
    );
    expect(filesIn(incoming)).toEqual(['c-early.cargo', 'refused']);
    expect(contentOf(join(incoming, 'refused'), 'b-foreign.cargo')).toEqual(foreign);
    expect(summaryOf(result)).toMatch(
      /^relay: delivered 1 cargo .*; 1 file refused by the gateway, 1 cargo not delivered \(kept\)$/,
    );

    // The next run does not present the refused file again.
    const again = await runRelay(args());
    expect(gateway.stored.filter((cargo) => cargo.equals(foreign))).toHaveLength(0);
    expect(again.stderr).not.toContain('b-foreign');
  });

  test('a pickup authorization refused for good is moved aside with the reason; one refused for now is kept', async () => {
    const [bad, early] = [await makeCca(world), await makeCca(world)];
    writeFileSync(join(incoming, 'bad.cca'), bad);
    writeFileSync(join(incoming, 'early.cca'), early);
    await startGateway({
      collect(cca) {
        if (cca?.equals(bad))
          throw new CoSocketRefusalError(
            'CCA refused: not from a user gateway registered here',
            RefusalDisposition.FINAL,
          );
        throw new CoSocketRefusalError('CCA refused: not valid yet', RefusalDisposition.LATER);
      },
    });

    const result = await runRelay(args());

    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(
      /bad\.cca \(pickup authorization\): refused by the gateway: CCA refused: not from a user gateway registered here\n/,
    );
    expect(result.stderr).toMatch(
      /early\.cca \(pickup authorization\): not accepted by the gateway for now, kept: CCA refused: not valid yet\n/,
    );
    expect(filesIn(incoming)).toEqual(['early.cca', 'refused']);
    expect(contentOf(join(incoming, 'refused'), 'bad.cca')).toEqual(bad);
  });

  test('a spent pickup authorization (nothing to collect, and why) is moved aside', async () => {
    const spent = await makeCca(world);
    writeFileSync(join(incoming, 'spent.cca'), spent);
    const server = await createCoSocketServer({
      socketPath,
      onCargoDelivered: async () => undefined,
      onCargoCollectionRequest: () => ({
        items: [],
        refusal: { reason: 'CCA refused: CCA 1 was already used', disposition: RefusalDisposition.FINAL },
      }),
    });
    servers.push(server);

    const result = await runRelay(args());

    expect(result.status).toBe(1);
    expect(result.stderr).toContain(
      'spent.cca (pickup authorization): refused by the gateway: CCA refused: CCA 1 was already used\n',
    );
    expect(filesIn(join(incoming, 'refused'))).toEqual(['spent.cca']);
  });
});

describe('flashdrive folders', () => {
  test('a symlinked incoming folder is refused before anything is read or sent', async () => {
    const elsewhere = join(dir, 'gateway-data');
    mkdirSync(elsewhere);
    // A key made now, as a gateway's folder would hold one (no key is kept in the repository).
    const { privateKey } = generateKeyPairSync('ed25519');
    writeFileSync(join(elsewhere, 'identity-key.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(join(elsewhere, 'stolen.cargo'), await makeCargo(world, 'user'));
    rmSync(incoming, { recursive: true });
    symlinkSync(elsewhere, incoming);
    const gateway = await startGateway({ collect: () => [] });

    const result = await runRelay(args());

    expect(result.status).toBe(1);
    expect(result.stderr).toContain(
      `relay: cannot read the incoming folder ${incoming}: it is a symbolic link, refused`,
    );
    expect(result.stderr).not.toContain('identity-key.pem');
    expect(gateway.stored).toEqual([]);
    expect(readdirSync(elsewhere).sort()).toEqual(['identity-key.pem', 'stolen.cargo']);
  });

  test('a symlinked outgoing folder is refused before anything is delivered, and nothing is written through it', async () => {
    const elsewhere = join(dir, 'elsewhere');
    mkdirSync(elsewhere);
    symlinkSync(elsewhere, outgoing);
    writeFileSync(join(incoming, 'a.cargo'), await makeCargo(world, 'user'));
    const gateway = await startGateway({ collect: () => [{ cargo: Buffer.from('x') }] });

    const result = await runRelay(args());

    expect(result.status).toBe(1);
    expect(result.stderr).toContain(
      `relay: cannot use the outgoing folder ${outgoing}: it is a symbolic link, refused`,
    );
    expect(gateway.stored).toEqual([]);
    expect(gateway.requests).toEqual([]);
    expect(readdirSync(elsewhere)).toEqual([]);
    expect(filesIn(incoming)).toEqual(['a.cargo']);
  });

  test('GATEWAY with flashdrive/user-gw symlinked elsewhere: refused, nothing written there', async () => {
    const root = join(dir, 'root');
    const elsewhere = join(dir, 'elsewhere');
    mkdirSync(join(root, 'relayer-gateway'), { recursive: true });
    mkdirSync(join(root, 'flashdrive', 'relayer-gw'), { recursive: true });
    mkdirSync(elsewhere);
    symlinkSync(elsewhere, join(root, 'flashdrive', 'user-gw'));
    socketPath = join(root, 'relayer-gateway', 'cosocket.sock');
    writeFileSync(join(root, 'flashdrive', 'relayer-gw', 'a.cca'), await makeCca(world));
    await startGateway({ collect: () => [{ cargo: Buffer.from('x') }] });

    const result = await runRelay(['relayer-gateway', '--data-root', root, '--wait', '0']);

    expect(result.status).toBe(1);
    expect(result.stderr).toContain('it is a symbolic link, refused');
    expect(readdirSync(elsewhere)).toEqual([]);
  });

  test('a --flashdrive that does not exist is an error (exit 2), nothing is created; --init creates it', async () => {
    const root = join(dir, 'root');
    mkdirSync(join(root, 'user-gateway'), { recursive: true });
    socketPath = join(root, 'user-gateway', 'cosocket.sock');
    const collected = await makeCargo(world, 'relaying');
    await startGateway({ collect: () => [{ cargo: collected }] });
    const typo = join(dir, 'media', 'usbb');

    const result = await runRelay(['user-gateway', '--data-root', root, '--flashdrive', typo]);
    expect(result.status).toBe(2);
    expect(result.stderr).toBe(
      `relay: the flashdrive folder ${typo} does not exist: is the flashdrive mounted there? is the path right? (--init creates the folder)\n`,
    );
    expect(existsSync(join(dir, 'media'))).toBe(false);

    const initialised = await runRelay(['user-gateway', '--data-root', root, '--flashdrive', typo, '--init']);
    expect(initialised.status).toBe(0);
    expect(initialised.stderr).toContain(`relay: created the flashdrive folder ${typo}\n`);
    expect(summaryOf(initialised)).toMatch(
      new RegExp(`and 1 pickup authorization|and 0 pickup authorizations into ${typo}/relayer-gw$`),
    );
    expect(readdirSync(join(typo, 'relayer-gw'))).toHaveLength(1);
  });

  test('without GATEWAY, the folder holding --outgoing must exist (--init creates it)', async () => {
    await startGateway({ collect: () => [{ cargo: Buffer.from('not checked: never reached') }] });
    const typoOutgoing = join(dir, 'usbb', 'to-internet');
    const result = await runRelay([
      '--cosocket',
      socketPath,
      '--incoming',
      incoming,
      '--outgoing',
      typoOutgoing,
      '--wait',
      '0',
    ]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(`relay: the flashdrive folder ${join(dir, 'usbb')} does not exist`);
    expect(existsSync(join(dir, 'usbb'))).toBe(false);
  });

  test('the default flashdrive folder is made in an existing data root; a missing data root is an error', async () => {
    const root = join(dir, 'root');
    mkdirSync(join(root, 'user-gateway'), { recursive: true });
    socketPath = join(root, 'user-gateway', 'cosocket.sock');
    await startGateway({ collect: () => [] });

    const made = await runRelay(['user-gateway'], { env: { ...process.env, RELAYNET_DATA_ROOT: root } });
    expect(made.status).toBe(3);
    expect(made.stderr).toContain(`relay: created the flashdrive folder ${join(root, 'flashdrive')}\n`);

    const missing = join(dir, 'no-root');
    const refused = await runRelay(['user-gateway'], { env: { ...process.env, RELAYNET_DATA_ROOT: missing } });
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain(`neither does the data root ${missing}`);
    expect(existsSync(missing)).toBe(false);
  });

  test('at the user gateway the relay does not wait after delivering', async () => {
    const root = join(dir, 'root');
    mkdirSync(join(root, 'user-gateway'), { recursive: true });
    mkdirSync(join(root, 'flashdrive', 'user-gw'), { recursive: true });
    socketPath = join(root, 'user-gateway', 'cosocket.sock');
    writeFileSync(join(root, 'flashdrive', 'user-gw', 'a.cargo'), await makeCargo(world, 'relaying'));
    await startGateway({ collect: () => [] });

    const result = await runRelay(['user-gateway', '--data-root', root]);

    expect(result.status).toBe(0);
    expect(result.stderr).not.toContain('waiting');
  });
});

describe('one run at a time per flashdrive', () => {
  const lockFile = () => join(dir, '.relay.lock');

  test('a second run while one is under way is refused with a clear message, and the first one completes', async () => {
    writeFileSync(join(incoming, 'a.cargo'), await makeCargo(world, 'user'));
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let collecting!: () => void;
    const firstIsCollecting = new Promise<void>((resolve) => (collecting = resolve));
    const collected = await makeCargo(world, 'relaying');
    const gateway = await startGateway({
      collect: () =>
        (async function* () {
          collecting();
          await held; // the first run stays in its collection until the second one has tried
          yield { cargo: collected };
        })(),
    });

    const first = runRelay(args());
    await firstIsCollecting;
    const second = await runRelay(args());
    release();

    expect(second.status).toBe(1);
    expect(second.stderr).toMatch(
      new RegExp(
        `^relay: a relay run \\(pid \\d+ on this computer, since \\S+\\) is using this flashdrive; wait for it to finish .*If no relay is running, delete ${lockFile()}\\n$`,
      ),
    );
    expect((await first).status).toBe(0);
    expect(gateway.stored).toHaveLength(1);
    expect(gateway.requests).toHaveLength(1);
    expect(existsSync(lockFile())).toBe(false); // released
  });

  test('a lock left by a killed run (its process is gone) is taken over', async () => {
    const dead = spawn(process.execPath, ['-e', '']);
    const pid = dead.pid!;
    await new Promise((resolve) => dead.once('exit', resolve));
    writeFileSync(
      lockFile(),
      JSON.stringify({ pid, hostname: hostname(), since: '2026-01-01T00:00:00.000Z', token: 'x' }),
    );
    await startGateway({ collect: () => [{ cargo: Buffer.from('never mind') }] });
    writeFileSync(join(incoming, 'a.cargo'), await makeCargo(world, 'user'));

    const result = await runRelay(args());

    expect(result.stderr).toContain(
      `relay: took over the flashdrive lock left by a run that ended without releasing it (pid ${pid} on ${hostname()}`,
    );
    expect(filesIn(incoming)).toEqual([]); // delivered
    expect(existsSync(lockFile())).toBe(false);
  });

  test("another computer's lock counts while its holder refreshes it, and is taken over once it stopped", async () => {
    const lock = JSON.stringify({ pid: 1, hostname: 'couriers-laptop', since: '2026-01-01T00:00:00.000Z', token: 'x' });
    writeFileSync(lockFile(), lock);
    await startGateway({ collect: () => [] });

    const refused = await runRelay(args());
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain(
      'a relay run (pid 1 on couriers-laptop, since 2026-01-01T00:00:00.000Z) is using this flashdrive',
    );

    const longAgo = new Date(Date.now() - 10 * 60_000);
    utimesSync(lockFile(), longAgo, longAgo);
    const taken = await runRelay(args());
    expect(taken.status).toBe(3);
    expect(taken.stderr).toContain('took over the flashdrive lock');
  });
});
