/**
 * The one logger interface of the project: three levels, an object of fields (parcelId, cargoId, peer...) and a
 * human message, in pino's argument order, so pino or bunyan loggers fit as they are.
 *
 * - Libraries take a `logger` option and default to `silentLogger`: they never choose where lines go.
 * - Executables choose the sink: `lineLogger` (stderr, human on a terminal, JSON otherwise) for the daemons,
 *   `jsonLineLogger` for a `--verbose` CLI, `MemoryLogger` in tests.
 * - Field names: `err` holds the message of an error that was caught (`errorMessage(error)`), always under that
 *   name; `reason` is why a message was refused when it is not an error's message (a refusal sent by a peer, a
 *   file left in place); ids keep their message names (`parcelId`, `cargoId`, `ccaId`).
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

export type LogFormat = 'human' | 'json';

/** The variable that forces a format whatever the output is. */
export const LOG_FORMAT_VARIABLE = 'RELAYNET_LOG_FORMAT';

/**
 * JSON lines are for files and pipes (and for the launcher, which renders them); a person at a terminal gets
 * human lines. RELAYNET_LOG_FORMAT=human|json overrides the guess; any other value is reported by `lineLogger`.
 */
export function logFormatFor(output: { readonly isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): LogFormat {
  const forced = env[LOG_FORMAT_VARIABLE]?.trim().toLowerCase();
  if (forced === 'human' || forced === 'json') return forced;
  return output.isTTY ? 'human' : 'json';
}

/** What a JSON log line says, read back (by the launcher, to show it as a human line). */
export interface ParsedLogLine {
  readonly time: Date;
  readonly level: LogRecord['level'];
  readonly component?: string;
  readonly message: string;
  readonly fields: Record<string, unknown>;
}

/** Reads a line written by the JSON format; null for any other line (a banner, a stack trace). */
export function parseJsonLogLine(line: string): ParsedLogLine | null {
  if (!line.startsWith('{')) return null;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const { time, level, component, msg, ...fields } = value as Record<string, unknown>;
  if (typeof msg !== 'string' || (level !== 'info' && level !== 'warn' && level !== 'error')) return null;
  const date = typeof time === 'string' ? new Date(time) : new Date(NaN);
  if (Number.isNaN(date.getTime())) return null;
  return { time: date, level, message: msg, fields, ...(typeof component === 'string' ? { component } : {}) };
}

/** The time of day of a human line, in local time: a person compares it with the clock on the wall. */
export function humanTime(date: Date): string {
  return [date.getHours(), date.getMinutes(), date.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/**
 * The ids a person follows from one process to the next (a parcel from the app to the adapter, a cargo from one
 * gateway to the other); node, connection and call ids only matter when something goes wrong.
 */
const HUMAN_ID_FIELDS = new Set(['parcelId', 'cargoId', 'ccaId', 'tweetId', 'xTweetId', 'outcomeParcelId']);
/** Why something ended or failed, worth a glance even when all is well. */
const HUMAN_REASON_FIELDS = new Set(['reason', 'err']);

function humanValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"'=]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}

/**
 * A log record as a person reads it, without time and component (the caller places those): the level when it is
 * not info, the message, then `name=value` for the fields that matter (all of them for warnings and errors).
 */
export function humanLogText(level: LogRecord['level'], message: string, fields: object): string {
  const shown = Object.entries(fields).filter(
    ([name, value]) =>
      level !== 'info' || HUMAN_ID_FIELDS.has(name) || HUMAN_REASON_FIELDS.has(name) || typeof value === 'number',
  );
  const tag = level === 'info' ? '' : `${level.toUpperCase()} `;
  const details = shown.map(([name, value]) => `${name}=${humanValue(value)}`).join(' ');
  return `${tag}${message}${details ? `  ${details}` : ''}`;
}

/**
 * The logger of every process: one line per record (stderr by default), as JSON (time, level, component, msg,
 * fields) or as a human line (time, component, level, message, the ids that matter).
 */
export function lineLogger(
  component: string | undefined,
  options: {
    readonly format?: LogFormat;
    readonly write?: (line: string) => void;
    readonly env?: NodeJS.ProcessEnv;
  } = {},
): Logger {
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const format = options.format ?? logFormatFor(process.stderr, options.env);
  const emit = (level: LogRecord['level']) => (fields: object, message: string) => {
    const time = new Date();
    if (format === 'human') {
      write(
        `${humanTime(time)} ${component === undefined ? '' : `${component} `}${humanLogText(level, message, fields)}\n`,
      );
    } else {
      write(
        JSON.stringify({
          time: time.toISOString(),
          level,
          ...(component === undefined ? {} : { component }),
          msg: message,
          ...fields,
        }) + '\n',
      );
    }
  };
  const logger: Logger = { info: emit('info'), warn: emit('warn'), error: emit('error') };
  const forced = (options.env ?? process.env)[LOG_FORMAT_VARIABLE]?.trim();
  if (options.format === undefined && forced && !['human', 'json'].includes(forced.toLowerCase())) {
    logger.warn({ value: forced }, `${LOG_FORMAT_VARIABLE} must be "human" or "json"; ignored`);
  }
  return logger;
}

/** One JSON object per line (stderr by default), tagged with the component that logged it. */
export function jsonLineLogger(
  component?: string,
  write: (line: string) => void = (line) => process.stderr.write(line),
): Logger {
  return lineLogger(component, { format: 'json', write });
}
