import { main } from '../cli';
import type { UserGatewayDaemon } from '../daemon';

const io = { stdout: (s: string) => process.stdout.write(s), stderr: (s: string) => process.stderr.write(s) };
let daemon: UserGatewayDaemon | null = null;
let stopping = false;

function onSignal(signal: NodeJS.Signals): void {
  const code = signal === 'SIGINT' ? 130 : 143;
  if (stopping || !daemon) process.exit(code);
  stopping = true;
  process.stderr.write(`user-gateway: ${signal}: shutting down\n`);
  daemon.stop().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`user-gateway: shutdown failed: ${String(error)}\n`);
      process.exit(1);
    },
  );
}
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

main(process.argv, process.env, io).then(
  (result) => {
    if (typeof result === 'number') process.exit(result);
    daemon = result;
  },
  (error: unknown) => {
    process.stderr.write(
      `user-gateway: could not start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
