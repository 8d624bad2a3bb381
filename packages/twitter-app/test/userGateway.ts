/**
 * bin/twitter-app against the real bin/user-gateway (packages/user-gateway) as a child process. The
 * parcels' contents are checked in cli.spec.ts.
 * Called from cli.spec.ts (one file, so the two never build packages/twitter-app concurrently).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { buildPackages, Daemon, runProcess, tmpfsUnavailable } from '@twitter-relaynet/test-support';
import { TestAdapter } from '@twitter-relaynet/test-support/endpoint';

const REPO = resolve(__dirname, '..', '..', '..');
const APP = join(REPO, 'bin', 'twitter-app');
const USER_GATEWAY = join(REPO, 'bin', 'user-gateway');

function buildUserGateway(): string | null {
  if (!existsSync(USER_GATEWAY) || !existsSync(join(REPO, 'packages', 'user-gateway', 'tsconfig.json'))) {
    return 'bin/user-gateway does not exist';
  }
  try {
    buildPackages(REPO, ['packages/user-gateway']);
    return null;
  } catch (error) {
    return `packages/user-gateway does not build: ${String(error).slice(0, 500)}`;
  }
}

/** Write to `file` until the file system is full (ENOSPC). */
function fillUp(file: string): void {
  const fd = openSync(file, 'w');
  try {
    const chunk = Buffer.alloc(4096, 1);
    for (;;) writeSync(fd, chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    closeSync(fd);
  }
}

/** Call after packages/twitter-app is built. */
export function describeWithRealUserGateway(): void {
  const unavailable = buildUserGateway();
  if (unavailable) throw new Error(`Cannot test against the real user gateway: ${unavailable}`);

  describe('bin/twitter-app with the real bin/user-gateway', () => {
    const dir = mkdtempSync(join(tmpdir(), 'twitter-app-ug-'));
    const root = join(dir, 'root');
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: join(dir, 'home'),
      RELAYNET_DATA_ROOT: root,
      TWITTER_APP_ENV_FILE: join(dir, 'no.env'),
    };
    const gateway = new Daemon(USER_GATEWAY, { env, cwd: dir, readyTimeoutMs: 20_000 });
    let adapter: TestAdapter;

    const startGateway = () => gateway.start();
    const stopGateway = () => gateway.stop();

    async function app(args: string[], input = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
      const { status, stdout, stderr } = await runProcess(APP, args, { env, cwd: dir, input });
      return { code: status, stdout, stderr };
    }

    beforeAll(async () => {
      adapter = await TestAdapter.create();
      mkdirSync(join(root, 'twitter-api-adapter'), { recursive: true });
      await adapter.endpoint.publishConnectionParameters(
        join(root, 'twitter-api-adapter', 'connection-parameters.json'),
      );
      await startGateway();
    }, 60_000);

    const mounted: string[] = [];

    afterAll(async () => {
      await stopGateway();
      await adapter?.close();
      for (const folder of mounted) execFileSync('umount', [folder]);
      rmSync(dir, { recursive: true, force: true });
    });

    // No relaying gateway in this test: the user gateway never registers, and the app says so.
    const notRegistered =
      'twitter-app: warning: the user gateway is not registered with its relaying gateway yet, so it can make no cargo: ' +
      `what it holds waits there. It registers by itself once the relaying gateway answers its request in ${join(root, 'registration')}: ` +
      'the relaying gateway must be running and reach that folder (npm start runs both; see README.md, "Where state lives")\n';

    test('registers, subscribes and sends a tweet; tweets made while it is stopped are saved, and timeline sends them after its restart', async () => {
      const first = await app([], 'hello through the real gateway\n');
      expect(first).toMatchObject({ code: 0, stderr: notRegistered });
      expect(first.stdout).toMatch(/^Registered with the user gateway at .*\/user-gateway\/powebsocket\.sock/);
      expect(first.stdout).toMatch(/Subscribed to your home timeline until/);
      expect(first.stdout).toMatch(/Tweet given to the user gateway \(id /);
      expect(JSON.parse((await app(['status', '--json'])).stdout).tweets).toEqual({
        queued: 0,
        sent: 1,
        confirmed: 0,
        failed: 0,
      });

      await stopGateway();
      for (const [index, text] of ['A while it is stopped', 'B while it is stopped'].entries()) {
        const down = await app(['tweet', text]);
        expect(down.code).toBe(3);
        expect(down.stderr).toBe(
          `twitter-app: user gateway not reachable at ${join(root, 'user-gateway', 'powebsocket.sock')}: start it with npm start\n${notRegistered}`,
        );
        expect(down.stdout).toMatch(
          new RegExp(`^Tweet saved \\(id [0-9a-f-]{36}\\): ${index + 1} tweets? queued in the app, nothing is lost`),
        );
      }

      await startGateway();
      const next = await app(['timeline']);
      expect(next).toMatchObject({ code: 0, stderr: notRegistered });
      expect(next.stdout).not.toMatch(/Registered|Subscribed/); // same gateway identity, current subscription
      expect(next.stdout).toMatch(/^Gave the user gateway 2 tweets queued earlier: /);
      expect(JSON.parse((await app(['status', '--json'])).stdout).tweets).toEqual({
        queued: 0,
        sent: 3,
        confirmed: 0,
        failed: 0,
      });
    });

    const unavailable = tmpfsUnavailable();
    if (unavailable) console.warn(`userGateway: skipping the full-disk test: ${unavailable}`);
    (unavailable ? test.skip : test)(
      "the user gateway's disk full (a real 16 MiB tmpfs): four tweets, each saved and counted; once there is room, timeline sends them all",
      async () => {
        // The gateway's folder on its own small file system (a new gateway: the app registers again).
        await stopGateway();
        const folder = join(root, 'user-gateway');
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', folder]);
        mounted.push(folder);
        await startGateway();
        expect((await app(['subscribe'])).code).toBe(0);
        const sentBefore = JSON.parse((await app(['status', '--json'])).stdout).tweets.sent as number;
        const filler = join(folder, 'filler.bin');
        fillUp(filler);

        const socket = join(folder, 'powebsocket.sock');
        for (let count = 1; count <= 4; count++) {
          const result = await app(['tweet', `full disk ${count}`]);
          expect({ count, code: result.code }).toEqual({ count, code: 3 });
          expect(result.stderr).toMatch(
            new RegExp(`^twitter-app: the user gateway at ${socket} did not take a parcel: .+\\n`),
          );
          expect(result.stderr.endsWith(notRegistered)).toBe(true);
          expect(result.stdout).toMatch(
            new RegExp(`^Tweet saved \\(id [0-9a-f-]{36}\\): ${count} tweets? queued in the app, nothing is lost; `),
          );
        }
        expect(JSON.parse((await app(['status', '--json'])).stdout).tweets).toMatchObject({ queued: 4 });

        unlinkSync(filler);
        const next = await app(['timeline']);
        expect(next).toMatchObject({ code: 0, stderr: notRegistered });
        expect(next.stdout).toContain(
          'Gave the user gateway 4 tweets queued earlier: on their way, posted once a courier carries them.\n',
        );
        expect(JSON.parse((await app(['status', '--json'])).stdout).tweets).toEqual({
          queued: 0,
          sent: sentBefore + 4,
          confirmed: 0,
          failed: 0,
        });
      },
      60_000,
    );

    (unavailable ? test.skip : test)(
      "the app's own disk full (a real 1 MiB tmpfs): the tweet is refused and said not saved (exit 4)",
      async () => {
        const appDir = join(dir, 'app-on-a-full-disk');
        mkdirSync(appDir);
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', appDir]);
        mounted.push(appDir);
        expect((await app(['--data-dir', appDir, 'status'])).code).toBe(0);
        const filler = join(appDir, 'filler.bin');
        fillUp(filler);
        const result = await app(['--data-dir', appDir, 'tweet', 'no room for me']);
        expect(result).toMatchObject({ code: 4, stdout: '' });
        expect(result.stderr).toMatch(
          new RegExp(
            `^twitter-app: cannot keep the app's data in ${appDir} \\(SQLITE_[A-Z_]+\\): .+ \\(no space left on the disk\\); choose another folder with --data-dir or --data-root; the tweet was not saved\\n$`,
          ),
        );
        unlinkSync(filler);
        expect(JSON.parse((await app(['--data-dir', appDir, 'status', '--json'])).stdout).tweets).toEqual({
          queued: 0,
          sent: 0,
          confirmed: 0,
          failed: 0,
        });
      },
    );
  });
}
