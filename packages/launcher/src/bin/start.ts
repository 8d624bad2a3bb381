/**
 * `npm start`: the user gateway, the relaying gateway, the Twitter API adapter and (unless real X
 * credentials and base URL are configured) the local X API emulator, in the foreground, each
 * output line prefixed with its name. Ctrl-C stops them all; if one dies, the others are stopped
 * and the exit status is non-zero, with the name of the one that died.
 */
import { join } from 'node:path';

import { usesRealXApi } from '../env';
import { bin, EMULATOR_BIN, REPO_ROOT, resolveDataRoot } from '../layout';
import { Supervisor, type ProcessSpec } from '../supervisor';

function parseArgs(argv: readonly string[]): { dataRoot?: string } {
  const result: { dataRoot?: string } = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') {
      process.stdout.write(
        'Usage: npm start [-- --data-root DIR]\n\n' +
          'Runs user-gateway, relayer-gateway, twitter-api-adapter and, without real X API settings,\n' +
          'the local X API emulator. Ctrl-C stops them all.\n',
      );
      process.exit(0);
    } else if (arg === '--data-root' && argv[i + 1]) {
      result.dataRoot = argv[++i];
    } else if (arg.startsWith('--data-root=')) {
      result.dataRoot = arg.slice('--data-root='.length);
    } else {
      process.stderr.write(`start: unknown argument "${arg}" (try --help)\n`);
      process.exit(2);
    }
  }
  return result;
}

const { dataRoot: dataRootFlag } = parseArgs(process.argv.slice(2));
const dataRoot = resolveDataRoot(dataRootFlag);
const env = { RELAYNET_DATA_ROOT: dataRoot };
const specs: ProcessSpec[] = [];
if (!usesRealXApi(join(REPO_ROOT, '.env'))) {
  specs.push({
    name: 'x-api-emulator',
    command: process.execPath,
    args: [EMULATOR_BIN, '--data-dir', join(dataRoot, 'x-api-emulator')],
    env,
  });
}
for (const name of ['relayer-gateway', 'user-gateway', 'twitter-api-adapter']) {
  specs.push({ name, command: bin(name), args: ['--data-root', dataRoot], env });
}

process.stdout.write(`Data root: ${dataRoot}\nStarting ${specs.map((spec) => spec.name).join(', ')}. Ctrl-C stops them all.\n`);
const supervisor = new Supervisor(specs);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => supervisor.stop());
}
supervisor.start().then((result) => {
  if (result.firstExit) {
    const { name, code, signal } = result.firstExit;
    process.stderr.write(`start: ${name} exited (${signal ? `signal ${signal}` : `code ${code}`}), so everything was stopped\n`);
  } else {
    process.stdout.write('All stopped.\n');
  }
  process.exitCode = result.exitCode;
});
