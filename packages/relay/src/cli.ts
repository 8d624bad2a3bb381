import { join, resolve } from 'node:path';

import { Command, CommanderError, Option } from 'commander';

import { defaultDataRoot, describeUserGatewayRegistration } from '@twitter-relaynet/config';
import { createStderrJsonLogger, silentLogger } from '@twitter-relaynet/cosocket';

import { ExitCode, exitCodeOf, formatSummary, PlainReporter, type OutputStream, TerminalProgress } from './output';
import { runRelay } from './relay';

/** Longest --wait accepted: one day. */
export const MAX_WAIT_SECONDS = 86_400;

export interface CliIo {
  readonly stdout: OutputStream;
  readonly stderr: OutputStream & { readonly isTTY?: boolean };
  readonly signal?: AbortSignal;
  /** For the data root's default (RELAYNET_DATA_ROOT, XDG_DATA_HOME, HOME); process.env when absent. */
  readonly env?: NodeJS.ProcessEnv;
}

/** The gateways the relay knows the default socket and flashdrive folders of (docs/runtime-layout.md). */
export const GATEWAYS = {
  'user-gateway': { incoming: 'user-gw', outgoing: 'relayer-gw' },
  'relayer-gateway': { incoming: 'relayer-gw', outgoing: 'user-gw' },
} as const;
export type GatewayName = keyof typeof GATEWAYS;


interface ParsedOptions {
  cosocket?: string;
  incoming?: string;
  outgoing?: string;
  dataRoot?: string;
  flashdrive?: string;
  wait: string;
  verbose?: boolean;
  progress?: boolean;
}

class UsageError extends Error {}

const EXIT_CODES_HELP = `
Gateways: with GATEWAY (user-gateway or relayer-gateway) the options default to the layout of
docs/runtime-layout.md under the data root (--data-root, else RELAYNET_DATA_ROOT, else
$XDG_DATA_HOME/twitter-relaynet or ~/.local/share/twitter-relaynet):
  relay user-gateway     --cosocket <data root>/user-gateway/cosocket.sock
                         --incoming <flashdrive>/user-gw --outgoing <flashdrive>/relayer-gw
  relay relayer-gateway  --cosocket <data root>/relayer-gateway/cosocket.sock
                         --incoming <flashdrive>/relayer-gw --outgoing <flashdrive>/user-gw
where <flashdrive> is --flashdrive (default <data root>/flashdrive). An option given explicitly wins.

Exit status:
  ${ExitCode.DONE}  done: cargo or CCAs were delivered or collected, and nothing went wrong
  ${ExitCode.FAILURE}  failure: an invalid or unreadable file (left in place), cargo the gateway did not
     acknowledge (kept; the gateway's log says why, e.g. clocks hours apart), a file that could
     not be saved (full or read-only flashdrive: not acknowledged), a delivered file that could
     not be deleted (delete it by hand), or no gateway
  ${ExitCode.USAGE}  usage error: bad or missing option
  ${ExitCode.NOTHING_TO_DO}  nothing to do: nothing was delivered or collected, and nothing went wrong

Files: cargo and CCAs are read from --incoming whatever their names (hidden files, such as the
temp files ".<name>.tmp", and subfolders are ignored); collected ones are saved as <uuid>.cargo and
<uuid>.cca in --outgoing, each one fsync'd and renamed into place before it is acknowledged.
`;

export function makeCommand(io: CliIo): Command {
  return new Command('relay')
    .description(
      'Carry cargo between a gateway and a flashdrive: deliver the cargo in --incoming to the gateway ' +
        '(deleting each file once the gateway acknowledges it), wait, then collect what the gateway has ' +
        'into --outgoing, presenting each CCA found in --incoming (or none, at the user gateway).',
    )
    .argument('[gateway]', 'user-gateway or relayer-gateway: take the options below from the default layout')
    .option('--cosocket <socket>', "the gateway's CoSocket Unix socket")
    .option('--incoming <dir>', 'flashdrive folder with the cargo (and CCAs) for this gateway')
    .option('--outgoing <dir>', 'flashdrive folder to save collected cargo and CCAs in (created if missing)')
    .option('--data-root <dir>', 'the shared data root, for the defaults of GATEWAY (env RELAYNET_DATA_ROOT)')
    .option('--flashdrive <dir>', 'the flashdrive, holding user-gw/ and relayer-gw/, for the defaults of GATEWAY')
    .option('--wait <seconds>', 'seconds to wait between delivering and collecting (only if cargo was delivered)', '5')
    .option('--verbose', 'log JSON lines on stderr, keyed by file, cargo id and delivery id')
    .addOption(new Option('--progress', 'show progress bars even if stderr is not a terminal'))
    .addOption(new Option('--no-progress', 'never show progress bars (default: only on a terminal)'))
    .addHelpText('after', EXIT_CODES_HELP)
    .allowExcessArguments(false)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      outputError: () => undefined, // reported as one line by main()
    });
}

function parseWait(value: string): number {
  if (!/^\d+(\.\d+)?$/.test(value.trim())) {
    throw new UsageError(`--wait must be a number of seconds (got "${value}")`);
  }
  const seconds = Number(value);
  if (seconds > MAX_WAIT_SECONDS) {
    throw new UsageError(`--wait must be at most ${MAX_WAIT_SECONDS} seconds (got ${value})`);
  }
  return seconds;
}

/** Run the CLI; resolves with the exit status. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const command = makeCommand(io);
  let options: ParsedOptions;
  let waitSeconds: number;
  try {
    command.parse([...argv], { from: 'node' });
    options = command.opts<ParsedOptions>();
    const gateway = command.args[0] as string | undefined;
    if (gateway !== undefined) {
      if (!Object.hasOwn(GATEWAYS, gateway)) {
        throw new UsageError(`unknown gateway "${gateway}": expected ${Object.keys(GATEWAYS).join(' or ')}`);
      }
      const dataRoot = options.dataRoot?.trim() ? resolve(options.dataRoot) : defaultDataRoot(io.env ?? process.env);
      const flashdrive = options.flashdrive?.trim() ? resolve(options.flashdrive) : join(dataRoot, 'flashdrive');
      const folders = GATEWAYS[gateway as GatewayName];
      options.cosocket ??= join(dataRoot, gateway, 'cosocket.sock');
      options.incoming ??= join(flashdrive, folders.incoming);
      options.outgoing ??= join(flashdrive, folders.outgoing);
    } else if (options.dataRoot !== undefined || options.flashdrive !== undefined) {
      throw new UsageError('--data-root and --flashdrive need GATEWAY (user-gateway or relayer-gateway)');
    }
    for (const flag of ['cosocket', 'incoming', 'outgoing'] as const) {
      if (options[flag] === undefined) {
        throw new UsageError(`--${flag} is required without GATEWAY (user-gateway or relayer-gateway)`);
      }
      if (!options[flag].trim()) throw new UsageError(`--${flag} must not be empty`);
    }
    waitSeconds = parseWait(options.wait);
    if (resolve(options.incoming!) === resolve(options.outgoing!)) {
      throw new UsageError('--incoming and --outgoing must be different folders');
    }
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return 0; // --help
      io.stderr.write(`relay: ${error.message.replace(/^error: /, '')} (see relay --help)\n`);
      return ExitCode.USAGE;
    }
    if (error instanceof UsageError) {
      io.stderr.write(`relay: ${error.message} (see relay --help)\n`);
      return ExitCode.USAGE;
    }
    throw error;
  }

  const verbose = options.verbose === true;
  const progress = options.progress ?? (io.stderr.isTTY === true && !verbose);
  const reporter = progress ? new TerminalProgress(io.stderr) : new PlainReporter(io.stderr);
  const result = await runRelay(
    {
      cosocket: options.cosocket!,
      incoming: options.incoming!,
      outgoing: options.outgoing!,
      waitSeconds,
      signal: io.signal,
    },
    {
      reporter,
      logger: verbose ? createStderrJsonLogger('relay') : silentLogger,
      cosocketLogger: verbose ? createStderrJsonLogger('cosocket') : silentLogger,
    },
  );
  reporter.finish();
  io.stderr.write(`${formatSummary(result)}\n`);
  // An unregistered user gateway collects nothing and takes no cargo: say why (the relaying gateway publishes no such file).
  const registration = describeUserGatewayRegistration(options.cosocket!);
  if (registration) io.stderr.write(`relay: ${registration}\n`);
  return exitCodeOf(result);
}
