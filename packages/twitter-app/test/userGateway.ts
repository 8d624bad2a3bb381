/**
 * bin/twitter-app against the real bin/user-gateway (packages/user-gateway) as a child process. The
 * parcels' contents are checked in cli.spec.ts.
 * Called from cli.spec.ts (one file, so the two never build packages/twitter-app concurrently).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { TestAdapter } from './gateway';

const REPO = resolve(__dirname, '..', '..', '..');
const APP = join(REPO, 'bin', 'twitter-app');
const USER_GATEWAY = join(REPO, 'bin', 'user-gateway');

function buildUserGateway(): string | null {
  if (!existsSync(USER_GATEWAY) || !existsSync(join(REPO, 'packages', 'user-gateway', 'tsconfig.json'))) {
    return 'bin/user-gateway does not exist';
  }
  try {
    const tsc = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
    execFileSync(process.execPath, [tsc, '-b', 'packages/user-gateway'], { cwd: REPO, stdio: 'pipe' });
    return null;
  } catch (error) {
    return `packages/user-gateway does not build: ${String((error as { stdout?: Buffer }).stdout ?? error).slice(0, 500)}`;
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
    let gateway: ChildProcess | null = null;
    let adapter: TestAdapter;

    async function startGateway(): Promise<void> {
      const child = spawn(USER_GATEWAY, [], { env, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      gateway = child;
      let out = '';
      await new Promise<void>((ready, fail) => {
        const timer = setTimeout(() => fail(new Error(`user-gateway did not start:\n${out}`)), 20_000);
        child.stdout!.on('data', (chunk) => {
          out += chunk;
          if (/\bready\b/.test(out)) {
            clearTimeout(timer);
            ready();
          }
        });
        child.stderr!.resume();
        child.once('exit', (code) => {
          clearTimeout(timer);
          fail(new Error(`user-gateway exited (${code}):\n${out}`));
        });
      });
    }

    async function stopGateway(): Promise<void> {
      const child = gateway;
      gateway = null;
      if (!child || child.exitCode !== null) return;
      const exited = new Promise((done) => child.once('exit', done));
      child.kill('SIGTERM');
      await exited;
    }

    function app(args: string[], input = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
      return new Promise((done, fail) => {
        const child = spawn(APP, args, { env, cwd: dir });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk) => (stdout += chunk));
        child.stderr.on('data', (chunk) => (stderr += chunk));
        child.on('error', fail);
        child.on('close', (code) => done({ code, stdout, stderr }));
        child.stdin.end(input);
      });
    }

    beforeAll(async () => {
      adapter = await TestAdapter.create();
      mkdirSync(join(root, 'twitter-api-adapter'), { recursive: true });
      await adapter.endpoint.publishConnectionParameters(join(root, 'twitter-api-adapter', 'connection-parameters.json'));
      await startGateway();
    }, 60_000);

    afterAll(async () => {
      await stopGateway();
      await adapter?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    // No relaying gateway in this test: the user gateway never registers, and the app says so.
    const notRegistered =
      'twitter-app: warning: the user gateway is not registered with its relaying gateway yet, so it can make no cargo: ' +
      `what it holds waits there. It registers by itself once the relaying gateway answers its request in ${join(root, 'registration')}: ` +
      'the relaying gateway must be running and reach that folder (npm start runs both; see README.md, "Where state lives")\n';

    test('registers, subscribes and queues a tweet; a tweet made while it is stopped is sent after its restart', async () => {
      const first = await app([], 'hello through the real gateway\n');
      expect(first).toMatchObject({ code: 0, stderr: notRegistered });
      expect(first.stdout).toMatch(/^Registered with the user gateway at .*\/user-gateway\/powebsocket\.sock/);
      expect(first.stdout).toMatch(/Subscribed to your home timeline until/);
      expect(first.stdout).toMatch(/Tweet queued \(id /);
      expect(JSON.parse((await app(['status', '--json'])).stdout).tweets).toEqual({ queued: 0, sent: 1, confirmed: 0, failed: 0 });

      await stopGateway();
      const down = await app(['tweet', 'while it is stopped']);
      expect(down.code).toBe(3);
      expect(down.stderr).toBe(
        `twitter-app: user gateway not reachable at ${join(root, 'user-gateway', 'powebsocket.sock')}: start it with npm start; ` +
          'the tweet is kept queued and will be sent on the next run\n',
      );

      await startGateway();
      const next = await app(['timeline']);
      expect(next).toMatchObject({ code: 0, stderr: notRegistered });
      const again = await app([], '\n');
      expect(again.code).toBe(0);
      expect(again.stdout).not.toMatch(/Registered|Subscribed/); // same gateway identity, current subscription
      expect(again.stdout).toContain('Sent 1 tweet(s) left queued by an earlier run.\n');
      const tweeted = await app(['tweet', 'a third one']);
      expect(tweeted).toMatchObject({ code: 0, stderr: notRegistered });
      expect(JSON.parse((await app(['status', '--json'])).stdout).tweets).toEqual({ queued: 0, sent: 3, confirmed: 0, failed: 0 });
    });
  });
}
