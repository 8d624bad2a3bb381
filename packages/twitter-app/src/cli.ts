/** The twitter-app command line: the PoC's interactive run plus subcommands for scripts. */
import { statfsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';

import { Command, CommanderError, InvalidArgumentError } from 'commander';
import {
  CLOCK_STATUS_FILE,
  ConfigurationError,
  describeClockStatus,
  describeUserGatewayRegistration,
  readClockStatus,
  UsageError,
} from '@twitter-relaynet/config';
import { jsonLineLogger, silentLogger, type Logger } from '@twitter-relaynet/core';

import { isReachProblem, TwitterApp, type SendReport, type SubscriptionResult } from './app';
import { ENV, loadCredentials, resolvePaths, type AppPaths, type LoadedCredentials } from './config';
import { type AppProblem, ExitCode, exitCodeOf, isAppProblem, withSuffix } from './errors';
import {
  formatDate,
  formatNewItems,
  formatOutcome,
  formatStatus,
  formatSubscriptionStatus,
  formatTimelineTweet,
} from './output';
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
/** Ends an error that stopped a tweet before it was stored: nobody should count on it. */
const NOT_SAVED = '; the tweet was not saved';
/** `status` and `timeline --offline` read the store only: they need no credentials. */
const OFFLINE_CREDENTIALS: LoadedCredentials = { accessToken: '', accessSecret: '', source: 'emulator' };

const GLOBAL_HELP = `
Without a command: register with the user gateway and subscribe to your home timeline (first run; the
subscription is renewed when less than a third of it remains), send tweets left queued, print the tweets
and tweet outcomes that arrived since the last run, then ask what to tweet (ENTER skips).

A tweet is saved in the app before anything else, even when nothing else runs yet; every command that
reaches the user gateway (tweet, timeline, subscribe, none) gives it every queued tweet, oldest first.

Tweets: at most ${MAX_WEIGHTED_TWEET_LENGTH} characters counted as X counts them (CJK characters and emoji count
2, links 23); a tweet lives 7 days on its way to X. The user's X credentials come from
${ENV.ACCESS_TOKEN_KEY} and ${ENV.ACCESS_TOKEN_SECRET} (environment, else the .env file), else the
local X API emulator's seeded user.

Clocks: when the user gateway finds that this computer's clock is too far from the Internet side's for
messages to be taken (more than 2 hours), every command says so on stderr, until they agree again. Tweets
made while this computer's clock was ahead are dated now and given to the user gateway again by the first
command that reaches it after the clock is set right.

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
  ${ExitCode.GATEWAY_UNREACHABLE}  the user gateway is not reachable (tweets stay queued in the app, nothing is lost)
  ${ExitCode.CONFIGURATION}  configuration error: the adapter's connection parameters or the .env file
`;

/** 0 lists none (the command still does everything else), up to 1000. */
function parseLimit(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 1000) {
    throw new InvalidArgumentError('must be a whole number from 0 to 1000');
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
    ui.print(
      `Registered again with the user gateway at ${socket}: it no longer accepted our certificate (new gateway identity?).\n`,
    );
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

/**
 * Say what happened to the queued tweets: those the gateway took, those that expired, and how many are still
 * queued in the app (kept, so nothing is lost). `saved`: the tweet this run saved, reported on its own.
 */
function reportSending(ui: Ui, report: SendReport, saved: OutgoingTweet | null = null): void {
  for (const tweet of report.expired)
    ui.warn(`a queued tweet expired before the user gateway took it: "${tweet.text}"`);
  const redatedIds = new Set(report.redated.map((tweet) => tweet.id));
  const redated = report.sent.filter((tweet) => redatedIds.has(tweet.id));
  // Their dates were ahead of every right clock (the user gateway held back those it had): said apart.
  if (redated.length > 0) {
    ui.print(
      `Gave the user gateway ${plural(redated.length, 'tweet')} made while this computer's clock was ahead, dated now: ${onTheirWay(redated.length)}.\n`,
    );
  }
  const earlier = report.sent.filter((tweet) => tweet.id !== saved?.id && !redatedIds.has(tweet.id));
  if (earlier.length > 0) {
    ui.print(
      `Gave the user gateway ${plural(earlier.length, 'tweet')} queued earlier: ${onTheirWay(earlier.length)}.\n`,
    );
  }
  const sentNow = saved && report.sent.find((tweet) => tweet.id === saved.id);
  if (sentNow) {
    ui.print(
      `Tweet given to the user gateway (id ${sentNow.id}, parcel ${sentNow.parcelId}): on its way, posted once a courier ` +
        `carries it, if before ${formatDate(sentNow.expiresAt)}. "${NAME} status" follows it.\n`,
    );
  } else if (saved) {
    ui.print(
      `Tweet saved (id ${saved.id}): ${plural(report.queued, 'tweet')} queued in the app, nothing is lost; the next ${NAME} ` +
        `command that reaches the user gateway sends ${report.queued === 1 ? 'it' : 'them'} (if before ${formatDate(saved.expiresAt)}).\n`,
    );
  } else if (report.queued > 0 && report.problem) {
    ui.print(
      `${plural(report.queued, 'tweet')} queued in the app, nothing is lost: the next ${NAME} command that reaches the user ` +
        `gateway sends ${report.queued === 1 ? 'it' : 'them'}.\n`,
    );
  }
}

/** ": did you mean timeline?" for a near miss (a typo of one or two letters, or a prefix); else the list. */
function suggestCommand(name: string, program: Command): string {
  const names = [...program.commands.map((command) => command.name()), 'help'];
  const near = names.filter(
    (candidate) => candidate.startsWith(name.toLowerCase()) || editDistance(name.toLowerCase(), candidate) <= 2,
  );
  if (near.length > 0) return `: did you mean ${near.join(' or ')}?`;
  return `: the commands are ${names.join(', ')} (to tweet a text: ${NAME} tweet "TEXT")`;
}

/** Levenshtein distance, for command suggestions (short words only). */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

function onTheirWay(count: number): string {
  return count === 1
    ? 'on its way, posted once a courier carries it'
    : 'on their way, posted once a courier carries them';
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/**
 * The user gateway's word on the clocks (packages/config clockStatus.ts): when this computer's clock is
 * too far off, messages stop flowing and only the gateways can tell.
 */
function clockWarnings(paths: AppPaths): string[] {
  const file = join(dirname(paths.gatewaySocket), CLOCK_STATUS_FILE);
  try {
    return describeClockStatus(readClockStatus(file), new Date());
  } catch (error) {
    return [`the user gateway's clock status cannot be read: ${(error as Error).message}`];
  }
}

function reportClock(ui: Ui, paths: AppPaths): void {
  for (const line of clockWarnings(paths)) ui.warn(`warning: ${line}`);
  // Until the user gateway registers, nothing leaves this computer (packages/config registrationStatus.ts).
  const registration = describeUserGatewayRegistration(paths.gatewaySocket);
  if (registration) ui.warn(`warning: ${registration}`);
}

/**
 * Reach the user gateway: register (first run), keep the subscription current (`force`: renew it now), give it
 * every queued tweet. A problem that loses nothing (the gateway not reachable, the adapter unknown) stops it and is
 * returned in the report; anything else is thrown.
 */
async function reachGateway(
  ui: Ui,
  app: TwitterApp,
  options: { forceSubscription?: boolean } = {},
): Promise<SendReport> {
  try {
    reportRegistration(ui, app, await app.register());
    reportSubscription(ui, await app.ensureSubscription({ force: options.forceSubscription }));
  } catch (error) {
    if (!isReachProblem(error)) throw error;
    return { sent: [], expired: [], queued: app.store.countTweets().queued, problem: error, redated: [] };
  }
  return app.sendQueuedTweets();
}

/** Collect what the gateway holds, unless it is known to be unreachable. Returns the problem, if any. */
async function collect(ui: Ui, app: TwitterApp, problem: AppProblem | null): Promise<AppProblem | null> {
  if (problem !== null && exitCodeOf(problem) === ExitCode.GATEWAY_UNREACHABLE) return problem;
  try {
    await app.collect(ui.warn);
  } catch (error) {
    if (!isReachProblem(error)) throw error;
    return problem ?? error;
  }
  return problem;
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

/** No command: the PoC's run. Returns the exit status: with the gateway unreachable, it still asks and saves. */
async function runDefault(ui: Ui, app: TwitterApp, stdin: CliIo['stdin']): Promise<number> {
  const reached = await reachGateway(ui, app);
  reportSending(ui, reached);
  let problem = await collect(ui, app, reached.problem);
  if (problem) ui.warn(`${problem.message}; showing what is stored`);
  reportClock(ui, app.paths);
  const news = app.unshown();
  ui.print(formatNewItems(news.tweets, news.outcomes, news.subscriptionStatus));
  app.markShown(news);
  const text = await askForTweet(ui, stdin);
  if (text !== null) {
    const saved = saveTweet(app, text);
    if (problem) {
      reportSending(
        ui,
        { ...reached, sent: [], expired: [], redated: [], queued: app.store.countTweets().queued },
        saved,
      );
    } else {
      const sending = await app.sendQueuedTweets();
      reportSending(ui, sending, saved);
      problem = sending.problem;
      if (problem) ui.warn(problem.message);
    }
  }
  return exitCodeOf(problem);
}

/** Save the tweet; a store that cannot take it (a full disk) is said plainly. */
function saveTweet(app: TwitterApp, text: string): OutgoingTweet {
  try {
    return app.saveTweet(text);
  } catch (error) {
    const unusable = unusableDataFolder(error, app.paths.dataDir);
    if (!unusable) throw error;
    throw new ConfigurationError(`${unusable.message}${NOT_SAVED}`, { cause: error });
  }
}

/** The tweet is saved first (`saved`), then everything queued is sent. Returns the exit status. */
async function runTweet(ui: Ui, app: TwitterApp, saved: OutgoingTweet): Promise<number> {
  const report = await reachGateway(ui, app);
  reportSending(ui, report, saved);
  if (report.problem) ui.warn(report.problem.message);
  reportClock(ui, app.paths);
  return exitCodeOf(report.problem);
}

/** Returns the exit status: the gateway being unreachable still shows what is stored. */
async function runTimeline(ui: Ui, app: TwitterApp, options: { limit: number; offline?: boolean }): Promise<number> {
  let problem: AppProblem | null = null;
  if (!options.offline) {
    const reached = await reachGateway(ui, app);
    reportSending(ui, reached);
    problem = await collect(ui, app, reached.problem);
    if (problem) ui.warn(`${problem.message}; showing what is stored`);
  }
  reportClock(ui, app.paths);
  // What the adapter said about the user's tweets and the subscription is news too.
  const { outcomes, subscriptionStatus } = app.unshown();
  if (subscriptionStatus) ui.print(formatSubscriptionStatus(subscriptionStatus));
  if (outcomes.length > 0)
    ui.print(`Outcomes of your tweets (${outcomes.length}):\n${outcomes.map(formatOutcome).join('')}`);
  app.markShown({ tweets: [], outcomes, subscriptionStatus });
  const earlier = options.limit > 0 ? app.store.listRecentTimeline(options.limit) : [];
  const fresh = app.store.listUnshownTimeline();
  if (earlier.length > 0) ui.print(`Earlier tweets (${earlier.length}):\n${earlier.map(formatTimelineTweet).join('')}`);
  ui.print(
    fresh.length > 0 ? `New tweets (${fresh.length}):\n${fresh.map(formatTimelineTweet).join('')}` : 'No new tweets.\n',
  );
  app.markShown({ tweets: fresh, outcomes: [], subscriptionStatus: null });
  return exitCodeOf(problem);
}

async function runSubscribe(ui: Ui, app: TwitterApp): Promise<number> {
  const report = await reachGateway(ui, app, { forceSubscription: true });
  reportSending(ui, report);
  if (report.problem) ui.warn(report.problem.message);
  return exitCodeOf(report.problem);
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
  app.markShown({
    tweets: [],
    outcomes: app.store.listUnshownOutcomes(),
    subscriptionStatus: report.subscriptionStatus,
  });
  reportClock(ui, app.paths);
}

function buildProgram(io: CliIo, ui: Ui, setExitCode: (code: number) => void): Command {
  const program = new Command(NAME)
    .description(
      'Tweet and read your home timeline with no Internet: messages travel through the user gateway and a courier',
    )
    .option('--data-root <dir>', `shared data root (env ${ENV.DATA_ROOT})`)
    .option('--data-dir <dir>', `this app's data folder (env ${ENV.DATA_DIR}; default <data root>/twitter-app)`)
    .option('--gateway-socket <path>', `the user gateway's PoWebSocket socket (env ${ENV.GATEWAY_SOCKET})`)
    .option(
      '--adapter-parameters <file>',
      `the Twitter API adapter's connection parameters (env ${ENV.ADAPTER_PARAMETERS})`,
    )
    .option('--env-file <file>', `.env file with the X credentials (env ${ENV.ENV_FILE})`)
    .option('--verbose', 'log JSON lines on stderr')
    .configureHelp({ showGlobalOptions: true })
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      outputError: () => undefined, // reported as one line by main
    });

  /** Open the app for a command (with the user's credentials unless `offline`), run `work`, close it. */
  const withApp = async (
    command: Command,
    work: (app: TwitterApp) => Promise<number | void>,
    offline = false,
  ): Promise<void> => {
    const options = command.optsWithGlobals<GlobalOptions>();
    const paths = resolvePaths(options, io.env, io.defaultEnvFile);
    const logger: Logger = options.verbose ? jsonLineLogger(NAME, (line) => io.stderr.write(line)) : silentLogger;
    // Offline commands need no credentials (and contact no gateway).
    const credentials = offline ? OFFLINE_CREDENTIALS : loadCredentials(io.env, paths.envFile);
    const app = await openApp({ paths, credentials, logger });
    try {
      setExitCode((await work(app)) ?? ExitCode.OK);
    } finally {
      await app.close();
    }
  };

  program.allowExcessArguments(true).action(async (_options, command: Command) => {
    if (command.args.length === 0) return withApp(command, (app) => runDefault(ui, app, io.stdin));
    // An operand that is no command: name it, rather than commander's "too many arguments".
    const name = command.args[0];
    throw new UsageError(`unknown command '${name}'${suggestCommand(name, program)} (see ${NAME} --help)`);
  });
  program.helpCommand('help [command]', 'show the help of twitter-app or of a command');

  program
    .command('tweet')
    .description(
      'save a tweet (validated first: not empty, not too long), then give it and any queued ones to the user gateway',
    )
    .argument('<text>', 'the tweet (quote it)')
    .allowExcessArguments(false)
    .action(async (text: string, _options, command: Command) => {
      assertTweetText(text);
      let saved = false;
      try {
        await withApp(command, (app) => {
          const tweet = saveTweet(app, text);
          saved = true;
          return runTweet(ui, app, tweet);
        });
      } catch (error) {
        // Said plainly, so that nobody counts on a tweet that is not kept.
        if (!saved && isAppProblem(error) && !error.message.endsWith(NOT_SAVED)) {
          throw withSuffix(error, NOT_SAVED);
        }
        throw error;
      }
    });

  program
    .command('timeline')
    .description(
      'collect what arrived and print the new tweets of your home timeline and the recent ones, and the outcomes of ' +
        'your tweets that arrived since the last run',
    )
    .option('--limit <n>', 'how many earlier tweets to show (0: only the new ones)', parseLimit, 10)
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
    .description(
      'count your tweets by state (queued in the app, with the user gateway, confirmed, failed) and show the subscription; offline',
    )
    .option('--json', 'print the counts as JSON')
    .option('--limit <n>', 'how many recent tweets of yours to list (0: none, only the counts)', parseLimit, 10)
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
    if (isAppProblem(error)) {
      ui.warn(error.message);
      return exitCodeOf(error);
    }
    io.stderr.write(
      `${NAME}: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    return ExitCode.FAILURE;
  }
  return exitCode;
}

function diskFull(path: string): boolean {
  try {
    return statfsSync(path).bavail === 0;
  } catch {
    return false;
  }
}

async function openApp(options: Parameters<typeof TwitterApp.open>[0]): Promise<TwitterApp> {
  try {
    return await TwitterApp.open(options);
  } catch (error) {
    throw unusableDataFolder(error, options.paths.dataDir) ?? error;
  }
}

/** Filesystem errors that mean "this folder cannot hold the app's state": a configuration problem (exit 4). */
const FOLDER_ERRORS = new Set([
  'EACCES',
  'EPERM',
  'EROFS',
  'ENOTDIR',
  'ENAMETOOLONG',
  'ELOOP',
  'EEXIST',
  'ENOSPC',
  'EISDIR',
]);
/** SQLite's codes for a file it cannot open, write or grow (SQLITE_IOERR_SHMSIZE on a full tmpfs, ...). */
const SQLITE_FOLDER_ERRORS = /^SQLITE_(CANTOPEN|FULL|READONLY|IOERR)/;

function unusableDataFolder(error: unknown, dataDir: string): ConfigurationError | null {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  if (typeof code !== 'string' || !(FOLDER_ERRORS.has(code) || SQLITE_FOLDER_ERRORS.test(code))) return null;
  // SQLite often says only "disk I/O error" when the disk is full: say which.
  const full = code !== 'ENOSPC' && diskFull(dataDir) ? ' (no space left on the disk)' : '';
  const reason = (error as Error).message.replace(/^[A-Z_]+: /, '') + full;
  return new ConfigurationError(
    `cannot keep the app's data in ${dataDir} (${code}): ${reason}; choose another folder with --data-dir or --data-root`,
    { cause: error },
  );
}
