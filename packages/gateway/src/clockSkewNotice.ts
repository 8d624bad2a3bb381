/**
 * The relaying gateway's word to a user gateway whose clock is ahead (see clockSkew.ts).
 *
 * It travels as a parcel from the relaying gateway (signed with its own certificate) to the user
 * gateway itself, its payload a ServiceMessage of type CLOCK_SKEW_NOTICE_TYPE holding a small JSON
 * object, encrypted for the user gateway: the courier can neither read nor forge it. The user gateway
 * takes a parcel addressed to itself only from its relaying gateway.
 *
 * A "refused" notice says a cargo was not taken; a "resolved" one, that a cargo was taken again after
 * that, so the user can stop worrying.
 */
import { RelaynetSyntaxError } from '@twitter-relaynet/core';

export const CLOCK_SKEW_NOTICE_TYPE = 'application/vnd.twitter-relaynet.clock-skew-notice+json';
/** Largest notice content accepted, in octets (a real one is about 120). */
export const MAX_CLOCK_SKEW_NOTICE_LENGTH = 1024;
/**
 * The two notices have their own parcel ids, and at most one of them is queued for a user gateway at a
 * time: a refusal replaces the queued "refused" notice (they do not pile up) and withdraws a queued
 * "resolved" one; the first cargo taken after a refusal withdraws the "refused" notice if it is still
 * queued and queues "resolved". A notice stays queued until the user gateway's PCA for it comes back.
 */
export const CLOCK_SKEW_REFUSED_PARCEL_ID = 'clock-skew-refused';
export const CLOCK_SKEW_RESOLVED_PARCEL_ID = 'clock-skew-resolved';
/** A notice is worth delivering for as long as a courier may take for a round trip. */
export const CLOCK_SKEW_NOTICE_TTL_SECONDS = 14 * 24 * 60 * 60;

/** Ten years: anything further ahead is not a clock's drift. */
const MAX_AHEAD_MS = 10 * 366 * 24 * 3_600_000;
const MAX_PARCEL_COUNT = 1_000_000;
const MAX_TOLERANCE_SECONDS = 366 * 24 * 3_600;

/**
 * `at` is on the relaying gateway's clock: when it refused a cargo ('refused'), or took one again
 * after refusing ('resolved'). The user gateway keeps the latest, whatever order they arrive in.
 */
export type ClockSkewNotice =
  | {
      readonly status: 'refused';
      readonly at: Date;
      /** How far the latest parcel in that cargo was dated ahead of the relaying gateway's clock. */
      readonly aheadMs: number;
      /** How many of its parcels were beyond the tolerance. */
      readonly parcelCount: number;
      readonly toleranceSeconds: number;
    }
  | { readonly status: 'resolved'; readonly at: Date };

/** The content of a clock skew notice is not what the relaying gateway would write. */
export class MalformedClockSkewNoticeError extends RelaynetSyntaxError {}

export function serializeClockSkewNotice(notice: ClockSkewNotice): Buffer {
  const at = notice.at.toISOString();
  return Buffer.from(
    JSON.stringify(
      notice.status === 'resolved'
        ? { status: notice.status, at }
        : {
            status: notice.status,
            at,
            aheadMs: notice.aheadMs,
            parcelCount: notice.parcelCount,
            toleranceSeconds: notice.toleranceSeconds,
          },
    ),
  );
}

/** @throws MalformedClockSkewNoticeError */
export function parseClockSkewNotice(content: Buffer): ClockSkewNotice {
  if (content.length > MAX_CLOCK_SKEW_NOTICE_LENGTH) {
    throw new MalformedClockSkewNoticeError(
      `Clock skew notice is ${content.length} octets, above the limit of ${MAX_CLOCK_SKEW_NOTICE_LENGTH}`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(content));
  } catch (error) {
    throw new MalformedClockSkewNoticeError('Clock skew notice is not UTF-8 JSON', { cause: error });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new MalformedClockSkewNoticeError('Clock skew notice must be a JSON object');
  }
  const fields = value as Record<string, unknown>;
  const { status } = fields;
  if (status !== 'refused' && status !== 'resolved') {
    throw new MalformedClockSkewNoticeError('Clock skew notice: status must be "refused" or "resolved"');
  }
  const expected =
    status === 'refused' ? ['status', 'at', 'aheadMs', 'parcelCount', 'toleranceSeconds'] : ['status', 'at'];
  const unexpected = Object.keys(fields).filter((key) => !expected.includes(key));
  if (unexpected.length) {
    throw new MalformedClockSkewNoticeError(`Clock skew notice has unexpected field(s): ${unexpected.join(', ')}`);
  }
  const date = typeof fields.at === 'string' ? new Date(fields.at) : null;
  if (!date || Number.isNaN(date.getTime()) || date.toISOString() !== fields.at) {
    throw new MalformedClockSkewNoticeError('Clock skew notice: at must be an ISO 8601 UTC date');
  }
  if (status === 'resolved') return { status, at: date };
  return {
    status,
    at: date,
    aheadMs: integerField(fields, 'aheadMs', 1, MAX_AHEAD_MS),
    parcelCount: integerField(fields, 'parcelCount', 1, MAX_PARCEL_COUNT),
    toleranceSeconds: integerField(fields, 'toleranceSeconds', 0, MAX_TOLERANCE_SECONDS),
  };
}

function integerField(fields: Record<string, unknown>, name: string, min: number, max: number): number {
  const value = fields[name];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new MalformedClockSkewNoticeError(`Clock skew notice: ${name} must be an integer in ${min}..${max}`);
  }
  return value;
}
