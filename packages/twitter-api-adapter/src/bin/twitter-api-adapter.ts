import { runDaemon } from '@twitter-relaynet/daemon-kit';

import { main } from '../cli';

// bin/twitter-api-adapter puts "--" before the arguments so that Node 20 leaves our --env-file alone
// (nodejs/node#54232); it is not an argument of ours.
const argv = process.argv[2] === '--' ? [...process.argv.slice(0, 2), ...process.argv.slice(3)] : process.argv;

runDaemon('twitter-api-adapter', main, { argv });
