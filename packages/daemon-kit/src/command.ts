import { Command, CommanderError } from 'commander';

import { DAEMON_EXIT, DAEMON_HELP_FOOTER } from '@twitter-relaynet/config';
import { type Logger, lineLogger } from '@twitter-relaynet/core';

/** Where a daemon writes: the banner on stdout, usage errors and logs on stderr. */
export interface DaemonIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

export const processIo: DaemonIo = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
};

/**
 * A daemon's command, before its own options: `helpAfter` (its variables) is followed by the footer every daemon
 * shares (logs, signals, exit statuses); no positional arguments; help and errors go to `io`, never to `process`.
 */
export function daemonCommand(name: string, description: string, helpAfter: string, io: DaemonIo): Command {
  return new Command(name)
    .description(description)
    .addHelpText('after', `${helpAfter}\n${DAEMON_HELP_FOOTER}`)
    .allowExcessArguments(false)
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: () => undefined });
}

/** An error class whose instances are the user's mistake (a bad flag or variable): exit status 2, no stack. */
export type UsageErrorClass = abstract new (...args: never[]) => Error;

/**
 * Parse `argv` with `command` and turn its options into a configuration with `resolve`. Resolves to the
 * configuration, or to the exit status when there is nothing to start: 0 after --help or --version, 2 after a usage
 * error (a CommanderError or one of `usageErrors`), reported on stderr as `<name>: <message> (see <name> --help)`.
 */
export function parseDaemonCommandLine<Flags, Config>(options: {
  readonly command: Command;
  readonly argv: readonly string[];
  readonly io: DaemonIo;
  readonly resolve: (flags: Flags) => Config;
  readonly usageErrors: readonly UsageErrorClass[];
}): Config | number {
  const { command, io } = options;
  const name = command.name();
  try {
    command.parse([...options.argv], { from: 'node' });
    return options.resolve(command.opts<Flags & Record<string, unknown>>());
  } catch (error) {
    let message: string;
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return DAEMON_EXIT.OK;
      message = error.message.replace(/^error: /, '');
    } else if (options.usageErrors.some((usageError) => error instanceof usageError)) {
      message = (error as Error).message;
    } else {
      throw error;
    }
    io.stderr(`${name}: ${message} (see ${name} --help)\n`);
    return DAEMON_EXIT.USAGE;
  }
}

/** The log of a daemon: core's line logger (JSON or human lines, see DAEMON_HELP_FOOTER) on `io.stderr`. */
export function daemonLogger(component: string, io: DaemonIo = processIo): Logger {
  return lineLogger(component, { write: (line) => io.stderr(line) });
}

/** Banner lines on `io.stdout`. */
export function bannerPrinter(io: DaemonIo = processIo): (line: string) => void {
  return (line) => io.stdout(line + '\n');
}

/** The environment variables of a daemon's help, one a line, their meanings aligned. */
export function describeVariables(variables: ReadonlyArray<readonly [name: string, meaning: string]>): string {
  const width = Math.max(...variables.map(([name]) => name.length)) + 2;
  return variables.map(([name, meaning]) => `  ${name.padEnd(width)}${meaning}`).join('\n');
}

/** A daemon as `main` starts it. */
export interface StartableDaemon {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A daemon's `main` (see runDaemon): parse the command line made by `makeCommand`, turn it into a configuration
 * with `resolve` (a usage error is reported, as parseDaemonCommandLine does), then create the daemon with its log
 * and banner sinks, start it and resolve with it.
 */
export function daemonMain<Flags, Config, Daemon extends StartableDaemon>(spec: {
  readonly makeCommand: (io: DaemonIo) => Command;
  readonly resolve: (flags: Flags, env: NodeJS.ProcessEnv) => Config;
  readonly usageErrors: readonly UsageErrorClass[];
  readonly create: (
    config: Config,
    sinks: { readonly logger: Logger; readonly print: (line: string) => void },
  ) => Daemon;
}): (argv: readonly string[], env: NodeJS.ProcessEnv, io: DaemonIo) => Promise<Daemon | number> {
  return async (argv, env, io) => {
    const command = spec.makeCommand(io);
    const config = parseDaemonCommandLine({
      command,
      argv,
      io,
      resolve: (flags: Flags) => spec.resolve(flags, env),
      usageErrors: spec.usageErrors,
    });
    if (typeof config === 'number') return config;
    const daemon = spec.create(config, { logger: daemonLogger(command.name(), io), print: bannerPrinter(io) });
    await daemon.start();
    return daemon;
  };
}
