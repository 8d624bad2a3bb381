import { ManualClock, systemClock } from './clock';
import { jsonLineLogger, MemoryLogger, silentLogger } from './logging';

test('jsonLineLogger writes one JSON object per line with the component and fields', () => {
  const lines: string[] = [];
  const logger = jsonLineLogger('gateway', (line) => lines.push(line));
  logger.warn({ parcelId: 'p1' }, 'Parcel refused');
  expect(lines).toHaveLength(1);
  expect(lines[0].endsWith('\n')).toBe(true);
  expect(JSON.parse(lines[0])).toMatchObject({ level: 'warn', component: 'gateway', msg: 'Parcel refused', parcelId: 'p1' });
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
