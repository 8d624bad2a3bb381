/**
 * bin/twitter-app as a child process, against a real PoWebSocket user gateway stand-in (test-support's TestUserGateway) and an
 * adapter stand-in (a real PublicEndpoint) whose connection parameters are published in the data root.
 * The module builds the package first (`tsc -b packages/twitter-app`, incremental) so the wrapper runs current code;
 * then the same flow, shorter, runs against the real bin/user-gateway when it builds (test/userGateway.ts).
 */
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

import { X_API_EMULATOR_CREDENTIALS } from '@twitter-relaynet/config';
import { Parcel } from '@twitter-relaynet/core';
import { buildPackages, Daemon, runProcess } from '@twitter-relaynet/test-support';
import {
  deserializeDeliveryAuthorization,
  type DeliveryAuthorization,
  type IncomingMessage,
} from '@twitter-relaynet/endpoint';

import { TestAdapter, TestUserGateway } from '@twitter-relaynet/test-support/endpoint';
import { describeWithRealUserGateway } from './userGateway';
import {
  decodeSubscription,
  decodeTweet,
  encodeOutcome,
  encodeTimelineBatch,
  serviceMessages,
  TIMELINE_UPDATE_BATCH_TYPE,
  TWEET_TYPE,
  UPDATE_SUBSCRIPTION_TYPE,
} from './service';

const REPO = resolve(__dirname, '..', '..', '..');

// Build once, before any test (incremental), so the wrapper runs the current code.
buildPackages(REPO, ['packages/twitter-app']);
const BIN = join(REPO, 'bin', 'twitter-app');
const DAY_MS = 86_400_000;

interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

describe('bin/twitter-app', () => {
  const dir = mkdtempSync(join(tmpdir(), 'twitter-app-cli-'));
  const root = join(dir, 'root');
  const socketPath = join(root, 'user-gateway', 'powebsocket.sock');
  const parametersPath = join(root, 'twitter-api-adapter', 'connection-parameters.json');
  const baseEnv: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: join(dir, 'home'),
    RELAYNET_DATA_ROOT: root,
    TWITTER_APP_ENV_FILE: join(dir, 'no.env'),
  };
  let gateway: TestUserGateway;
  let adapter: TestAdapter;
  let appId: string;
  let seen = 0;

  async function run(
    args: string[],
    options: { input?: string; env?: Record<string, string> } = {},
  ): Promise<RunResult> {
    const { status, stdout, stderr, killed } = await runProcess(BIN, args, {
      cwd: dir,
      env: { ...baseEnv, ...options.env },
      input: options.input ?? '',
      killAfterMs: 20_000,
    });
    if (killed) throw new Error(`twitter-app ${args.join(' ')} timed out\nstdout: ${stdout}\nstderr: ${stderr}`);
    return { code: status, stdout, stderr };
  }

  /** The parcels the gateway received since the last call, as the adapter decrypts them. */
  async function newAtAdapter(): Promise<IncomingMessage[]> {
    const parcels = gateway.delivered.slice(seen);
    seen = gateway.delivered.length;
    return adapter.receive(parcels);
  }

  let authorization: DeliveryAuthorization;

  beforeAll(async () => {
    gateway = await TestUserGateway.create(socketPath);
    adapter = await TestAdapter.create();
  }, 120_000);

  afterAll(async () => {
    await gateway?.stop();
    await adapter?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('--help on the program and on each command, with the exit codes', async () => {
    const results = await Promise.all(
      [[], ['tweet'], ['timeline'], ['subscribe'], ['status']].map((command) => run([...command, '--help'])),
    );
    for (const result of results) {
      expect(result).toMatchObject({ code: 0, stderr: '' });
      expect(result.stdout).toMatch(/--data-root/);
    }
    expect(results[0].stdout).toMatch(/Exit status:[\s\S]*3 +the user gateway is not reachable/);
    expect(results[0].stdout).toMatch(/tweet <text>[\s\S]*timeline[\s\S]*subscribe[\s\S]*status/);
    expect(results[1].stdout).toMatch(/Usage: twitter-app tweet \[options\] <text>/);
    expect(results[2].stdout).toMatch(/--offline/);
    expect(results[4].stdout).toMatch(/--json/);
  });

  test('bad usage and unpostable text: exit 2 with one clear line, before contacting anything', async () => {
    const cases: Array<[string[], RegExp]> = [
      [
        ['bogus'],
        /^twitter-app: unknown command 'bogus': the commands are tweet, timeline, subscribe, status, help \(to tweet a text: twitter-app tweet "TEXT"\) \(see twitter-app --help\)\n$/,
      ],
      [['timelin'], /^twitter-app: unknown command 'timelin': did you mean timeline\? \(see twitter-app --help\)\n$/],
      [
        ['timeline', '--limit', '1001'],
        /^twitter-app: option '--limit <n>' argument '1001' is invalid\. must be a whole number from 0 to 1000/,
      ],
      [['tweet'], /^twitter-app: missing required argument 'text' \(see twitter-app --help\)\n$/],
      [['tweet', ''], /^twitter-app: the tweet is empty\n$/],
      [['tweet', '  \n '], /^twitter-app: the tweet is empty\n$/],
      [
        ['tweet', 'a'.repeat(281)],
        /^twitter-app: the tweet is too long: 281 characters, the limit is 280 \(counted as X counts them: CJK characters and emoji count 2, links 23\)\n$/,
      ],
      [['tweet', '漢'.repeat(141)], /^twitter-app: the tweet is too long: 282 characters/],
      [['tweet', '🙂'.repeat(141)], /^twitter-app: the tweet is too long: 282 characters/],
      [['timeline', '--limit', 'x'], /^twitter-app: option '--limit <n>' argument 'x' is invalid/],
    ];
    const results = await Promise.all(cases.map(([args]) => run(args)));
    results.forEach((result, index) => {
      expect({ args: cases[index][0], code: result.code, stdout: result.stdout }).toEqual({
        args: cases[index][0],
        code: 2,
        stdout: '',
      });
      expect(result.stderr).toMatch(cases[index][1]);
    });
  });

  test('help: the help, like --help', async () => {
    const [help, helpTweet] = await Promise.all([run(['help']), run(['help', 'tweet'])]);
    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(help.stdout).toMatch(/^Usage: twitter-app \[options\] \[command\]\n/);
    expect(helpTweet.stdout).toMatch(/^Usage: twitter-app tweet \[options\] <text>/);
  });

  test('nothing running yet (no socket, then a stale one): each tweet is saved and counted, exit 3 with one clear line', async () => {
    const unreachable = `twitter-app: user gateway not reachable at ${socketPath}: start it with npm start\n`;
    const first = await run(['tweet', 'typed before anything ran']);
    expect(first).toMatchObject({ code: 3, stderr: unreachable });
    expect(first.stdout).toMatch(
      /^Tweet saved \(id [0-9a-f-]{36}\): 1 tweet queued in the app, nothing is lost; the next twitter-app command that reaches the user gateway sends it \(if before .+ UTC\)\.\n$/,
    );
    // The interactive run still asks, and keeps what is typed.
    const interactive = await run([], { input: 'typed at the prompt\n' });
    expect(interactive.code).toBe(3);
    expect(interactive.stderr).toBe(unreachable.replace('\n', '; showing what is stored\n'));
    expect(interactive.stdout).toMatch(
      /^1 tweet queued in the app, nothing is lost: the next twitter-app command that reaches the user gateway sends it\.\n/,
    );
    expect(interactive.stdout).toMatch(
      /\nTweet saved \(id [0-9a-f-]{36}\): 2 tweets queued in the app, nothing is lost; .* sends them/,
    );
    const subscribe = await run(['subscribe']);
    expect(subscribe).toMatchObject({ code: 3, stderr: unreachable });
    expect(subscribe.stdout).toMatch(/^2 tweets queued in the app, nothing is lost/);
    // A socket left behind by a gateway that died (nobody listening).
    const stale = join(dir, 'stale.sock');
    const holder = new Daemon(process.execPath, {
      name: 'socket holder',
      args: ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => console.log('up'))`],
      readyText: 'up',
    });
    await holder.start();
    await holder.stop('SIGKILL');
    expect(statSync(stale).isSocket()).toBe(true);
    const result = await run(['tweet', 'typed while a stale socket was there', '--gateway-socket', stale]);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(
      new RegExp(`^twitter-app: user gateway not reachable at ${stale}: start it with npm start \\(.+\\)\\n$`),
    );
    expect(result.stdout).toMatch(/: 3 tweets queued in the app, nothing is lost/);
    // Nothing was lost.
    expect(JSON.parse((await run(['status', '--json'])).stdout).tweets).toEqual({
      queued: 3,
      sent: 0,
      confirmed: 0,
      failed: 0,
    });
    expect((await run(['status'])).stdout).toMatch(
      /^Tweets: 3 queued in the app, 0 with the user gateway, 0 confirmed, 0 failed\n/,
    );
  });

  test('gateway up but no adapter connection parameters: registers, keeps the tweet, then exit 4 naming the file', async () => {
    await gateway.start();
    const result = await run(['tweet', 'typed before the adapter was known']);
    expect(result.stdout).toMatch(
      /^Registered with the user gateway at .*powebsocket\.sock \(endpoint 0[0-9a-f]{64}\)\.\nTweet saved \(id [0-9a-f-]{36}\): 4 tweets queued in the app, nothing is lost/,
    );
    appId = /endpoint (0[0-9a-f]{64})/.exec(result.stdout)![1];
    expect(result.code).toBe(4);
    expect(result.stderr).toBe(
      `twitter-app: the Twitter API adapter's connection parameters are not at ${parametersPath}: start it with npm start ` +
        '(it publishes them), or pass --adapter-parameters\n',
    );
    expect(gateway.delivered).toHaveLength(0);
    // Its state is private, under the data root.
    expect(statSync(join(root, 'twitter-app')).mode & 0o777).toBe(0o700);
    expect(statSync(join(root, 'twitter-app', 'twitter-app.sqlite')).mode & 0o777).toBe(0o600);
  });

  test('first run: subscribes to the home timeline with a PDA for the adapter, sends the tweets kept so far, then ENTER skips', async () => {
    mkdirSync(dirname(parametersPath), { recursive: true });
    await adapter.endpoint.publishConnectionParameters(parametersPath);
    const result = await run([], { input: '\n' });
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(
      /^Subscribed to your home timeline until \d{4}-\d\d-\d\d \d\d:\d\d UTC: new tweets arrive with the courier\.\n/m,
    );
    expect(result.stdout).toContain(
      'Gave the user gateway 4 tweets queued earlier: on their way, posted once a courier carries them.\n',
    );
    expect(result.stdout).toContain('No new tweets or outcomes since the last run.\n');
    expect(result.stdout).toContain(
      "What's happening? Type a tweet and press ENTER (ENTER alone skips): \nNothing to tweet.\n",
    );

    const messages = await newAtAdapter();
    expect(messages.map((m) => m.type)).toEqual([
      UPDATE_SUBSCRIPTION_TYPE,
      TWEET_TYPE,
      TWEET_TYPE,
      TWEET_TYPE,
      TWEET_TYPE,
    ]);
    // Oldest first, each once.
    expect(messages.slice(1).map((m) => decodeTweet(m.content).text)).toEqual([
      'typed before anything ran',
      'typed at the prompt',
      'typed while a stale socket was there',
      'typed before the adapter was known',
    ]);
    expect(messages[0].sender.id).toBe(appId);
    const subscription = decodeSubscription(messages[0].content);
    expect(subscription).toMatchObject({
      accessToken: X_API_EMULATOR_CREDENTIALS.accessToken,
      accessSecret: X_API_EMULATOR_CREDENTIALS.accessSecret,
    });
    authorization = deserializeDeliveryAuthorization(subscription.pda);
    expect(authorization.pda.calculateSubjectId()).toBe(adapter.endpoint.id);
    expect(await authorization.pda.isIssuedBy(authorization.chain[0])).toBe(true);
    expect(authorization.chain.map((c) => c.calculateSubjectId())).toEqual([
      appId,
      gateway.certificate.calculateSubjectId(),
    ]);
    // As long as allowed: 180 days, capped at the app's certificate (the gateway issues 180 days).
    expect(authorization.pda.expiryDate.getTime()).toBeGreaterThan(Date.now() + 179 * DAY_MS);

    // The next run does not subscribe again; end of input also skips the prompt.
    const again = await run([]);
    expect(again.code).toBe(0);
    expect(again.stdout).not.toMatch(/Subscribed|Renewed/);
    expect(again.stdout).toMatch(/Nothing to tweet\.\n$/);
    expect(gateway.delivered).toHaveLength(seen);
  });

  let helloId: string;

  test('tweet TEXT gives a Tweet parcel for the adapter to the gateway; status counts it as with the user gateway', async () => {
    const result = await run(['tweet', 'hello']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    helloId =
      /^Tweet given to the user gateway \(id ([0-9a-f-]{36}), parcel \S+\): on its way, posted once a courier carries it, if before .+ UTC\. "twitter-app status" follows it\.\n$/.exec(
        result.stdout,
      )![1];
    const messages = await newAtAdapter();
    expect(messages.map((m) => m.type)).toEqual([TWEET_TYPE]);
    expect(decodeTweet(messages[0].content)).toMatchObject({
      id: helloId,
      text: 'hello',
      accessToken: X_API_EMULATOR_CREDENTIALS.accessToken,
      accessSecret: X_API_EMULATOR_CREDENTIALS.accessSecret,
    });
    expect(Math.abs(decodeTweet(messages[0].content).creationDate!.getTime() - Date.now())).toBeLessThan(60_000);
    // A week to live.
    expect(messages[0].expiryDate.getTime() - messages[0].creationDate.getTime()).toBe(7 * DAY_MS);

    const status = await run(['status', '--json']);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({
      tweets: { queued: 0, sent: 5, confirmed: 0, failed: 0 },
      endpointId: appId,
    });
    expect((await run(['status', '--limit', '1'])).stdout).toMatch(
      /^Tweets: 0 queued in the app, 5 with the user gateway, 0 confirmed, 0 failed\n[^]*\n {2}on its way +"hello" \(with the user gateway since /,
    );
  });

  let envTweetId: string;

  test('credentials from .env (and the environment over it) renew the subscription and go in the tweets', async () => {
    const envFile = join(dir, 'user.env');
    writeFileSync(envFile, "# mine\nTWITTER_ACCESS_TOKEN_KEY='file-key'\nTWITTER_ACCESS_TOKEN_SECRET=file-secret\n");
    const result = await run(['tweet', 'with my credentials'], { env: { TWITTER_APP_ENV_FILE: envFile } });
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(
      /Renewed the subscription to your home timeline until .* \(the X credentials changed\)/,
    );
    envTweetId = /Tweet given to the user gateway \(id ([0-9a-f-]{36})/.exec(result.stdout)![1];
    const [subscription, tweet] = await newAtAdapter();
    expect([subscription.type, tweet.type]).toEqual([UPDATE_SUBSCRIPTION_TYPE, TWEET_TYPE]);
    expect(decodeSubscription(subscription.content)).toMatchObject({
      accessToken: 'file-key',
      accessSecret: 'file-secret',
    });
    expect(decodeTweet(tweet.content)).toMatchObject({ text: 'with my credentials', accessToken: 'file-key' });

    const fromEnv = await run(['subscribe'], {
      env: {
        TWITTER_APP_ENV_FILE: envFile,
        TWITTER_ACCESS_TOKEN_KEY: 'env-key',
        TWITTER_ACCESS_TOKEN_SECRET: 'env-secret',
      },
    });
    expect(fromEnv.code).toBe(0);
    const [forced] = await newAtAdapter();
    expect(decodeSubscription(forced.content)).toMatchObject({ accessToken: 'env-key', accessSecret: 'env-secret' });

    writeFileSync(envFile, 'TWITTER_ACCESS_TOKEN_KEY=ok\nTWITTER_ACCESS_TOKEN_SECRET="oops\n');
    const malformed = await run(['tweet', 'x'], { env: { TWITTER_APP_ENV_FILE: envFile } });
    expect(malformed).toMatchObject({
      code: 4,
      stdout: '',
      stderr: `twitter-app: ${envFile} line 2: TWITTER_ACCESS_TOKEN_SECRET has an unterminated " quote; the tweet was not saved\n`,
    });
    // The same file through the --env-file flag (which Node 20 would take for its own without the bin's "--").
    const viaFlag = await run(['--env-file', envFile, 'tweet', 'x']);
    expect(viaFlag).toMatchObject({
      code: 4,
      stdout: '',
      stderr: `twitter-app: ${envFile} line 2: TWITTER_ACCESS_TOKEN_SECRET has an unterminated " quote; the tweet was not saved\n`,
    });
    expect(gateway.delivered).toHaveLength(seen);
  });

  test('timeline updates and tweet outcomes from the adapter: recorded, printed once as new, then as earlier', async () => {
    // Back to the default credentials: the next run renews the subscription (its PDA is the latest one).
    const subscribe = await run(['subscribe']);
    expect(subscribe.code).toBe(0);
    authorization = deserializeDeliveryAuthorization(decodeSubscription((await newAtAdapter())[0].content).pda);

    const parcels = await adapter.makeParcels(
      [
        encodeTimelineBatch([
          {
            id: '1002',
            authorUsername: 'bob',
            authorName: 'Bob',
            text: '二つ目\nsecond line',
            createdAt: new Date('2026-11-27T10:02:00Z'),
          },
          {
            id: '1001',
            authorUsername: 'alice',
            text: 'first from alice',
            createdAt: new Date('2026-11-27T10:01:00Z'),
          },
        ]),
        encodeOutcome({ tweetId: helloId, status: 'posted', xTweetId: '555', url: 'https://x.com/user/status/555' }),
        serviceMessages.subscriptionStatus({
          state: 'failed',
          reason: 'Unauthorized',
          httpStatus: 401,
          date: new Date(),
        }),
        // Neither the app's nor well-formed: acknowledged and reported, never retried forever.
        { type: 'text/plain', content: Buffer.from('hi') },
        { type: TIMELINE_UPDATE_BATCH_TYPE, content: Buffer.from([0xff, 0xff, 0xff]) },
      ],
      authorization,
    );
    gateway.queue(appId, parcels);

    const timeline = await run(['timeline']);
    expect(timeline.code).toBe(0);
    expect(timeline.stderr).toMatch(
      /^twitter-app: ignored a message of unknown type text\/plain \(parcel .+\)\ntwitter-app: ignored a malformed application\/vnd\.relaynet\.twitter\.timeline-update-batch\+protobuf message \(parcel .+\): .+\n$/,
    );
    expect(timeline.stdout).toBe(
      'Your subscription to the home timeline FAILED: Unauthorized (HTTP 401). Check TWITTER_ACCESS_TOKEN_KEY and ' +
        'TWITTER_ACCESS_TOKEN_SECRET, then run twitter-app subscribe.\n' +
        'Outcomes of your tweets (1):\n' +
        '  posted "hello": https://x.com/user/status/555\n' +
        'New tweets (2):\n' +
        '  @alice · 2026-11-27 10:01 UTC\n    first from alice\n' +
        '  Bob (@bob) · 2026-11-27 10:02 UTC\n    二つ目\n    second line\n',
    );
    expect(gateway.pending(appId)).toBe(0); // all acked, once stored

    const again = await run(['timeline', '--limit', '1']);
    expect(again.stdout).toBe(
      'Earlier tweets (1):\n  Bob (@bob) · 2026-11-27 10:02 UTC\n    二つ目\n    second line\nNo new tweets.\n',
    );

    expect(JSON.parse((await run(['status', '--json'])).stdout).tweets).toEqual({
      queued: 0,
      sent: 5,
      confirmed: 1,
      failed: 0,
    });

    // The default run prints the outcomes that arrived since the last run (the tweets were shown already).
    gateway.queue(
      appId,
      await adapter.makeParcels(
        [encodeOutcome({ tweetId: envTweetId, status: 'failed', reason: 'Unauthorized', httpStatus: 401 })],
        authorization,
      ),
    );
    const defaultRun = await run([], { input: '\n' });
    expect(defaultRun.code).toBe(0);
    expect(defaultRun.stdout).toContain(
      'Outcomes of your tweets (1):\n  FAILED "with my credentials": Unauthorized (HTTP 401)\n',
    );
    expect(defaultRun.stdout).not.toContain('posted "hello"');
    expect(defaultRun.stdout).not.toContain('New tweets in your home timeline');
    const quiet = await run([], { input: '\n' });
    expect(quiet.stdout).toContain('No new tweets or outcomes since the last run.\n');

    // The same parcels delivered again are not recorded twice.
    gateway.queue(appId, parcels.slice(0, 3));
    expect((await run(['timeline'])).stdout).toMatch(/No new tweets\.\n$/);
    expect(JSON.parse((await run(['status', '--json'])).stdout).timeline).toEqual({ total: 2, unshown: 0 });

    const status = await run(['status']);
    expect(status.stdout).toMatch(/^Tweets: 0 queued in the app, 4 with the user gateway, 1 confirmed, 1 failed\n/);
    expect(status.stdout).toMatch(/confirmed +"hello" \(https:\/\/x\.com\/user\/status\/555\)/);
    expect(status.stdout).toMatch(
      /^Subscription: home timeline until .*; FAILED at the adapter: Unauthorized \(HTTP 401\)$/m,
    );
    expect(status.stderr).toBe('');
  });

  test("the user gateway's clock status is printed by every command, and a broken file does not stop them", async () => {
    const file = join(dirname(socketPath), 'clock-status.json');
    const ahead =
      /^twitter-app: warning: This computer's clock is at least 3\.0 h ahead: on 2026-11-28T10:00:00\.000Z \(Internet time\) the relaying gateway did not take 2 message\(s\)/m;
    try {
      writeFileSync(
        file,
        JSON.stringify({
          internet: {
            status: 'refused',
            at: '2026-11-28T10:00:00.000Z',
            aheadMs: 3 * 3_600_000,
            parcelCount: 2,
            toleranceSeconds: 7200,
          },
        }),
      );
      const status = await run(['status']);
      expect(status.code).toBe(0);
      expect(status.stderr).toMatch(ahead);
      const json = JSON.parse((await run(['status', '--json'])).stdout) as { clockWarnings: string[] };
      expect(json.clockWarnings).toEqual([expect.stringMatching(/^This computer's clock is at least 3\.0 h ahead/)]);
      const timeline = await run(['timeline']);
      expect(timeline.code).toBe(0);
      expect(timeline.stderr).toMatch(ahead);
      const interactive = await run([], { input: '\n' });
      expect(interactive.code).toBe(0);
      expect(interactive.stderr).toMatch(ahead);

      writeFileSync(file, JSON.stringify({ internet: { status: 'resolved', at: '2026-11-28T12:00:00.000Z' } }));
      expect((await run(['status'])).stderr).toBe('');

      writeFileSync(file, '{"internet": 42}');
      const broken = await run(['status']);
      expect(broken.code).toBe(0);
      expect(broken.stderr).toBe(
        `twitter-app: warning: the user gateway's clock status cannot be read: ${file}: internet must be an object\n`,
      );
    } finally {
      rmSync(file, { force: true });
    }
  });

  test('the interactive prompt: too long is refused and asked again, then the typed tweet is queued', async () => {
    const result = await run([], { input: `${'x'.repeat(300)}\nfrom the prompt\n` });
    expect(result.code).toBe(0);
    expect(result.stderr).toBe(
      'twitter-app: the tweet is too long: 300 characters, the limit is 280 (counted as X counts them: CJK characters ' +
        'and emoji count 2, links 23); try again, or press ENTER to skip\n',
    );
    expect(result.stdout.match(/What's happening\?/g)).toHaveLength(2);
    expect(result.stdout).toMatch(/Tweet given to the user gateway \(id [0-9a-f-]{36}, parcel .*\)/);
    const messages = await newAtAdapter();
    expect(messages.map((m) => decodeTweet(m.content).text)).toEqual(['from the prompt']);
  });

  test('gateway down after registration: every new tweet is saved and counted (exit 3); timeline then sends them all, oldest first', async () => {
    await gateway.stop();
    const unreachable = `twitter-app: user gateway not reachable at ${socketPath}: start it with npm start\n`;
    const first = await run(['tweet', 'A while the gateway is down']);
    expect(first).toMatchObject({ code: 3, stderr: unreachable });
    expect(first.stdout).toMatch(/^Tweet saved \(id [0-9a-f-]{36}\): 1 tweet queued in the app, nothing is lost; /);
    // The queued one does not stop the next from being saved.
    const second = await run(['tweet', 'B while the gateway is down']);
    expect(second).toMatchObject({ code: 3, stderr: unreachable });
    expect(second.stdout).toMatch(
      /^Tweet saved \(id [0-9a-f-]{36}\): 2 tweets queued in the app, nothing is lost; .* sends them /,
    );
    expect(JSON.parse((await run(['status', '--json'])).stdout).tweets).toMatchObject({ queued: 2 });
    // timeline still shows what is stored, and says what is queued.
    const timeline = await run(['timeline']);
    expect(timeline.code).toBe(3);
    expect(timeline.stdout).toMatch(/^2 tweets queued in the app, nothing is lost: .*\nEarlier tweets \(2\):/);

    await gateway.start();
    const next = await run(['timeline', '--limit', '0']);
    expect(next).toMatchObject({ code: 0, stderr: '' });
    expect(next.stdout).toBe(
      'Gave the user gateway 2 tweets queued earlier: on their way, posted once a courier carries them.\nNo new tweets.\n',
    );
    expect((await newAtAdapter()).map((m) => decodeTweet(m.content).text)).toEqual([
      'A while the gateway is down',
      'B while the gateway is down',
    ]);
    expect(JSON.parse((await run(['status', '--json'])).stdout).tweets).toEqual({
      queued: 0,
      sent: 7,
      confirmed: 1,
      failed: 1,
    });
  });

  test('a user gateway reset with a new identity: the app registers again, renews its subscription, remakes a queued parcel', async () => {
    await gateway.stop();
    // Queued with a parcel made under the old gateway's certificate, which the new gateway would refuse.
    expect((await run(['tweet', 'queued across a gateway reset'])).code).toBe(3);
    gateway = await TestUserGateway.create(socketPath);
    seen = 0;
    await gateway.start();
    const result = await run([], { input: '\n' });
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(
      /^Registered again with the user gateway at .*: it no longer accepted our certificate/,
    );
    expect(result.stdout).toMatch(
      /Renewed the subscription to your home timeline until .* \(the user gateway issued us a new certificate\)/,
    );
    expect(result.stdout).toContain('Gave the user gateway 1 tweet queued earlier');
    const tweetParcel = await Parcel.deserialize(gateway.delivered[1]);
    expect(await tweetParcel.senderCertificate.isIssuedBy(gateway.certificate)).toBe(true);
    const [subscription, tweet] = await newAtAdapter();
    const renewed = deserializeDeliveryAuthorization(decodeSubscription(subscription.content).pda);
    expect(renewed.chain.map((c) => c.calculateSubjectId())).toEqual([appId, gateway.certificate.calculateSubjectId()]);
    expect(decodeTweet(tweet.content).text).toBe('queued across a gateway reset');
  });
});

describeWithRealUserGateway();
