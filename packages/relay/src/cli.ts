import { mkdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

import { Command, CommanderError, Option } from 'commander';

import { defaultDataRoot, describeUserGatewayRegistration, UsageError } from '@twitter-relaynet/config';
import { jsonLineLogger, type Logger, silentLogger } from '@twitter-relaynet/core';

// Types only: the CogRPC side (gRPC, protobuf: about 0.3 s to load) is loaded only by runs that use it.
import type { GatewayTrust } from './cogrpcGateway';
type CogRPCModule = typeof import('./cogrpcGateway');
import { describeError } from './flashdrive';
import { CoSocketConnector, type GatewayConnector } from './gateway';
import { type FlashdriveLock, FlashdriveLockedError, lockFlashdrive } from './lock';
import {
  ExitCode,
  exitCodeOf,
  formatSummary,
  PlainReporter,
  type OutputStream,
  type Reporter,
  TerminalProgress,
} from './output';
import { runRelay } from './relay';
import { exitCodeWithRegistration, runRegistrationLeg } from './registration';

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
  // No wait at the user's computer: nothing there answers the cargo within seconds (the app collects
  // its parcels whenever it next runs, and the gateway's acknowledgements are ready at once).
  'user-gateway': { incoming: 'user-gw', outgoing: 'relayer-gw', waitSeconds: '0' },
  // At the relaying gateway the adapter posts the tweets and answers within seconds: waiting lets the
  // courier take the answers home on this trip (RS-000's "deliver, wait a few seconds, collect").
  'relayer-gateway': { incoming: 'relayer-gw', outgoing: 'user-gw', waitSeconds: '5' },
} as const;
/** --wait without GATEWAY. */
const DEFAULT_WAIT_SECONDS = '5';
export type GatewayName = keyof typeof GATEWAYS;

interface ParsedOptions {
  cosocket?: string;
  gateway?: string;
  gatewayCertificate?: string;
  gatewayFingerprint?: string;
  gatewayPlaintext?: boolean;
  incoming?: string;
  outgoing?: string;
  dataRoot?: string;
  flashdrive?: string;
  init?: boolean;
  wait?: string;
  verbose?: boolean;
  progress?: boolean;
}

const EXIT_CODES_HELP = `
Gateways: with GATEWAY (user-gateway or relayer-gateway) the options default to the layout of
docs/runtime-layout.md under the data root (--data-root, else RELAYNET_DATA_ROOT, else
$XDG_DATA_HOME/twitter-relaynet or ~/.local/share/twitter-relaynet):
  relay user-gateway     --cosocket <data root>/user-gateway/cosocket.sock
                         --incoming <flashdrive>/user-gw --outgoing <flashdrive>/relayer-gw
  relay relayer-gateway  --cosocket <data root>/relayer-gateway/cosocket.sock
                         --incoming <flashdrive>/relayer-gw --outgoing <flashdrive>/user-gw
where <flashdrive> is --flashdrive (default <data root>/flashdrive). An option given explicitly wins.

Across the network: --gateway HOST:PORT (or https://HOST[:PORT]) reaches the relaying gateway over
CogRPC (gRPC over TLS) instead of its CoSocket socket, e.g. on the courier's computer:
  relay relayer-gateway --gateway gateway.example:21473 --gateway-fingerprint <SHA-256>
The server is trusted by --gateway-certificate FILE (its self-signed certificate, as relayer-gateway
publishes it in <its data root>/relayer-gateway/cogrpc.json), else --gateway-fingerprint (the SHA-256
of its certificate, which relayer-gateway prints at start), else the system's certificate authorities.
A server presenting another certificate is refused (exit 1) before anything on the flashdrive changes;
both fingerprints are printed. --gateway-plaintext (or an http:// URL with it) goes without TLS.
The flashdrive folder must exist (a mistyped mount point is an error), except the default one, made
when missing; --init creates it. Without GATEWAY the same holds for the folder holding --outgoing.
Symbolic links are refused, for the folders as for the files. One run at a time per flashdrive: a
run holds <flashdrive>/.relay.lock (a run that was killed leaves it; the next one takes it over).

Words: cargo is the gateways' encrypted mail, one file per batch. A pickup authorization (CCA, cargo
collection authorization) is a single-use file the user gateway hands the courier; at the relaying
gateway it lets the courier collect the cargo waiting for that user.

Waiting: relay relayer-gateway waits 5 s after delivering (if it delivered anything), so that the
answers (the tweets' outcomes) are ready to collect on the same trip; relay user-gateway does not
wait. --wait changes it.

Exit status:
  ${ExitCode.DONE}  done: cargo or pickup authorizations were delivered or collected, and nothing went wrong
  ${ExitCode.FAILURE}  failure: an invalid or unreadable file (left in place), cargo or a pickup
     authorization the gateway refused (the reason is printed; refused for good: moved to the
     folder refused/ beside it; refused for now: kept), cargo the gateway
     did not acknowledge (kept), a file that could not be saved (full or read-only flashdrive: not
     acknowledged), a delivered file that could not be deleted (delete it by hand), no gateway,
     a gateway whose TLS certificate is not the one expected (nothing on the flashdrive changes),
     or another run using the flashdrive
  ${ExitCode.USAGE}  usage error: bad or missing option, or a flashdrive folder that does not exist
  ${ExitCode.NOTHING_TO_DO}  nothing to do: nothing was delivered or collected, and nothing went wrong

Files: cargo and pickup authorizations are read from --incoming whatever their names (hidden files, such as the
temp files ".<name>.tmp", and subfolders are ignored); collected ones are saved as <uuid>.cargo and
<uuid>.cca in --outgoing, each one fsync'd and renamed into place before it is acknowledged.
`;

export function makeCommand(io: CliIo): Command {
  return new Command('relay')
    .description(
      'Carry cargo between a gateway and a flashdrive: deliver the cargo in --incoming to the gateway ' +
        '(deleting each file once the gateway acknowledges it), wait, then collect what the gateway has ' +
        'into --outgoing, presenting each pickup authorization (CCA) found in --incoming (or none, at the user gateway).',
    )
    .argument('[gateway]', 'user-gateway or relayer-gateway: take the options below from the default layout')
    .option('--cosocket <socket>', "the gateway's CoSocket Unix socket")
    .option(
      '--gateway <address>',
      'the relaying gateway over CogRPC: HOST:PORT or https://HOST[:PORT] (instead of --cosocket)',
    )
    .option(
      '--gateway-certificate <file>',
      "with --gateway: trust only this certificate (PEM), the server's self-signed one",
    )
    .option(
      '--gateway-fingerprint <sha256>',
      'with --gateway: trust only the certificate with this SHA-256 (hex, colons optional)',
    )
    .option(
      '--gateway-plaintext',
      'with --gateway: no TLS (HOST:PORT or http://HOST:PORT); only on a network you trust',
    )
    .option('--incoming <dir>', 'flashdrive folder with the cargo (and pickup authorizations) for this gateway')
    .option(
      '--outgoing <dir>',
      'flashdrive folder to save collected cargo and pickup authorizations in (created if missing, in an existing folder)',
    )
    .option('--data-root <dir>', 'the shared data root, for the defaults of GATEWAY (env RELAYNET_DATA_ROOT)')
    .option(
      '--flashdrive <dir>',
      'the flashdrive (must exist), holding user-gw/ and relayer-gw/, for the defaults of GATEWAY',
    )
    .option(
      '--init',
      'create the flashdrive folder if it does not exist (without GATEWAY: the folder holding --outgoing)',
    )
    .option(
      '--wait <seconds>',
      'seconds to wait between delivering and collecting, only if cargo was delivered (default: 5; 0 at the user gateway)',
    )
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

/** Where the flashdrive is, and what may be created there. */
interface FlashdrivePlan {
  readonly folder: string;
  /** Create it if missing: --init, or the default folder in an existing data root. */
  readonly create: boolean;
  /** Why it may not be missing, when it must exist. */
  readonly missingHint: string;
}

/** Run the CLI; resolves with the exit status. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const command = makeCommand(io);
  let options: ParsedOptions;
  let waitSeconds: number;
  let flashdrive: FlashdrivePlan;
  let connector: GatewayConnector;
  let gateway: GatewayName | undefined;
  try {
    command.parse([...argv], { from: 'node' });
    options = command.opts<ParsedOptions>();
    gateway = command.args[0] as GatewayName | undefined;
    const init = options.init === true;
    if (gateway !== undefined) {
      if (!Object.hasOwn(GATEWAYS, gateway)) {
        throw new UsageError(`unknown gateway "${gateway}": expected ${Object.keys(GATEWAYS).join(' or ')}`);
      }
      const dataRoot = options.dataRoot?.trim() ? resolve(options.dataRoot) : defaultDataRoot(io.env ?? process.env);
      const folders = GATEWAYS[gateway as GatewayName];
      if (options.flashdrive?.trim()) {
        flashdrive = {
          folder: resolve(options.flashdrive),
          create: init,
          missingHint: 'is the flashdrive mounted there? is the path right? (--init creates the folder)',
        };
      } else {
        // The default flashdrive lives in the data root, which the gateways made: it is ours to create.
        flashdrive = {
          folder: join(dataRoot, 'flashdrive'),
          create: init || (await isFolder(dataRoot)),
          missingHint: `neither does the data root ${dataRoot}: have the gateways run (npm start)? is --data-root (or RELAYNET_DATA_ROOT) right?`,
        };
      }
      if (options.gateway === undefined) options.cosocket ??= join(dataRoot, gateway, 'cosocket.sock');
      else if (gateway !== 'relayer-gateway')
        throw new UsageError('--gateway (CogRPC) reaches a relaying gateway: use it with relayer-gateway');
      options.incoming ??= join(flashdrive.folder, folders.incoming);
      options.outgoing ??= join(flashdrive.folder, folders.outgoing);
      options.wait ??= folders.waitSeconds;
    } else if (options.dataRoot !== undefined || options.flashdrive !== undefined) {
      throw new UsageError('--data-root and --flashdrive need GATEWAY (user-gateway or relayer-gateway)');
    }
    if (options.gateway !== undefined && options.cosocket !== undefined) {
      throw new UsageError('--gateway (CogRPC) and --cosocket are two ways to the gateway: give one');
    }
    for (const flag of [options.gateway === undefined ? 'cosocket' : 'gateway', 'incoming', 'outgoing'] as const) {
      if (options[flag] === undefined) {
        throw new UsageError(`--${flag} is required without GATEWAY (user-gateway or relayer-gateway)`);
      }
      if (!options[flag].trim()) throw new UsageError(`--${flag} must not be empty`);
    }
    connector = await makeConnector(options, verboseLogger(options, 'cogrpc'), verboseLogger(options, 'cosocket'));
    waitSeconds = parseWait(options.wait ?? DEFAULT_WAIT_SECONDS);
    if (resolve(options.incoming!) === resolve(options.outgoing!)) {
      throw new UsageError('--incoming and --outgoing must be different folders');
    }
    flashdrive ??= {
      folder: dirname(resolve(options.outgoing!)),
      create: init,
      missingHint: 'it should be the flashdrive: is it mounted there? is the path right? (--init creates it)',
    };
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

  // A server that is not the one trusted is refused before the flashdrive is touched (not even locked).
  const distrust = await connector.distrust?.(io.signal);
  if (distrust) {
    io.stderr.write(`relay: ${distrust}; nothing was delivered or collected\n`);
    return ExitCode.FAILURE;
  }
  const prepared = await prepareFlashdrive(flashdrive, io);
  if (prepared !== null) return prepared;
  let lock: FlashdriveLock | null;
  try {
    lock = await lockFlashdrive(flashdrive.folder, {
      onStale: (holder) =>
        io.stderr.write(
          `relay: took over the flashdrive lock left by a run that ended without releasing it` +
            `${holder ? ` (pid ${holder.pid} on ${holder.hostname}, since ${holder.since})` : ''}\n`,
        ),
    });
  } catch (error) {
    if (error instanceof FlashdriveLockedError) {
      io.stderr.write(`relay: ${error.message}\n`);
      return ExitCode.FAILURE;
    }
    if (!UNWRITABLE.has((error as NodeJS.ErrnoException).code ?? '')) {
      io.stderr.write(`relay: cannot lock the flashdrive: ${describeError(error)}\n`);
      return ExitCode.FAILURE;
    }
    // A flashdrive nothing can be written to (full, read-only): no other run could write to it either,
    // and delivering from it still works, so the run goes on and says what it could not do.
    io.stderr.write(
      `relay: cannot lock the flashdrive (${describeError(error)}); going on without the lock: run no other relay on it meanwhile\n`,
    );
    lock = null;
  }

  try {
    const verbose = options.verbose === true;
    const progress = options.progress ?? (io.stderr.isTTY === true && !verbose);
    const reporter = progress ? new TerminalProgress(io.stderr) : new PlainReporter(io.stderr);
    const logger = verbose ? jsonLineLogger('relay') : silentLogger;
    // Before the cargo: a response handed in registers the user gateway, which then has cargo for this trip.
    const registration = gateway
      ? await runRegistrationLegWith(connector, gateway, options, { reporter, logger, signal: io.signal })
      : null;
    const result = await runRelay(
      {
        gateway: connector,
        ccaRequired: gateway === 'relayer-gateway' || options.gateway !== undefined,
        incoming: options.incoming!,
        outgoing: options.outgoing!,
        waitSeconds,
        signal: io.signal,
      },
      {
        reporter,
        logger,
      },
    );
    reporter.finish();
    io.stderr.write(`${formatSummary(result, options.outgoing!)}\n`);
    // An unregistered user gateway collects nothing and takes no cargo: say why (the relaying gateway publishes no such file).
    const registrationStatus =
      options.cosocket === undefined ? null : describeUserGatewayRegistration(options.cosocket);
    if (registrationStatus) io.stderr.write(`relay: ${registrationStatus}\n`);
    return registration ? exitCodeWithRegistration(exitCodeOf(result), registration) : exitCodeOf(result);
  } finally {
    await lock?.release().catch(() => undefined);
  }
}

function verboseLogger(options: ParsedOptions, name: string) {
  return options.verbose === true ? jsonLineLogger(name) : silentLogger;
}

/** The gateway the options name: its CoSocket socket, or its CogRPC server and how to trust it. */
async function makeConnector(
  options: ParsedOptions,
  cogrpcLogger: ReturnType<typeof verboseLogger>,
  cosocketLogger: ReturnType<typeof verboseLogger>,
): Promise<GatewayConnector> {
  const trustFlags = [options.gatewayCertificate, options.gatewayFingerprint].filter((flag) => flag !== undefined);
  if (options.gateway === undefined) {
    if (trustFlags.length || options.gatewayPlaintext) {
      throw new UsageError('--gateway-certificate, --gateway-fingerprint and --gateway-plaintext go with --gateway');
    }
    return new CoSocketConnector(options.cosocket!, { logger: cosocketLogger });
  }
  if (trustFlags.length > 1) throw new UsageError('give --gateway-certificate or --gateway-fingerprint, not both');
  const plaintext = options.gatewayPlaintext === true;
  if (plaintext && trustFlags.length) {
    throw new UsageError(
      '--gateway-plaintext has no certificate to check: drop --gateway-certificate/--gateway-fingerprint',
    );
  }
  // Loaded on demand (see the import above).
  const { CogRPCConnector, loadPinnedCertificate, parseFingerprint, parseGatewayAddress } =
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('./cogrpcGateway') as CogRPCModule;
  let server;
  let trust: GatewayTrust;
  try {
    server = parseGatewayAddress(options.gateway, plaintext);
    if (plaintext) trust = { kind: 'plaintext' };
    else if (options.gatewayFingerprint !== undefined)
      trust = { kind: 'fingerprint', sha256: parseFingerprint(options.gatewayFingerprint) };
    else trust = { kind: 'system' };
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (options.gatewayCertificate !== undefined) {
    try {
      trust = await loadPinnedCertificate(options.gatewayCertificate);
    } catch (error) {
      throw new UsageError(
        (error as NodeJS.ErrnoException).code
          ? `cannot read --gateway-certificate ${options.gatewayCertificate}: ${describeError(error)}`
          : (error as Error).message,
      );
    }
  }
  return new CogRPCConnector(server, trust, { logger: cogrpcLogger });
}

/** The registration leg (registration.ts), over the same binding as the cargo. */
async function runRegistrationLegWith(
  connector: GatewayConnector,
  gateway: GatewayName,
  options: ParsedOptions,
  deps: { reporter: Reporter; logger: Logger; signal?: AbortSignal },
) {
  const connection = await connector.registration(deps.signal);
  try {
    return await runRegistrationLeg(
      {
        side: gateway,
        incoming: options.incoming!,
        outgoing: options.outgoing!,
        exchange: connection.exchange,
        signal: deps.signal,
      },
      deps,
    );
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/** Errors meaning the flashdrive cannot be written to at all. */
const UNWRITABLE = new Set(['EROFS', 'ENOSPC', 'EDQUOT', 'EACCES', 'EPERM']);

/** Make sure the flashdrive folder is there (creating it only if allowed); an exit status if not. */
async function prepareFlashdrive(plan: FlashdrivePlan, io: CliIo): Promise<number | null> {
  if (await isFolder(plan.folder)) return null;
  const exists = await stat(plan.folder).then(
    () => true,
    () => false,
  );
  if (exists) {
    io.stderr.write(`relay: the flashdrive ${plan.folder} is not a folder\n`);
    return ExitCode.USAGE;
  }
  if (!plan.create) {
    io.stderr.write(`relay: the flashdrive folder ${plan.folder} does not exist: ${plan.missingHint}\n`);
    return ExitCode.USAGE;
  }
  try {
    await mkdir(plan.folder, { recursive: true, mode: 0o755 });
  } catch (error) {
    io.stderr.write(`relay: cannot create the flashdrive folder ${plan.folder}: ${describeError(error)}\n`);
    return ExitCode.FAILURE;
  }
  io.stderr.write(`relay: created the flashdrive folder ${plan.folder}\n`);
  return null;
}

async function isFolder(path: string): Promise<boolean> {
  return stat(path).then(
    (stats) => stats.isDirectory(),
    () => false,
  );
}
