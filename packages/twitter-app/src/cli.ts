/** The twitter-app command line: the PoC's interactive run plus subcommands for scripts. */
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';

import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { CLOCK_STATUS_FILE, describeClockStatus, readClockStatus } from '@twitter-relaynet/config';
import { jsonLineLogger, silentLogger, type Logger } from '@twitter-relaynet/endpoint';

import { TwitterApp, type SubscriptionResult } from './app';
import { ENV, loadCredentials, resolvePaths, type AppPaths, type UserCredentials } from './config';
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
/** `status` and `timeline --offline` read the store only: they need no credentials. */
const OFFLINE_CREDENTIALS: UserCredentials = { accessToken: '', accessSecret: '', source: 'emulator' };

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

/** What a command prints through: stdout, and one-line notices on stderr. */
interface Ui {
  print(text: string): void;
  warn(text: string): void;
}

function reportRegistration(ui: Ui, app: TwitterApp, registration: Awaited<ReturnType<TwitterApp['register']>>): void {
  const socket = app.paths.gatewaySocket;
  if (registration === 'registered') {
    ui.print(`Registered with the user gateway at ${socket} (endpoint ${app.endpoint.id}).\n`);
  } else if (registration === 're-registered') {
    ui.print(`Registered again with the user gateway at ${socket}: it no longer accepted our certificate (new gateway identity?).\n`);
  }
}

function reportSubscription(ui: Ui, result: SubscriptionResult): void {
  if (result.action === 'current') return;
  const until = formatDate(result.record.pdaExpiry);
  ui.print(
    result.action === 'subscribed'
      ? `Subscribed to your home timeline until ${until}: new tweets arrive with the courier.\n`
      : `Renewed the subscription to your home timeline until ${until} (${result.reason}).\n`,
  );
}

function reportFlush(ui: Ui, { sent, expired }: { sent: OutgoingTweet[]; expired: OutgoingTweet[] }): void {
  if (sent.length > 0) ui.print(`Sent ${sent.length} tweet(s) left queued by an earlier run.\n`);
  for (const tweet of expired) ui.warn(`a queued tweet expired before the user gateway took it: "${tweet.text}"`);
}

function reportQueued(ui: Ui, tweet: OutgoingTweet): void {
  ui.print(
    `Tweet queued (id ${tweet.id}, parcel ${tweet.parcelId}): it is posted once a courier carries it, ` +
      `if before ${formatDate(tweet.expiresAt)}. "${NAME} status" follows it.\n`,
  );
}

/**
 * The user gateway's word on the clocks (packages/config clockStatus.ts): when this computer's clock is
 * too far off, messages stop flowing and only the gateways can tell.
 */
function clockWarnings(paths: AppPaths): string[] {
  const file = join(dirname(paths.gatewaySocket), CLOCK_STATUS_FILE);
  try {
    return describeClockStatus(readClockStatus(file));
  } catch (error) {
    return [`the user gateway's clock status cannot be read: ${(error as Error).message}`];
  }
}

function reportClock(ui: Ui, paths: AppPaths): void {
  for (const line of clockWarnings(paths)) ui.warn(`warning: ${line}`);
}

/** Register, keep the subscription current and send what is queued. */
async function prepare(ui: Ui, app: TwitterApp): Promise<void> {
  reportRegistration(ui, app, await app.register());
  reportSubscription(ui, await app.ensureSubscription());
  reportFlush(ui, await app.flushQueuedTweets());
}

/** Asks "What's happening?" until a postable text, ENTER alone or the end of input. */
async function askForTweet(ui: Ui, stdin: CliIo['stdin']): Promise<string | null> {
  const reader = new LineReader(stdin);
  try {
    for (;;) {
      ui.print("What's happening? Type a tweet and press ENTER (ENTER alone skips): ");
      const line = await reader.next();
      // Piped input is not echoed: end the prompt's line ourselves.
      if (line !== null && !stdin.isTTY) ui.print('\n');
      if (line === null || line.trim() === '') {
        ui.print(line === null ? '\nNothing to tweet.\n' : 'Nothing to tweet.\n');
        return null;
      }
      const check = checkTweetText(line);
      if (check.ok) return line;
      ui.warn(`${check.reason}; try again, or press ENTER to skip`);
    }
  } finally {
    reader.dispose();
  }
}

/** No command: the PoC's run. */
async function runDefault(ui: Ui, app: TwitterApp, stdin: CliIo['stdin']): Promise<void> {
  await prepare(ui, app);
  await app.collect(ui.warn);
  reportClock(ui, app.paths);
  const news = app.unshown();
  ui.print(formatNewItems(news.tweets, news.outcomes, news.subscriptionStatus));
  app.markShown(news);
  const text = await askForTweet(ui, stdin);
  if (text !== null) reportQueued(ui, await app.queueTweet(text));
}

async function runTweet(ui: Ui, app: TwitterApp, text: string): Promise<void> {
  await prepare(ui, app);
  reportQueued(ui, await app.queueTweet(text));
  reportClock(ui, app.paths);
}

/** Returns the exit status: the gateway being unreachable still shows what is stored. */
async function runTimeline(ui: Ui, app: TwitterApp, options: { limit: number; offline?: boolean }): Promise<number> {
  let exitCode: number = ExitCode.OK;
  if (!options.offline) {
    try {
      reportRegistration(ui, app, await app.register());
      await app.collect(ui.warn);
    } catch (error) {
      if (!(error instanceof AppError) || error.exitCode !== ExitCode.GATEWAY_UNREACHABLE) throw error;
      ui.warn(`${error.message}; showing what is stored`);
      exitCode = error.exitCode;
    }
  }
  reportClock(ui, app.paths);
  // What the adapter said about the user's tweets and the subscription is news too.
  const { outcomes, subscriptionStatus } = app.unshown();
  if (subscriptionStatus) ui.print(formatSubscriptionStatus(subscriptionStatus));
  if (outcomes.length > 0) ui.print(`Outcomes of your tweets (${outcomes.length}):\n${outcomes.map(formatOutcome).join('')}`);
  app.markShown({ tweets: [], outcomes, subscriptionStatus });
  const earlier = app.store.listRecentTimeline(options.limit);
  const fresh = app.store.listUnshownTimeline();
  if (earlier.length > 0) ui.print(`Earlier tweets (${earlier.length}):\n${earlier.map(formatTimelineTweet).join('')}`);
  ui.print(fresh.length > 0 ? `New tweets (${fresh.length}):\n${fresh.map(formatTimelineTweet).join('')}` : 'No new tweets.\n');
  app.markShown({ tweets: fresh, outcomes: [], subscriptionStatus: null });
  return exitCode;
}

async function runSubscribe(ui: Ui, app: TwitterApp): Promise<void> {
  reportRegistration(ui, app, await app.register());
  reportSubscription(ui, await app.ensureSubscription({ force: true }));
  reportFlush(ui, await app.flushQueuedTweets());
}

function runStatus(ui: Ui, app: TwitterApp, options: { json?: boolean; limit: number }): void {
  const report = app.statusReport(options.limit);
  if (options.json) {
    ui.print(
      `${JSON.stringify({
        tweets: report.counts,
        endpointId: report.endpointId,
        registeredUntil: report.registeredUntil?.toISOString() ?? null,
        subscriptionUntil: report.subscription?.pdaExpiry.toISOString() ?? null,
        subscriptionState: report.subscriptionStatus?.state ?? null,
        timeline: report.timeline,
        clockWarnings: clockWarnings(app.paths),
      })}\n`,
    );
    return;
  }
  ui.print(formatStatus(report));
  // The outcomes and the adapter's word on the subscription are in the status: not news any more.
  app.markShown({ tweets: [], outcomes: app.store.listUnshownOutcomes(), subscriptionStatus: report.subscriptionStatus });
  reportClock(ui, app.paths);
}

function buildProgram(io: CliIo, ui: Ui, setExitCode: (code: number) => void): Command {
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
      outputError: () => undefined, // reported as one line by main
    });

  /** Open the app for a command (with the user's credentials unless `offline`), run `work`, close it. */
  const withApp = async (command: Command, work: (app: TwitterApp) => Promise<unknown>, offline = false): Promise<void> => {
    const options = command.optsWithGlobals<GlobalOptions>();
    const paths = resolvePaths(options, io.env, io.defaultEnvFile);
    const logger: Logger = options.verbose ? jsonLineLogger(NAME, (line) => io.stderr.write(line)) : silentLogger;
    // Offline commands need no credentials (and contact no gateway).
    const credentials = offline ? OFFLINE_CREDENTIALS : loadCredentials(io.env, paths.envFile);
    const app = await openApp({ paths, credentials, logger });
    try {
      await work(app);
    } finally {
      await app.close();
    }
  };

  program.action(async (_options, command: Command) => {
    await withApp(command, (app) => runDefault(ui, app, io.stdin));
  });

  program
    .command('tweet')
    .description('queue a tweet for the Twitter API adapter (validated first: not empty, not too long)')
    .argument('<text>', 'the tweet (quote it)')
    .allowExcessArguments(false)
    .action(async (text: string, _options, command: Command) => {
      assertTweetText(text);
      await withApp(command, (app) => runTweet(ui, app, text));
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
      await withApp(command, async (app) => setExitCode(await runTimeline(ui, app, options)));
    });

  program
    .command('subscribe')
    .description('(re)subscribe to your home timeline now: a new PDA for the adapter, for as long as allowed')
    .action(async (_options, command: Command) => {
      await withApp(command, (app) => runSubscribe(ui, app));
    });

  program
    .command('status')
    .description('count your tweets by state (queued, sent, confirmed, failed) and show the subscription; offline')
    .option('--json', 'print the counts as JSON')
    .option('--limit <n>', 'how many recent tweets of yours to list', parseLimit, 10)
    .action(async (options: { json?: boolean; limit: number }, command: Command) => {
      await withApp(command, async (app) => runStatus(ui, app, options), true);
    });

  program.addHelpText('after', GLOBAL_HELP);
  for (const command of program.commands) {
    command.addHelpText(
      'after',
      `\nExit status: ${ExitCode.OK} done, ${ExitCode.USAGE} usage or unpostable text, ${ExitCode.GATEWAY_UNREACHABLE} user gateway ` +
        `not reachable, ${ExitCode.CONFIGURATION} configuration error, ${ExitCode.FAILURE} unexpected (see ${NAME} --help).\n`,
    );
  }
  return program;
}

export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  let exitCode: number = ExitCode.OK;
  const ui: Ui = {
    print: (text) => io.stdout.write(text),
    warn: (text) => io.stderr.write(`${NAME}: ${text}\n`),
  };
  const program = buildProgram(io, ui, (code) => (exitCode = code));
  try {
    await program.parseAsync([...argv], { from: 'node' });
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return ExitCode.OK; // --help, --version
      io.stderr.write(`${NAME}: ${error.message.replace(/^error: /, '')} (see ${NAME} --help)\n`);
      return ExitCode.USAGE;
    }
    if (error instanceof AppError) {
      ui.warn(error.message);
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
