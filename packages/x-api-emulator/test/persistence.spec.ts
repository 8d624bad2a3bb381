import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Daemon } from '@twitter-relaynet/test-support';

import { createEmulatorClient, DEFAULT_CREDENTIALS, startEmulator } from '../src';
import { DATABASE_FILE_NAME } from '../src/server';

const BIN = join(__dirname, '..', 'dist', 'bin', 'x-api-emulator.js');
const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);

describe('persistence', () => {
  let dataDir: string;

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'x-api-emulator-'));
  });

  afterEach(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('a restart on the same data dir keeps tweets, seeds once, and keeps ids increasing', async () => {
    const first = await startEmulator({ port: 0, dataDir });
    const firstClient = createEmulatorClient(first.url, DEFAULT_CREDENTIALS);
    const posted = await firstClient.v2.tweet('Survives a restart');
    const seededCount = (await firstClient.v2.homeTimeline()).tweets.length;
    await first.close();

    // Even with the clock an hour behind, new ids must be greater than stored ones.
    const second = await startEmulator({
      port: 0,
      dataDir,
      clock: () => Date.now() - 3600_000,
      oauthTimestampToleranceSeconds: null,
    });
    try {
      const client = createEmulatorClient(second.url, DEFAULT_CREDENTIALS);
      const found = await client.v2.singleTweet(posted.data.id);
      expect(found.data).toMatchObject({ id: posted.data.id, text: 'Survives a restart' });
      expect((await client.v2.homeTimeline()).tweets.length).toBe(seededCount);

      const later = await client.v2.tweet('After the restart');
      expect(BigInt(later.data.id)).toBeGreaterThan(BigInt(posted.data.id));
      const duplicate = client.v2.tweet('Survives a restart');
      await expect(duplicate).rejects.toMatchObject({ code: 403 });
    } finally {
      await second.close();
    }
  });

  test('the emulator process keeps its folder 0700 and its SQLite files 0600, WAL and SHM included, fixing older modes', async () => {
    const folder = join(dataDir, 'x-api-emulator');
    // As an older version left them.
    mkdirSync(folder, { mode: 0o755 });
    chmodSync(folder, 0o755);
    writeFileSync(join(folder, `${DATABASE_FILE_NAME}-shm`), '', { mode: 0o644 });
    chmodSync(join(folder, `${DATABASE_FILE_NAME}-shm`), 0o644);
    const emulator = new Daemon(process.execPath, {
      name: 'x-api-emulator',
      args: [BIN, '--port', '0', '--data-dir', folder, '--quiet'],
      cwd: process.cwd(),
      readyText: '  web page:', // the line after the address: the address is whole
    });
    await emulator.start();
    try {
      const url = /listening on (http:\/\/\S+)/.exec(emulator.stdout)![1];
      // A write, so that SQLite has its -wal and -shm files open.
      await createEmulatorClient(url, DEFAULT_CREDENTIALS).v2.tweet('Written while the files are checked');
      expect(readdirSync(folder).sort()).toEqual([
        DATABASE_FILE_NAME,
        `${DATABASE_FILE_NAME}-shm`,
        `${DATABASE_FILE_NAME}-wal`,
      ]);
      expect(mode(folder)).toBe('700');
      for (const name of readdirSync(folder)) expect([name, mode(join(folder, name))]).toEqual([name, '600']);
    } finally {
      await emulator.stop();
    }
    expect(emulator.exit).toEqual({ code: 0, signal: null });
  });
});
