import { dropOutputWhenReaderCloses } from '@twitter-relaynet/config';

import { main } from '../cli';

// Ctrl-C (or SIGTERM) stops the run cleanly: nothing unacknowledged is deleted, nothing unsaved is acked.
// A second one exits at once.
const controller = new AbortController();
const onSignal = (signal: NodeJS.Signals) => {
  if (controller.signal.aborted) process.exit(signal === 'SIGINT' ? 130 : 143);
  controller.abort();
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
dropOutputWhenReaderCloses();

main(process.argv, { stdout: process.stdout, stderr: process.stderr, signal: controller.signal }).then(
  (status) => {
    process.exitCode = status;
  },
  (error: unknown) => {
    process.stderr.write(
      `relay: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
