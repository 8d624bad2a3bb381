/** `npm run demo`: see ../demo.ts. Exit status 0 only when the whole round trip worked. */
import { DEFAULT_DEMO_TIMEOUT_MS, runDemo } from '../demo';

const USAGE = `Usage: npm run demo [-- --keep] [-- --timeout SECONDS]

Starts the whole system in a new temporary data root (the X API emulator, both gateways, the
Twitter API adapter), tweets with bin/twitter-app, carries the cargo with bin/relay until the
tweet is on the emulator, posts a tweet as a followed account on the emulator's page, and carries
cargo back until it shows in bin/twitter-app. Narrates each step; asks nothing.

  --keep              keep the temporary data root (logs, databases) afterwards
  --timeout SECONDS   give up after this long (default ${DEFAULT_DEMO_TIMEOUT_MS / 1000})

Exit status: 0 when the tweet reached the emulator and the followed account's tweet reached the
app; 1 otherwise (the data root is kept and the daemons' last log lines are printed); 2 usage.
`;

function usageError(message: string): never {
  process.stderr.write(`demo: ${message} (see npm run demo -- --help)\n`);
  process.exit(2);
}

const argv = process.argv.slice(2);
let keep = false;
let timeoutMs = DEFAULT_DEMO_TIMEOUT_MS;
for (let i = 0; i < argv.length; i++) {
  const arg = argv[i];
  if (arg === '--help' || arg === '-h') {
    process.stdout.write(USAGE);
    process.exit(0);
  } else if (arg === '--keep') {
    keep = true;
  } else if (arg === '--timeout') {
    const value = argv[++i];
    if (!value || !/^\d+$/.test(value) || Number(value) < 1)
      usageError(`--timeout needs a whole number of seconds (got "${value ?? ''}")`);
    timeoutMs = Number(value) * 1000;
  } else {
    usageError(`unknown argument "${arg}"`);
  }
}

runDemo({ keep, timeoutMs }).then(
  (result) => {
    process.exitCode = result.ok ? 0 : 1;
  },
  (error: unknown) => {
    process.stderr.write(`demo: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
