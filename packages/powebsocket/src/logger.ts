/** The tiny logger interface this package logs through (pino-compatible argument order). */
export interface Logger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

/** Default logger: one JSON line per entry on stderr. */
export const stderrLogger: Logger = {
  info: (obj, msg) => write('info', obj, msg),
  warn: (obj, msg) => write('warn', obj, msg),
  error: (obj, msg) => write('error', obj, msg),
};

function write(level: string, obj: Record<string, unknown>, msg: string): void {
  process.stderr.write(
    `${JSON.stringify({ time: new Date().toISOString(), level, component: 'powebsocket', msg, ...obj })}\n`,
  );
}

/** Discards everything. */
export const silentLogger: Logger = { info: () => {}, warn: () => {}, error: () => {} };
