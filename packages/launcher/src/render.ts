/**
 * How `npm start` shows its children's output: as it is (JSON log lines and all) for files and pipes, or, for a
 * person at a terminal, as human lines: time, process, message and the ids that matter, through the project's
 * logger's own human format.
 */
import { humanLogText, humanTime, type LogFormat, parseJsonLogLine } from '@twitter-relaynet/core';

/** A line that starts with its own UTC time, as the X API emulator's request log does. */
const TIMESTAMPED = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z) (.*)$/;

/**
 * One output line of the child `name` (without its newline), with the process names padded to `width`. `now` is
 * the time shown for a line that carries none (a banner line).
 */
export function renderChildLine(
  name: string,
  width: number,
  line: string,
  format: LogFormat,
  now: Date = new Date(),
): string {
  const label = name.padEnd(width);
  if (format === 'json') return `${label} | ${line}`;
  const record = parseJsonLogLine(line);
  if (record) {
    // A library logging under its own name (pogrpc, cosocket) inside the daemon keeps that name.
    const component = record.component && record.component !== name ? `[${record.component}] ` : '';
    return `${humanTime(record.time)} ${label} | ${component}${humanLogText(record.level, record.message, record.fields)}`;
  }
  const timestamped = TIMESTAMPED.exec(line);
  if (timestamped) return `${humanTime(new Date(timestamped[1]))} ${label} | ${timestamped[2]}`;
  // The daemons' banner lines name their process, which the label already does.
  const text = line.startsWith(`${name}: `) ? line.slice(name.length + 2) : line;
  return `${humanTime(now)} ${label} | ${text}`;
}
