import { jsonLineLogger, type Logger } from '@twitter-relaynet/core';

export { type Logger, silentLogger } from '@twitter-relaynet/core';

/** One JSON object per line on stderr. */
export function createStderrJsonLogger(component = 'cosocket'): Logger {
  return jsonLineLogger(component);
}
