/**
 * `npm start`: the user gateway, the relaying gateway, the Twitter API adapter and (unless real X
 * credentials and base URL are configured) the local X API emulator, in the foreground, each
 * output line prefixed with its name. Ctrl-C stops them all; if one dies, the others are stopped
 * and the exit status is non-zero, with the name of the one that died.
 */
import { join } from 'node:path';

import { resolveDataRoot } from '@twitter-relaynet/config';

import { usesRealXApi } from '../env';
import { REPO_ROOT } from '../layout';
import { Supervisor } from '../supervisor';
import { emulatorBaseUrl, emulatorPortFrom, systemProcesses } from '../system';

const USAGE = `Usage: npm start [-- --data-root DIR]

Runs user-gateway, relayer-gateway, twitter-api-adapter and, unless TWITTER_API_BASE_URL points at
the real X API (environment or .env), the local X API emulator. Each output line is prefixed with
the name of its process. Ctrl-C stops them all.

Environment: RELAYNET_DATA_ROOT (--data-root; default $XDG_DATA_HOME/twitter-relaynet, else
~/.local/share/twitter-relaynet), X_API_EMULATOR_PORT (default 8085), and every daemon's own
variables (see bin/<daemon> --help).

Exit status: 0 when stopped with Ctrl-C (SIGINT) or SIGTERM; 1 when a process exited by itself
(its name is printed and the others are stopped); 2 on a usage error.
`;

function parseArgs(argv: readonly string[]): { dataRoot?: string } {
  const result: { dataRoot?: string } = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') {
      process.stdout.write(USAGE);
      process.exit(0);
    } else if (arg === '--data-root' && argv[i + 1]) {
      result.dataRoot = argv[++i];
    } else if (arg.startsWith('--data-root=') && arg.length > '--data-root='.length) {
      result.dataRoot = arg.slice('--data-root='.length);
    } else {
      process.stderr.write(`start: unknown or incomplete argument "${arg}" (see npm start -- --help)\n`);
      process.exit(2);
    }
  }
  return result;
}

function main(): void {
  const { dataRoot: dataRootFlag } = parseArgs(process.argv.slice(2));
  const dataRoot = resolveDataRoot(dataRootFlag, process.env);
  let emulatorPort: number;
  try {
    emulatorPort = emulatorPortFrom(process.env);
  } catch (error) {
    process.stderr.write(`start: ${(error as Error).message}\n`);
    process.exit(2);
  }
  const realApi = usesRealXApi(join(REPO_ROOT, '.env'));
  const specs = systemProcesses({ dataRoot, realApi, emulatorPort });

  process.stdout.write(
    `Data root: ${dataRoot}\n` +
      (realApi ? 'X API: the real one (TWITTER_API_BASE_URL)\n' : `X API: the local emulator, ${emulatorBaseUrl(emulatorPort)}/ (open it in a browser)\n`) +
      `Starting ${specs.map((spec) => spec.name).join(', ')}. Ctrl-C stops them all.\n`,
  );
  const supervisor = new Supervisor(specs);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => supervisor.stop());
  }
  void supervisor.start().then((result) => {
    if (result.firstExit) {
      const { name, code, signal } = result.firstExit;
      process.stderr.write(`start: ${name} exited (${signal ? `signal ${signal}` : `code ${code}`}), so everything was stopped\n`);
    } else {
      process.stdout.write('All stopped.\n');
    }
    process.exitCode = result.exitCode;
  });
}

main();
