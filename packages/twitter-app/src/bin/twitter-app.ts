import { resolve } from 'node:path';

import { dropOutputWhenReaderCloses } from '@twitter-relaynet/config';

import { main } from '../cli';

// dist/bin/twitter-app.js → the repository root (for its .env).
const repositoryRoot = resolve(__dirname, '..', '..', '..', '..');

// bin/twitter-app puts "--" before the arguments so that Node 20 leaves our --env-file alone (nodejs/node#54232).
dropOutputWhenReaderCloses();

const argv = process.argv[2] === '--' ? [...process.argv.slice(0, 2), ...process.argv.slice(3)] : process.argv;

main(argv, {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  defaultEnvFile: resolve(repositoryRoot, '.env'),
}).then(
  (status) => {
    process.exitCode = status;
    // Nothing must keep the process alive once the command finished (stdin, sockets).
    process.stdin.destroy();
  },
  (error: unknown) => {
    process.stderr.write(
      `twitter-app: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
