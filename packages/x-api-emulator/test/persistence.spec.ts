import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createEmulatorClient, DEFAULT_CREDENTIALS, startEmulator } from '../src';

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
});
