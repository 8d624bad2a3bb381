import { DAEMON_EXIT, dropOutputWhenReaderCloses } from '@twitter-relaynet/config';

import { type DaemonIo, processIo } from './command';
import { startBufferCollector, startIdleCollector } from './idleCollector';

/** A started daemon: what a signal stops. */
export interface RunningDaemon {
  stop(): Promise<void>;
}

/** Parse and start; the running daemon, or an exit status when there is nothing to run (help, usage error). */
export type DaemonMain = (
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  io: DaemonIo,
) => Promise<RunningDaemon | number>;

/** The part of `process` a daemon's executable uses (a fake one in tests). */
export interface DaemonProcess {
  readonly argv: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  on(signal: 'SIGINT' | 'SIGTERM', listener: (signal: NodeJS.Signals) => void): unknown;
  exit(code: number): void;
}

/**
 * The executable of a daemon: start it with `main`, then on SIGINT or SIGTERM stop it and exit 0 (1 if the shutdown
 * failed). A signal before it runs, or a second one, exits at once (130 or 143, as the shell would). A failed start
 * exits 1 with the error on stderr; help and usage errors exit with `main`'s status.
 */
export function runDaemon(
  name: string,
  main: DaemonMain,
  options: { readonly process?: DaemonProcess; readonly io?: DaemonIo; readonly argv?: readonly string[] } = {},
): void {
  const host: DaemonProcess = options.process ?? process;
  const io = options.io ?? processIo;
  let daemon: RunningDaemon | null = null;
  let stopping = false;

  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping || !daemon) {
      host.exit(signal === 'SIGINT' ? 130 : 143);
      return;
    }
    stopping = true;
    io.stderr(`${name}: ${signal}: shutting down\n`);
    daemon.stop().then(
      () => host.exit(DAEMON_EXIT.OK),
      (error: unknown) => {
        io.stderr(`${name}: shutdown failed: ${String(error)}\n`);
        host.exit(DAEMON_EXIT.FAILURE);
      },
    );
  };
  host.on('SIGINT', onSignal);
  host.on('SIGTERM', onSignal);
  if (host === process) dropOutputWhenReaderCloses();

  main(options.argv ?? host.argv, host.env, io).then(
    (result) => {
      if (typeof result === 'number') host.exit(result);
      else {
        daemon = result;
        // Only in the real process: its garbage, its node flags (bin/* pass --expose-gc).
        if (host === process) {
          startIdleCollector();
          startBufferCollector();
        }
      }
    },
    (error: unknown) => {
      io.stderr(
        `${name}: could not start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      host.exit(DAEMON_EXIT.FAILURE);
    },
  );
}
