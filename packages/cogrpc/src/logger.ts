import { jsonLineLogger, type Logger } from '@twitter-relaynet/core';

/** One JSON object per line on stderr. */
export function createStderrJsonLogger(component = 'cogrpc'): Logger {
  return jsonLineLogger(component);
}
