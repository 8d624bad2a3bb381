import { jsonLineLogger as coreJsonLineLogger, type Logger } from '@twitter-relaynet/core';

export { type Logger, type LogRecord, silentLogger, MemoryLogger } from '@twitter-relaynet/core';

/** One JSON object per line (stderr by default). */
export function jsonLineLogger(component = 'endpoint', write?: (line: string) => void): Logger {
  return coreJsonLineLogger(component, write);
}
