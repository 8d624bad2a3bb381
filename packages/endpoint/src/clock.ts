export { type Clock, systemClock, ManualClock } from '@twitter-relaynet/core';
