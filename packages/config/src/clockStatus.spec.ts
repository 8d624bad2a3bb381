import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  type ClockStatus,
  ClockStatusFileError,
  describeClockStatus,
  parseClockStatus,
  readClockStatus,
  serializeClockStatus,
} from './clockStatus';

const HOUR = 3_600_000;
const refusal = {
  at: new Date('2026-11-28T10:00:00.000Z'),
  aheadMs: 3 * HOUR + 5000,
  parcelCount: 2,
  toleranceSeconds: 7200,
};

test('round trip of every shape', () => {
  const statuses: ClockStatus[] = [
    {},
    { internet: { status: 'refused', ...refusal } },
    { internet: { status: 'resolved', at: refusal.at } },
    { local: refusal },
    { internet: { status: 'resolved', at: refusal.at }, local: refusal },
  ];
  for (const status of statuses) expect(parseClockStatus(serializeClockStatus(status))).toEqual(status);
});

test('what the user is told: one line per problem, none once resolved', () => {
  expect(describeClockStatus({})).toEqual([]);
  expect(describeClockStatus({ internet: { status: 'resolved', at: refusal.at } })).toEqual([]);
  const [ahead] = describeClockStatus({ internet: { status: 'refused', ...refusal } });
  expect(ahead).toBe(
    "This computer's clock is at least 3.0 h ahead: on 2026-11-28T10:00:00.000Z (Internet time) the relaying gateway " +
      'did not take 2 message(s) from this computer, dated 3.0 h ahead of its clock (it takes up to 2.0 h). Set this ' +
      'clock right; nothing is lost: they go through on the next courier trip after that.',
  );
  const lines = describeClockStatus({
    internet: { status: 'refused', ...refusal },
    local: { ...refusal, aheadMs: 4 * HOUR },
  });
  expect(lines).toHaveLength(2);
  expect(lines[1]).toMatch(
    /^This computer's clock is at least 4\.0 h behind: .*\(this computer's time\) its gateway did not take 2 message\(s\) from the Internet/,
  );
});

test('a refusal from the Internet weighed against this clock: said while it may still be ahead, not once it is right', () => {
  // At refusal.at (Internet time) messages were dated 72 h ahead: this clock read at least 72 h past it.
  const status: ClockStatus = { internet: { status: 'refused', ...refusal, aheadMs: 72 * HOUR } };
  const at = (offsetMs: number) => new Date(refusal.at.getTime() + offsetMs);
  // Still that far ahead (or the courier took long): the warning.
  expect(describeClockStatus(status, at(72 * HOUR + 5 * 60_000))).toEqual([
    expect.stringMatching(/^This computer's clock is at least 72\.0 h ahead: /),
  ]);
  // Reads before the date it gave those messages: it was set back, maybe not enough.
  expect(describeClockStatus(status, at(30 * HOUR))).toEqual([
    expect.stringMatching(
      /^This computer's clock was at least 72\.0 h ahead on .* and it has been set back since; the next courier trip tells/,
    ),
  ]);
  // Reads less than the tolerance past the refusal: it cannot be more than that ahead now.
  expect(describeClockStatus(status, at(HOUR))).toEqual([]);
  expect(describeClockStatus(status, at(-HOUR))).toEqual([]);
});

test.each([
  ['not JSON', '{', /not JSON/],
  ['an array', '[]', /the file must be an object/],
  ['an unknown field', '{"other": 1}', /unexpected field\(s\): other/],
  [
    'an unknown status',
    '{"internet": {"status": "maybe", "at": "2026-11-28T10:00:00.000Z"}}',
    /internet.status must be/,
  ],
  ['a bad date', '{"internet": {"status": "resolved", "at": "noon"}}', /internet.at must be an ISO 8601 UTC date/],
  [
    'a zero offset',
    '{"local": {"at": "2026-11-28T10:00:00.000Z", "aheadMs": 0, "parcelCount": 1, "toleranceSeconds": 1}}',
    /local.aheadMs must be an integer ≥ 1/,
  ],
  ['too large', `{"x": "${'a'.repeat(5000)}"}`, /larger than 4096 octets/],
])('a file with %s is a ClockStatusFileError naming it', (_label, text, reason) => {
  expect(() => parseClockStatus(text, '/some/clock-status.json')).toThrow(ClockStatusFileError);
  expect(() => parseClockStatus(text, '/some/clock-status.json')).toThrow(reason);
  expect(() => parseClockStatus(text, '/some/clock-status.json')).toThrow(/^\/some\/clock-status\.json: /);
});

test('readClockStatus: no file is no news; a file is parsed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'clock-status-'));
  try {
    const path = join(dir, 'clock-status.json');
    expect(readClockStatus(path)).toEqual({});
    writeFileSync(path, serializeClockStatus({ local: refusal }));
    expect(readClockStatus(path)).toEqual({ local: refusal });
    writeFileSync(path, 'garbage');
    expect(() => readClockStatus(path)).toThrow(ClockStatusFileError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
