import { ManualClock, systemClock } from './clock';
import {
  humanLogText,
  humanTime,
  jsonLineLogger,
  lineLogger,
  logFormatFor,
  MemoryLogger,
  parseJsonLogLine,
  silentLogger,
} from './logging';

test('jsonLineLogger writes one JSON object per line with the component and fields', () => {
  const lines: string[] = [];
  const logger = jsonLineLogger('gateway', (line) => lines.push(line));
  logger.warn({ parcelId: 'p1' }, 'Parcel refused');
  expect(lines).toHaveLength(1);
  expect(lines[0].endsWith('\n')).toBe(true);
  expect(JSON.parse(lines[0])).toMatchObject({
    level: 'warn',
    component: 'gateway',
    msg: 'Parcel refused',
    parcelId: 'p1',
  });
});

test('MemoryLogger keeps records and finds them by level and message', () => {
  const logger = new MemoryLogger();
  logger.info({ cargoId: 'c' }, 'Cargo stored');
  logger.error({}, 'Cargo refused');
  expect(logger.find('info', /stored/)).toEqual([{ level: 'info', fields: { cargoId: 'c' }, message: 'Cargo stored' }]);
  expect(logger.find('info', /refused/)).toEqual([]);
  expect(() => silentLogger.error({}, 'nothing')).not.toThrow();
});

test('ManualClock moves only when told', () => {
  const clock = new ManualClock(new Date('2026-01-01T00:00:00Z'));
  clock.advance(1500);
  expect(clock.now().toISOString()).toBe('2026-01-01T00:00:01.500Z');
  clock.set(new Date('2027-01-01T00:00:00Z'));
  expect(clock.now().getUTCFullYear()).toBe(2027);
  expect(Math.abs(systemClock.now().getTime() - Date.now())).toBeLessThan(1000);
});

describe('human lines', () => {
  const originalTz = process.env.TZ;
  beforeAll(() => (process.env.TZ = 'UTC'));
  afterAll(() => (originalTz === undefined ? delete process.env.TZ : (process.env.TZ = originalTz)));

  test('an info line shows the message and only the ids a person follows, and counts', () => {
    const text = humanLogText('info', 'Cargo received', {
      cargoId: 'adc02eb9-e224-490d-8278-fc30339d0744',
      peerId: '097386eb122aef609c748dae7967a851a1bf9f81ad66ff487daaab89fd831968a',
      parcelsStored: 2,
      file: '/tmp/somewhere',
    });
    expect(text).toBe('Cargo received  cargoId=adc02eb9-e224-490d-8278-fc30339d0744 parcelsStored=2');
  });

  test('a warning or an error is tagged and keeps every field, quoted when it has spaces', () => {
    expect(humanLogText('warn', 'Parcel refused', { parcelId: 'p1', reason: 'expired long ago', file: '/x' })).toBe(
      'WARN Parcel refused  parcelId=p1 reason="expired long ago" file=/x',
    );
    expect(humanLogText('error', 'Oops', { err: { code: 'E' } })).toBe('ERROR Oops  err={"code":"E"}');
    expect(humanLogText('info', 'Ready', {})).toBe('Ready');
  });

  test('lineLogger in the human format writes time, component and text', () => {
    const lines: string[] = [];
    lineLogger('user-gateway', { format: 'human', write: (line) => lines.push(line) }).info(
      { relayingGatewayId: '0bb6f5', parcelId: 'p9' },
      'Registered with the relaying gateway',
    );
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d user-gateway Registered with the relaying gateway {2}parcelId=p9\n$/);
  });

  test('a JSON line reads back into the record it was written from; other lines do not', () => {
    const lines: string[] = [];
    jsonLineLogger('relayer-gateway', (line) => lines.push(line)).warn({ cargoId: 'c1', n: 3 }, 'Cargo refused');
    const parsed = parseJsonLogLine(lines[0].trimEnd());
    expect(parsed).toMatchObject({
      level: 'warn',
      component: 'relayer-gateway',
      message: 'Cargo refused',
      fields: { cargoId: 'c1', n: 3 },
    });
    expect(Math.abs(parsed!.time.getTime() - Date.now())).toBeLessThan(60_000);
    for (const other of [
      'user-gateway: ready',
      '{not json',
      '{"msg":"no level"}',
      '[1,2]',
      '{"level":"info","msg":"x","time":"never"}',
    ]) {
      expect(parseJsonLogLine(other)).toBeNull();
    }
  });

  test('humanTime is the local time of day', () => {
    expect(humanTime(new Date('2026-12-07T14:03:09.500Z'))).toBe('14:03:09');
  });
});

describe('the log format', () => {
  test('human on a terminal, JSON otherwise; RELAYNET_LOG_FORMAT overrides', () => {
    expect(logFormatFor({ isTTY: true }, {})).toBe('human');
    expect(logFormatFor({}, {})).toBe('json');
    expect(logFormatFor({ isTTY: true }, { RELAYNET_LOG_FORMAT: 'json' })).toBe('json');
    expect(logFormatFor({}, { RELAYNET_LOG_FORMAT: ' Human ' })).toBe('human');
  });

  test('an unknown RELAYNET_LOG_FORMAT is said, not silently taken', () => {
    const lines: string[] = [];
    const env = { RELAYNET_LOG_FORMAT: 'pretty' };
    lineLogger('x', { write: (line) => lines.push(line), env }).info({}, 'hello');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/RELAYNET_LOG_FORMAT must be \\"human\\" or \\"json\\"; ignored/);
  });
});
