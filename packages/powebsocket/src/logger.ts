import { jsonLineLogger, type Logger } from '@twitter-relaynet/core';

export { type Logger, silentLogger } from '@twitter-relaynet/core';

/** Default logger: one JSON line per entry on stderr. */
export const stderrLogger: Logger = jsonLineLogger('powebsocket');
