/**
 * runRelay in-process, for what a child process cannot show: a full disk (ENOSPC injected into the file
 * operations) and an interruption (the AbortSignal that SIGINT/SIGTERM trigger in bin/relay).
 */
import * as fsPromises from 'node:fs/promises';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { type CollectionItem, createCoSocketServer, type CoSocketServer } from '@twitter-relaynet/cosocket';

import { CoSocketConnector, PlainReporter, runRelay, type WriteFileSystem } from '../src';
import { getWorld, makeCargo, type World } from './fixtures';

let world: World;
let dir: string;
let incoming: string;
let outgoing: string;
let socketPath: string;
let server: CoSocketServer | undefined;
let lines: string[];

beforeAll(async () => {
  world = await getWorld();
});

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'relay-ip-'));
  incoming = join(dir, 'incoming');
  outgoing = join(dir, 'outgoing');
  socketPath = join(dir, 'gw.sock');
  mkdirSync(incoming);
  lines = [];
});

afterEach(async () => {
  await server?.close();
  server = undefined;
  rmSync(dir, { recursive: true, force: true });
});

const reporter = () => new PlainReporter({ write: (text: string) => lines.push(text.trimEnd()) });

test('a full disk (ENOSPC while writing): nothing acked, no partial file, collection stopped', async () => {
  const items = [await makeCargo(world, 'relaying'), await makeCargo(world, 'relaying')];
  const acked: Buffer[] = [];
  server = await createCoSocketServer({
    socketPath,
    onCargoDelivered: async () => undefined,
    onCargoCollectionRequest: () => ({
      items: items.map((cargo): CollectionItem => ({ cargo, onAck: () => void acked.push(cargo) })),
    }),
  });
  const fullDisk: WriteFileSystem = {
    ...{ rename: fsPromises.rename, rm: fsPromises.rm },
    open: (async (path: string, flags?: string | number, mode?: number) => {
      const handle = await fsPromises.open(path, flags, mode);
      if (flags !== 'wx') return handle;
      return Object.assign(Object.create(handle) as fsPromises.FileHandle, {
        writeFile: async () => {
          throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
        },
        close: () => handle.close(),
      });
    }) as typeof fsPromises.open,
  };

  const result = await runRelay(
    { gateway: new CoSocketConnector(socketPath), incoming, outgoing, waitSeconds: 0 },
    { reporter: reporter(), fs: fullDisk },
  );

  expect(result.errors).toBe(1);
  expect(result.collectedCargo.count).toBe(0);
  expect(acked).toEqual([]);
  expect(readdirSync(outgoing)).toEqual([]);
  expect(lines).toEqual([
    expect.stringMatching(
      /^relay: .*\.cargo: could not be saved \(no space left on device \(ENOSPC\)\); not acknowledged, the gateway keeps it; collection stopped$/,
    ),
  ]);
});

test('collected cargo is acked only once its own file is durably saved, even while later ones are checked', async () => {
  const items = await Promise.all([0, 1, 2, 3].map(() => makeCargo(world, 'relaying')));
  const savedWhenAcked: boolean[] = [];
  const syncing: string[] = [];
  server = await createCoSocketServer({
    socketPath,
    onCargoDelivered: async () => undefined,
    onCargoCollectionRequest: () => ({
      items: items.map((cargo): CollectionItem => ({
        cargo,
        onAck: () => {
          // The ack must come after the file is in place under its final name with these bytes.
          const names = readdirSync(outgoing).filter((name) => !name.startsWith('.'));
          savedWhenAcked.push(names.some((name) => readFileSync(join(outgoing, name)).equals(cargo)));
        },
      })),
    }),
  });
  // Slow fsyncs: the next messages arrive (and are checked) while a file is being synced.
  const slowSync: WriteFileSystem = {
    ...{ rename: fsPromises.rename, rm: fsPromises.rm },
    open: (async (path: string, flags?: string | number, mode?: number) => {
      const handle = await fsPromises.open(path, flags, mode);
      if (flags !== 'wx') return handle;
      return Object.assign(Object.create(handle) as fsPromises.FileHandle, {
        writeFile: (data: Buffer) => handle.writeFile(data),
        sync: async () => {
          syncing.push(path);
          await new Promise((resolve) => setTimeout(resolve, 50));
          await handle.sync();
        },
        close: () => handle.close(),
      });
    }) as typeof fsPromises.open,
  };

  const result = await runRelay(
    { gateway: new CoSocketConnector(socketPath), incoming, outgoing, waitSeconds: 0 },
    { reporter: reporter(), fs: slowSync },
  );

  expect(result).toMatchObject({ errors: 0, collectedCargo: { count: 4 } });
  expect(syncing).toHaveLength(4);
  expect(savedWhenAcked).toEqual([true, true, true, true]);
  const saved = readdirSync(outgoing).map((name) => readFileSync(join(outgoing, name)));
  expect(saved).toHaveLength(4);
  for (const cargo of items) expect(saved.some((bytes) => bytes.equals(cargo))).toBe(true);
});

test('an interruption mid-delivery: what was acked is deleted, the rest stays, no collection', async () => {
  const cargoes = await Promise.all([0, 1, 2, 3].map(() => makeCargo(world, 'user')));
  cargoes.forEach((cargo, i) => writeFileSync(join(incoming, `${i}.cargo`), cargo));
  const controller = new AbortController();
  let stored = 0;
  let collections = 0;
  server = await createCoSocketServer({
    socketPath,
    window: 1,
    onCargoDelivered: async () => {
      if (++stored === 2) controller.abort(); // Ctrl-C while the second cargo is being stored
    },
    onCargoCollectionRequest: () => {
      collections++;
      return { items: [] };
    },
  });

  const result = await runRelay(
    { gateway: new CoSocketConnector(socketPath), incoming, outgoing, waitSeconds: 0, signal: controller.signal },
    { reporter: reporter() },
  );

  expect(result.errors).toBe(1);
  expect(lines).toContain('relay: interrupted; what was not acknowledged stays where it was');
  expect(collections).toBe(0);
  const left = readdirSync(incoming);
  expect(left.length).toBe(4 - result.delivered.count);
  expect(result.delivered.count).toBeGreaterThanOrEqual(1);
  expect(result.undelivered).toBe(left.length);
  expect(existsSync(join(incoming, '0.cargo'))).toBe(false);
});
