import { jsonLineLogger as coreJsonLineLogger, type Logger } from '@twitter-relaynet/core';

export { type Logger, type LogRecord, silentLogger, MemoryLogger } from '@twitter-relaynet/core';

/** One JSON line per record on stderr (the daemons' default), tagged `gateway`. */
export function jsonLineLogger(write?: (line: string) => void): Logger {
  return coreJsonLineLogger('gateway', write);
}
