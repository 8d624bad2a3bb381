/**
 * The clock status the user gateway publishes beside its PoWebSocket socket, for the app to show.
 *
 * When the clocks of the user's computer and of the Internet side are further apart than the drift
 * tolerance, cargo stops flowing in one direction and only a gateway notices: the user gateway when
 * the Internet's messages look future-dated (this computer is behind), the relaying gateway when the
 * user's do (this computer is ahead; it sends the user gateway a notice in cargo). The user reads
 * neither gateway's log, so the user gateway keeps this file and `twitter-app` prints what it says.
 *
 * Dates of the `internet` part are on the Internet side's clock, those of `local` on this computer's:
 * they are never compared with each other.
 */
import { RelaynetError } from '@twitter-relaynet/core';
import { readFileSync } from 'node:fs';

export const CLOCK_STATUS_FILE = 'clock-status.json';
/** A real file is a few hundred octets. */
export const MAX_CLOCK_STATUS_FILE_LENGTH = 4096;

export interface ClockRefusal {
  /** When the refusal happened, on the refusing side's clock. */
  readonly at: Date;
  /** How far the latest message was dated ahead of the refusing side's clock (a lower bound of the skew). */
  readonly aheadMs: number;
  readonly parcelCount: number;
  readonly toleranceSeconds: number;
}

export interface ClockStatus {
  /**
   * The relaying gateway's latest word: it refused cargo from this computer ('refused': this computer's
   * clock is ahead) or took one again after that ('resolved').
   */
  readonly internet?:
    ({ readonly status: 'refused' } & ClockRefusal) | { readonly status: 'resolved'; readonly at: Date };
  /** This computer's gateway refused cargo from the Internet (this computer's clock is behind). */
  readonly local?: ClockRefusal;
}

export class ClockStatusFileError extends RelaynetError {}

export function serializeClockStatus(status: ClockStatus): string {
  const refusal = (r: ClockRefusal) => ({
    at: r.at.toISOString(),
    aheadMs: r.aheadMs,
    parcelCount: r.parcelCount,
    toleranceSeconds: r.toleranceSeconds,
  });
  const { internet, local } = status;
  return (
    JSON.stringify(
      {
        ...(internet && {
          internet:
            internet.status === 'resolved'
              ? { status: 'resolved', at: internet.at.toISOString() }
              : { status: 'refused', ...refusal(internet) },
        }),
        ...(local && { local: refusal(local) }),
      },
      null,
      2,
    ) + '\n'
  );
}

/** @throws ClockStatusFileError naming `source` */
export function parseClockStatus(text: string, source = CLOCK_STATUS_FILE): ClockStatus {
  const fail = (why: string): never => {
    throw new ClockStatusFileError(`${source}: ${why}`);
  };
  if (Buffer.byteLength(text) > MAX_CLOCK_STATUS_FILE_LENGTH)
    fail(`larger than ${MAX_CLOCK_STATUS_FILE_LENGTH} octets`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    fail('not JSON');
  }
  const object = (v: unknown, what: string): Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : fail(`${what} must be an object`);
  const only = (o: Record<string, unknown>, keys: string[], what: string) => {
    const extra = Object.keys(o).filter((k) => !keys.includes(k));
    if (extra.length) fail(`${what} has unexpected field(s): ${extra.join(', ')}`);
  };
  const date = (v: unknown, what: string): Date => {
    const d = typeof v === 'string' ? new Date(v) : null;
    return d && !Number.isNaN(d.getTime()) && d.toISOString() === v ? d : fail(`${what} must be an ISO 8601 UTC date`);
  };
  const integer = (v: unknown, what: string, min: number): number =>
    typeof v === 'number' && Number.isSafeInteger(v) && v >= min ? v : fail(`${what} must be an integer ≥ ${min}`);
  const refusal = (o: Record<string, unknown>, what: string): ClockRefusal => ({
    at: date(o.at, `${what}.at`),
    aheadMs: integer(o.aheadMs, `${what}.aheadMs`, 1),
    parcelCount: integer(o.parcelCount, `${what}.parcelCount`, 1),
    toleranceSeconds: integer(o.toleranceSeconds, `${what}.toleranceSeconds`, 0),
  });

  const root = object(value, 'the file');
  only(root, ['internet', 'local'], 'the file');
  let internet: ClockStatus['internet'];
  if (root.internet !== undefined) {
    const o = object(root.internet, 'internet');
    if (o.status === 'resolved') {
      only(o, ['status', 'at'], 'internet');
      internet = { status: 'resolved', at: date(o.at, 'internet.at') };
    } else if (o.status === 'refused') {
      only(o, ['status', 'at', 'aheadMs', 'parcelCount', 'toleranceSeconds'], 'internet');
      internet = { status: 'refused', ...refusal(o, 'internet') };
    } else {
      fail('internet.status must be "refused" or "resolved"');
    }
  }
  let local: ClockRefusal | undefined;
  if (root.local !== undefined) {
    const o = object(root.local, 'local');
    only(o, ['at', 'aheadMs', 'parcelCount', 'toleranceSeconds'], 'local');
    local = refusal(o, 'local');
  }
  return { ...(internet && { internet }), ...(local && { local }) };
}

/** The status in `path`; empty if there is no such file. @throws ClockStatusFileError */
export function readClockStatus(path: string): ClockStatus {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new ClockStatusFileError(`${path}: cannot be read: ${(error as Error).message}`, { cause: error });
  }
  return parseClockStatus(text, path);
}

/**
 * What the user should be told: one sentence per problem (none when the clocks agree).
 *
 * With `now` (this computer's clock), a refusal from the Internet side is also weighed against this
 * clock: the refused messages were dated `aheadMs` after `at` by this clock when it was ahead, so
 *  - if this clock now reads less than the tolerance after `at`, it is within the tolerance now (it cannot
 *    be more ahead than it reads past `at`): nothing to say;
 *  - else, if it reads before the date it gave those messages, it has been set back since: said so, and
 *    that the next courier trip tells whether it is right now.
 */
export function describeClockStatus(status: ClockStatus, now?: Date): string[] {
  const lines: string[] = [];
  const { internet, local } = status;
  if (internet?.status === 'refused') {
    const sinceRefusal = now ? now.getTime() - internet.at.getTime() : Number.POSITIVE_INFINITY;
    if (sinceRefusal < internet.aheadMs) {
      if (sinceRefusal >= internet.toleranceSeconds * 1000) {
        lines.push(
          `This computer's clock was at least ${hours(internet.aheadMs)} ahead on ${internet.at.toISOString()} ` +
            '(Internet time), when the relaying gateway did not take messages from this computer, and it has been ' +
            'set back since; the next courier trip tells whether it is right now.',
        );
      }
    } else {
      lines.push(
        `This computer's clock is at least ${hours(internet.aheadMs)} ahead: on ${internet.at.toISOString()} ` +
          `(Internet time) the relaying gateway did not take ${internet.parcelCount} message(s) from this computer, ` +
          `dated ${hours(internet.aheadMs)} ahead of its clock (it takes up to ${hours(internet.toleranceSeconds * 1000)}). ` +
          'Set this clock right; nothing is lost: they go through on the next courier trip after that.',
      );
    }
  }
  if (local) {
    lines.push(
      `This computer's clock is at least ${hours(local.aheadMs)} behind: on ${local.at.toISOString()} ` +
        `(this computer's time) its gateway did not take ${local.parcelCount} message(s) from the Internet, ` +
        `dated ${hours(local.aheadMs)} ahead of this clock (it takes up to ${hours(local.toleranceSeconds * 1000)}). ` +
        'Set this clock right; nothing is lost: the courier brings them again.',
    );
  }
  return lines;
}

/** "3.0 h" */
function hours(ms: number): string {
  return `${(ms / 3_600_000).toFixed(1)} h`;
}
