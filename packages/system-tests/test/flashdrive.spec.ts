/**
 * A damaged or hostile flashdrive, with the real executables (world.ts): bad files among real cargo,
 * duplicated cargo, a full flashdrive and a read-only one. Each bad file gets its own line and stays
 * where it is; everything else still moves, and every parcel reaches its endpoint exactly once.
 *
 * The full and read-only flashdrives are real tmpfs mounts (mount needs root): without root these two
 * tests are skipped with the reason printed. packages/relay/test/cli.spec.ts covers the same faults
 * (and folders that vanish mid-run) against a scripted gateway, without mounts.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { tmpfsUnavailable } from '@twitter-relaynet/test-support';
import { buildExecutables, countOf, waitFor, World } from './world';

jest.setTimeout(60_000);

const mountUnavailable = tmpfsUnavailable();
const withMounts = mountUnavailable ? test.skip : test;
if (mountUnavailable) {
  console.warn(`flashdrive.spec: skipping the full and read-only flashdrive tests: ${mountUnavailable}`);
}

let world: World;
let alice: Awaited<ReturnType<World['openApp']>>;
/** Mounted over the world's flashdrive folder, if any. */
let mounted = false;

beforeAll(async () => {
  buildExecutables();
  world = new World();
  await world.start();
  alice = await world.openApp('alice');
}, 120_000);

afterEach(() => {
  if (mounted) {
    execFileSync('umount', [world.path('flashdrive')]);
    mounted = false;
  }
});

afterAll(async () => {
  await world?.close();
});

function mountFlashdrive(size: string): void {
  mkdirSync(world.path('flashdrive'), { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', world.path('flashdrive')]);
  mounted = true;
}

function remountFlashdrive(mode: 'ro' | 'rw'): void {
  execFileSync('mount', ['-o', `remount,${mode}`, world.path('flashdrive')]);
}

/** Messages the adapter got, so far, by text. */
const adapterCounts = () => countOf(world.adapterInbox.contents());

/** Every text sent so far, once each. */
const sent: string[] = [];
async function tweet(text: string): Promise<void> {
  await alice.send(text);
  sent.push(text);
}

async function waitForAdapter(): Promise<void> {
  await waitFor('the adapter to receive every parcel', () => world.adapterInbox.messages.length >= sent.length);
}

const cargoFiles = (folder: string) => world.courier.files(folder).filter((f) => f.endsWith('.cargo'));

test('bad files are reported one by one and left in place; good and duplicated cargo goes through, once', async () => {
  await tweet('with bad files 1');
  await tweet('with bad files 2');
  expect((await world.courier.run('user')).status).toBe(0);
  const [cargoName] = cargoFiles(world.courier.toRelayer);
  const folder = world.courier.toRelayer;
  const cargo = readFileSync(join(folder, cargoName));

  const corrupted = Buffer.from(cargo);
  corrupted[corrupted.length - 30] ^= 0x55;
  const bad: Record<string, Buffer> = {
    'truncated.cargo': cargo.subarray(0, Math.floor(cargo.length * 0.6)),
    'corrupted.cargo': corrupted,
    'empty.cargo': Buffer.alloc(0),
    'holiday-photo.jpg': Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(2_000, 7)]),
    'README.txt': Buffer.from('This flashdrive belongs to the courier.\n'),
  };
  for (const [name, content] of Object.entries(bad)) writeFileSync(join(folder, name), content);
  copyFileSync(join(folder, cargoName), join(folder, `copy of ${cargoName}`));

  const result = await world.courier.run('relayer');

  expect(result.status).toBe(1);
  const lines = result.stderr.trim().split('\n');
  const linesFor = (name: string) => lines.filter((line) => line.includes(`/${name}: left in place: `));
  expect(linesFor('truncated.cargo')).toEqual([expect.stringMatching(/: invalid cargo: /)]);
  expect(linesFor('corrupted.cargo')).toEqual([expect.stringMatching(/: invalid cargo: /)]);
  expect(linesFor('empty.cargo')).toEqual([expect.stringMatching(/: empty file \(0 octets\)$/)]);
  expect(linesFor('holiday-photo.jpg')).toEqual([expect.stringMatching(/: not a RAMF message: /)]);
  expect(linesFor('README.txt')).toEqual([expect.stringMatching(/: not a RAMF message: /)]);
  expect(lines.at(-1)).toMatch(/^relay: delivered 2 cargo .*; 5 invalid files left in place$/);
  // The bad files are untouched; the cargo and its copy were both acknowledged and deleted.
  for (const [name, content] of Object.entries(bad)) expect(readFileSync(join(folder, name))).toEqual(content);
  expect(cargoFiles(folder).sort()).toEqual(['corrupted.cargo', 'empty.cargo', 'truncated.cargo']);

  await waitForAdapter();
  expect(adapterCounts()).toEqual(countOf(sent));
  for (const name of Object.keys(bad)) unlinkSync(join(folder, name));
});

withMounts(
  'a full flashdrive: nothing collected is acknowledged; once there is room, everything still arrives once',
  async () => {
    mountFlashdrive('256k');
    await tweet('full disk 1');
    await tweet('full disk 2');
    // Fill it up completely.
    mkdirSync(world.courier.toRelayer, { recursive: true });
    const filler = join(world.path('flashdrive'), 'filler.bin');
    expect(() => writeFileSync(filler, Buffer.alloc(1024 * 1024))).toThrow(/ENOSPC/);

    const full = await world.courier.run('user');
    expect(full.status).toBe(1);
    expect(full.stderr).toMatch(
      /relayer-gw\/[0-9a-f-]{36}\.(cargo|cca): could not be saved \(no space left on device \(ENOSPC\)\); not acknowledged, the gateway keeps it; collection stopped/,
    );
    expect(world.courier.files(world.courier.toRelayer)).toEqual([]); // no partial or temp file

    unlinkSync(filler);
    expect((await world.courier.run('user')).status).toBe(0);
    expect((await world.courier.run('relayer')).status).toBe(0);
    await waitForAdapter();
    expect(adapterCounts()).toEqual(countOf(sent));
  },
);

withMounts(
  'a read-only flashdrive: delivered cargo cannot be deleted (said so), nothing is saved; once writable, everything arrives once',
  async () => {
    mountFlashdrive('4m');
    await tweet('read-only 1');
    await tweet('read-only 2');
    expect((await world.courier.run('user')).status).toBe(0);
    const cargoNames = cargoFiles(world.courier.toRelayer);
    expect(cargoNames).toHaveLength(1);
    mkdirSync(world.courier.toUser, { recursive: true });
    remountFlashdrive('ro');

    const readOnly = await world.courier.run('relayer');
    expect(readOnly.status).toBe(1);
    expect(readOnly.stderr).toContain(
      `${cargoNames[0]}: delivered, but could not be deleted (read-only file system (EROFS)); delete it by hand`,
    );
    expect(readOnly.stderr).toMatch(
      /user-gw\/[0-9a-f-]{36}\.cargo: could not be saved \(read-only file system \(EROFS\)\); not acknowledged/,
    );
    expect(cargoFiles(world.courier.toRelayer)).toEqual(cargoNames);

    // Writable again: the same cargo goes in a second time (the gateway takes it as a duplicate), and the
    // next trips carry on as usual.
    remountFlashdrive('rw');
    await world.courier.run('relayer');
    expect(cargoFiles(world.courier.toRelayer)).toEqual([]);
    expect((await world.courier.run('user')).status).toBe(0);
    expect((await world.courier.run('relayer')).status).toBe(0);
    await waitForAdapter();
    expect(adapterCounts()).toEqual(countOf(sent));
  },
);
