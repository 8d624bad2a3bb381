/** The tiny injectable logger every component of this package logs through. */
export interface Logger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

const noop = () => undefined;

/** Default: log nothing. */
export const silentLogger: Logger = { info: noop, warn: noop, error: noop };

/** One JSON object per line on stderr. */
export function createStderrJsonLogger(component = 'pogrpc'): Logger {
  const emit = (level: string) => (fields: Record<string, unknown>, message: string) => {
    process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, component, msg: message, ...fields })}\n`);
  };
  return { info: emit('info'), warn: emit('warn'), error: emit('error') };
}
