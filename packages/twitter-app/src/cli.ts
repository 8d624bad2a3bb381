/** The twitter-app command line: the PoC's interactive run plus subcommands for scripts. */
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';

import { Command, CommanderError, InvalidArgumentError } from 'commander';
import {
  CLOCK_STATUS_FILE,
  describeClockStatus,
  describeUserGatewayRegistration,
  readClockStatus,
} from '@twitter-relaynet/config';
import { jsonLineLogger, silentLogger, type Logger } from '@twitter-relaynet/endpoint';

import { TwitterApp, type SubscriptionResult } from './app';
import { ENV, loadCredentials, resolvePaths, type AppPaths } from './config';
import { AppError, ConfigurationError, ExitCode } from './errors';
import { formatDate, formatNewItems, formatOutcome, formatStatus, formatSubscriptionStatus, formatTimelineTweet } from './output';
import type { OutgoingTweet } from './store';
import { assertTweetText, checkTweetText, MAX_WEIGHTED_TWEET_LENGTH } from './text';

export interface CliIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The repository's .env (default for --env-file). */
  readonly defaultEnvFile: string;
}

interface GlobalOptions {
  dataRoot?: string;
  dataDir?: string;
  gatewaySocket?: string;
  adapterParameters?: string;
  envFile?: string;
  verbose?: boolean;
}

const NAME = 'twitter-app';

const GLOBAL_HELP = `
Without a command: register with the user gateway and subscribe to your home timeline (first run; the
subscription is renewed when less than a third of it remains), send tweets left queued, print the tweets
and tweet outcomes that arrived since the last run, then ask what to tweet (ENTER skips).

Tweets: at most ${MAX_WEIGHTED_TWEET_LENGTH} characters counted as X counts them (CJK characters and emoji count
2, links 23); a tweet lives 7 days on its way to X. The user's X credentials come from
${ENV.ACCESS_TOKEN_KEY} and ${ENV.ACCESS_TOKEN_SECRET} (environment, else the .env file), else the
local X API emulator's seeded user.

Clocks: when the user gateway finds that this computer's clock is too far from the Internet side's for
messages to be taken (more than 2 hours), every command says so on stderr, until they agree again.

Environment: ${ENV.DATA_ROOT} (--data-root; default $XDG_DATA_HOME/twitter-relaynet or
~/.local/share/twitter-relaynet), ${ENV.DATA_DIR} (--data-dir; default <data root>/twitter-app),
${ENV.GATEWAY_SOCKET} (--gateway-socket; default <data root>/user-gateway/powebsocket.sock),
${ENV.ADAPTER_PARAMETERS} (--adapter-parameters; default
<data root>/twitter-api-adapter/connection-parameters.json), ${ENV.ENV_FILE} (--env-file; default the
repository's .env).

Exit status:
  ${ExitCode.OK}  done
  ${ExitCode.FAILURE}  unexpected failure
  ${ExitCode.USAGE}  usage error, or tweet text that cannot be posted (empty, too long)
  ${ExitCode.GATEWAY_UNREACHABLE}  the user gateway is not reachable (a tweet made before that stays queued for the next run)
  ${ExitCode.CONFIGURATION}  configuration error: the adapter's connection parameters or the .env file
`;

function parseLimit(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 1000) {
    throw new InvalidArgumentError('must be a whole number from 1 to 1000');
  }
  return Number(value);
}

/** Reads lines from stdin on demand; null at end of input. */
class LineReader {
  private readonly iterator: AsyncIterator<string>;
  private readonly close: () => void;

  constructor(input: NodeJS.ReadableStream, output?: NodeJS.WritableStream) {
    const rl = createInterface({ input, output, terminal: false });
    this.iterator = rl[Symbol.asyncIterator]();
    this.close = () => rl.close();
  }

  async next(): Promise<string | null> {
    const result = await this.iterator.next();
    return result.done ? null : result.value;
  }

  dispose(): void {
    this.close();
  }
}

export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  let exitCode: number = ExitCode.OK;
  const print = (text: string) => io.stdout.write(text);
  const warn = (text: string) => io.stderr.write(`${NAME}: ${text}\n`);

  const program = new Command(NAME)
    .description('Tweet and read your home timeline with no Internet: messages travel through the user gateway and a courier')
    .option('--data-root <dir>', `shared data root (env ${ENV.DATA_ROOT})`)
    .option('--data-dir <dir>', `this app's data folder (env ${ENV.DATA_DIR}; default <data root>/twitter-app)`)
    .option('--gateway-socket <path>', `the user gateway's PoWebSocket socket (env ${ENV.GATEWAY_SOCKET})`)
    .option('--adapter-parameters <file>', `the Twitter API adapter's connection parameters (env ${ENV.ADAPTER_PARAMETERS})`)
    .option('--env-file <file>', `.env file with the X credentials (env ${ENV.ENV_FILE})`)
    .option('--verbose', 'log JSON lines on stderr')
    .configureHelp({ showGlobalOptions: true })
    .allowExcessArguments(false)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      outputError: () => undefined, // reported as one line below
    });

  const context = (command: Command) => {
    const options = command.optsWithGlobals<GlobalOptions>();
    const paths = resolvePaths(options, io.env, io.defaultEnvFile);
    const logger: Logger = options.verbose ? jsonLineLogger(NAME, (line) => io.stderr.write(line)) : silentLogger;
    return { paths, logger };
  };

  const withApp = async <T>(command: Command, work: (app: TwitterApp, paths: AppPaths) => Promise<T>): Promise<T> => {
    const { paths, logger } = context(command);
    const credentials = loadCredentials(io.env, paths.envFile);
    const app = await openApp({ paths, credentials, logger });
    try {
      return await work(app, paths);
    } finally {
      await app.close();
    }
  };

  const registerAndReport = async (app: TwitterApp, paths: AppPaths) => {
    const registration = await app.register();
    if (registration === 'registered') {
      print(`Registered with the user gateway at ${paths.gatewaySocket} (endpoint ${app.endpoint.id}).\n`);
    } else if (registration === 're-registered') {
      print(`Registered again with the user gateway at ${paths.gatewaySocket}: it no longer accepted our certificate (new gateway identity?).\n`);
    }
  };

  const reportSubscription = (result: SubscriptionResult) => {
    if (result.action === 'current') return;
    const until = formatDate(result.record.pdaExpiry);
    print(
      result.action === 'subscribed'
        ? `Subscribed to your home timeline until ${until}: new tweets arrive with the courier.\n`
        : `Renewed the subscription to your home timeline until ${until} (${result.reason}).\n`,
    );
  };

  const flushAndReport = async (app: TwitterApp) => {
    const { sent, expired } = await app.flushQueuedTweets();
    if (sent.length > 0) print(`Sent ${sent.length} tweet(s) left queued by an earlier run.\n`);
    for (const tweet of expired) warn(`a queued tweet expired before the user gateway took it: "${tweet.text}"`);
  };

  const reportQueued = (tweet: OutgoingTweet) => {
    print(
      `Tweet queued (id ${tweet.id}, parcel ${tweet.parcelId}): it is posted once a courier carries it, ` +
        `if before ${formatDate(tweet.expiresAt)}. "${NAME} status" follows it.\n`,
    );
  };

  /**
   * The user gateway's word on the clocks (packages/config clockStatus.ts): when this computer's clock is
   * too far off, messages stop flowing and only the gateways can tell.
   */
  const clockWarnings = (paths: AppPaths): string[] => {
    const file = join(dirname(paths.gatewaySocket), CLOCK_STATUS_FILE);
    try {
      return describeClockStatus(readClockStatus(file));
    } catch (error) {
      return [`the user gateway's clock status cannot be read: ${(error as Error).message}`];
    }
  };
  const reportClock = (paths: AppPaths) => {
    for (const line of clockWarnings(paths)) warn(`warning: ${line}`);
    // Until the user gateway registers, nothing leaves this computer (packages/config registrationStatus.ts).
    const registration = describeUserGatewayRegistration(paths.gatewaySocket);
    if (registration) warn(`warning: ${registration}`);
  };

  /** Register, keep the subscription current and send what is queued. */
  const prepare = async (app: TwitterApp, paths: AppPaths) => {
    await registerAndReport(app, paths);
    reportSubscription(await app.ensureSubscription());
    await flushAndReport(app);
  };

  program.action(async (_options, command: Command) => {
    await withApp(command, async (app, paths) => {
      await prepare(app, paths);
      await app.collect(warn);
      reportClock(paths);
      const { tweets, outcomes, subscriptionStatus } = app.unshown();
      print(formatNewItems(tweets, outcomes, subscriptionStatus));
      if (subscriptionStatus) app.store.markSubscriptionStatusShown();
      app.store.markTimelineShown(tweets.map((tweet) => tweet.id));
      app.store.markOutcomesShown(outcomes.map((outcome) => outcome.parcelId));

      const reader = new LineReader(io.stdin);
      try {
        for (;;) {
          print("What's happening? Type a tweet and press ENTER (ENTER alone skips): ");
          const line = await reader.next();
          // Piped input is not echoed: end the prompt's line ourselves.
          if (line !== null && !io.stdin.isTTY) print('\n');
          if (line === null || line.trim() === '') {
            print(line === null ? '\nNothing to tweet.\n' : 'Nothing to tweet.\n');
            break;
          }
          const check = checkTweetText(line);
          if (!check.ok) {
            warn(`${check.reason}; try again, or press ENTER to skip`);
            continue;
          }
          reportQueued(await app.queueTweet(line));
          break;
        }
      } finally {
        reader.dispose();
      }
    });
  });

  program
    .command('tweet')
    .description('queue a tweet for the Twitter API adapter (validated first: not empty, not too long)')
    .argument('<text>', 'the tweet (quote it)')
    .allowExcessArguments(false)
    .action(async (text: string, _options, command: Command) => {
      assertTweetText(text);
      await withApp(command, async (app, paths) => {
        await prepare(app, paths);
        reportQueued(await app.queueTweet(text));
        reportClock(paths);
      });
    });

  program
    .command('timeline')
    .description(
      'collect what arrived and print the new tweets of your home timeline and the recent ones, and the outcomes of ' +
        'your tweets that arrived since the last run',
    )
    .option('--limit <n>', 'how many earlier tweets to show', parseLimit, 10)
    .option('--offline', 'do not contact the user gateway: show what is stored')
    .action(async (options: { limit: number; offline?: boolean }, command: Command) => {
      await withApp(command, async (app, paths) => {
        if (!options.offline) {
          try {
            await registerAndReport(app, paths);
            await app.collect(warn);
          } catch (error) {
            if (!(error instanceof AppError) || error.exitCode !== ExitCode.GATEWAY_UNREACHABLE) throw error;
            warn(`${error.message}; showing what is stored`);
            exitCode = error.exitCode;
          }
        }
        reportClock(paths);
        // What the adapter said about the user's tweets and the subscription is news too.
        const { outcomes, subscriptionStatus } = app.unshown();
        if (subscriptionStatus) print(formatSubscriptionStatus(subscriptionStatus));
        if (outcomes.length > 0) print(`Outcomes of your tweets (${outcomes.length}):\n${outcomes.map(formatOutcome).join('')}`);
        if (subscriptionStatus) app.store.markSubscriptionStatusShown();
        app.store.markOutcomesShown(outcomes.map((outcome) => outcome.parcelId));
        const earlier = app.store.listRecentTimeline(options.limit);
        const fresh = app.store.listUnshownTimeline();
        if (earlier.length > 0) print(`Earlier tweets (${earlier.length}):\n${earlier.map(formatTimelineTweet).join('')}`);
        print(
          fresh.length > 0
            ? `New tweets (${fresh.length}):\n${fresh.map(formatTimelineTweet).join('')}`
            : 'No new tweets.\n',
        );
        app.store.markTimelineShown(fresh.map((tweet) => tweet.id));
      });
    });

  program
    .command('subscribe')
    .description('(re)subscribe to your home timeline now: a new PDA for the adapter, for as long as allowed')
    .action(async (_options, command: Command) => {
      await withApp(command, async (app, paths) => {
        await registerAndReport(app, paths);
        reportSubscription(await app.ensureSubscription({ force: true }));
        await flushAndReport(app);
      });
    });

  program
    .command('status')
    .description('count your tweets by state (queued, sent, confirmed, failed) and show the subscription; offline')
    .option('--json', 'print the counts as JSON')
    .option('--limit <n>', 'how many recent tweets of yours to list', parseLimit, 10)
    .action(async (options: { json?: boolean; limit: number }, command: Command) => {
      const { paths, logger } = context(command);
      // No credentials needed, no gateway contacted.
      const app = await openApp({ paths, credentials: { accessToken: '', accessSecret: '', source: 'emulator' }, logger });
      try {
        const counts = app.store.countTweets();
        const subscription = app.store.getSubscription();
        if (options.json) {
          print(
            `${JSON.stringify({
              tweets: counts,
              endpointId: app.endpoint.id,
              registeredUntil: app.endpoint.certificate?.expiryDate.toISOString() ?? null,
              subscriptionUntil: subscription?.pdaExpiry.toISOString() ?? null,
              subscriptionState: app.store.getSubscriptionStatus()?.state ?? null,
              timeline: app.store.countTimeline(),
              clockWarnings: clockWarnings(paths),
            })}\n`,
          );
          return;
        }
        const outcomes = app.store.listUnshownOutcomes();
        print(
          formatStatus({
            counts,
            endpointId: app.endpoint.id,
            registeredUntil: app.endpoint.certificate?.expiryDate ?? null,
            subscription,
            subscriptionStatus: app.store.getSubscriptionStatus(),
            timeline: app.store.countTimeline(),
            recent: app.store.listTweets(options.limit),
          }),
        );
        app.store.markOutcomesShown(outcomes.map((outcome) => outcome.parcelId));
        app.store.markSubscriptionStatusShown();
        reportClock(paths);
      } finally {
        await app.close();
      }
    });

  program.addHelpText('after', GLOBAL_HELP);
  for (const command of program.commands) {
    command.addHelpText(
      'after',
      `\nExit status: ${ExitCode.OK} done, ${ExitCode.USAGE} usage or unpostable text, ${ExitCode.GATEWAY_UNREACHABLE} user gateway ` +
        `not reachable, ${ExitCode.CONFIGURATION} configuration error, ${ExitCode.FAILURE} unexpected (see ${NAME} --help).\n`,
    );
  }

  try {
    await program.parseAsync([...argv], { from: 'node' });
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return ExitCode.OK; // --help, --version
      io.stderr.write(`${NAME}: ${error.message.replace(/^error: /, '')} (see ${NAME} --help)\n`);
      return ExitCode.USAGE;
    }
    if (error instanceof AppError) {
      warn(error.message);
      return error.exitCode;
    }
    io.stderr.write(
      `${NAME}: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    return ExitCode.FAILURE;
  }
  return exitCode;
}

async function openApp(options: Parameters<typeof TwitterApp.open>[0]): Promise<TwitterApp> {
  try {
    return await TwitterApp.open(options);
  } catch (error) {
    throw unusableDataFolder(error, options.paths.dataDir) ?? error;
  }
}

/** Filesystem errors that mean "this folder cannot hold the app's state": a configuration problem (exit 4). */
const FOLDER_ERRORS = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'ENAMETOOLONG', 'ELOOP', 'EEXIST', 'ENOSPC', 'EISDIR', 'SQLITE_CANTOPEN']);

function unusableDataFolder(error: unknown, dataDir: string): ConfigurationError | null {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  if (typeof code !== 'string' || !FOLDER_ERRORS.has(code)) return null;
  const reason = (error as Error).message.replace(/^[A-Z_]+: /, '');
  return new ConfigurationError(`cannot keep the app's data in ${dataDir} (${code}): ${reason}; choose another folder with --data-dir or --data-root`, { cause: error });
}
