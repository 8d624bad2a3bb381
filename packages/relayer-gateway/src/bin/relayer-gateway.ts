import { runDaemon } from '@twitter-relaynet/daemon-kit';

import { main } from '../cli';

runDaemon('relayer-gateway', main);
