import { runDaemon } from '@twitter-relaynet/daemon-kit';

import { main } from '../cli';

runDaemon('user-gateway', main);
