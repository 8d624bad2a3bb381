/**
 * The structured logger every package writes to: an object of fields (parcelId, cargoId, peer...)
 * and a human message, in pino's argument order, so pino or bunyan loggers fit as they are.
 */
export interface Logger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export const silentLogger: Logger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

export interface LogRecord {
  readonly level: 'info' | 'warn' | 'error';
  readonly fields: Record<string, unknown>;
  readonly message: string;
}

/** Keeps every record in memory (tests, diagnostics). */
export class MemoryLogger implements Logger {
  readonly records: LogRecord[] = [];

  info(fields: object, message: string): void {
    this.records.push({ level: 'info', fields: { ...fields }, message });
  }

  warn(fields: object, message: string): void {
    this.records.push({ level: 'warn', fields: { ...fields }, message });
  }

  error(fields: object, message: string): void {
    this.records.push({ level: 'error', fields: { ...fields }, message });
  }

  find(level: LogRecord['level'], pattern: RegExp): LogRecord[] {
    return this.records.filter((record) => record.level === level && pattern.test(record.message));
  }
}

/** One JSON object per line (stderr by default), tagged with the component that logged it. */
export function jsonLineLogger(
  component?: string,
  write: (line: string) => void = (line) => process.stderr.write(line),
): Logger {
  const emit = (level: string) => (fields: object, message: string) =>
    write(
      JSON.stringify({
        time: new Date().toISOString(),
        level,
        ...(component === undefined ? {} : { component }),
        msg: message,
        ...fields,
      }) + '\n',
    );
  return { info: emit('info'), warn: emit('warn'), error: emit('error') };
}
