import { EXIT, main } from '../cli';
import type { TwitterApiAdapterDaemon } from '../daemon';

const io = { stdout: (s: string) => void process.stdout.write(s), stderr: (s: string) => void process.stderr.write(s) };
let daemon: TwitterApiAdapterDaemon | null = null;
let stopping = false;

function onSignal(signal: NodeJS.Signals): void {
  // Before the daemon runs there is nothing to shut down cleanly; a second signal means "now".
  if (stopping || !daemon) process.exit(signal === 'SIGINT' ? 130 : 143);
  stopping = true;
  process.stderr.write(`twitter-api-adapter: ${signal}: shutting down\n`);
  daemon.stop().then(
    () => process.exit(EXIT.OK),
    (error: unknown) => {
      process.stderr.write(`twitter-api-adapter: shutdown failed: ${String(error)}\n`);
      process.exit(EXIT.FAILURE);
    },
  );
}
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

// bin/twitter-api-adapter puts "--" before the arguments so that Node 20 leaves our --env-file alone
// (nodejs/node#54232); it is not an argument of ours.
const argv = process.argv[2] === '--' ? [...process.argv.slice(0, 2), ...process.argv.slice(3)] : process.argv;

main(argv, process.env, io).then(
  (result) => {
    if (typeof result === 'number') process.exit(result);
    daemon = result;
  },
  (error: unknown) => {
    process.stderr.write(
      `twitter-api-adapter: could not start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(EXIT.FAILURE);
  },
);
