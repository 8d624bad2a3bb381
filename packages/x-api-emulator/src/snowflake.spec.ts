import { SnowflakeGenerator, snowflakeFromTime, snowflakeTime } from './snowflake';

describe('snowflakes', () => {
  test('encode the time in the top bits', () => {
    const ms = Date.UTC(2026, 0, 1);
    expect(snowflakeTime(snowflakeFromTime(ms))).toBe(ms);
    expect(snowflakeFromTime(ms).toString()).toMatch(/^[0-9]{19}$/);
  });

  test('increase strictly even when the clock stands still or goes back', () => {
    const generator = new SnowflakeGenerator(0n);
    const ms = Date.UTC(2026, 0, 1);
    const a = generator.next(ms);
    const b = generator.next(ms);
    const c = generator.next(ms - 60_000);
    const d = generator.next(ms + 1);
    expect(b).toBe(a + 1n);
    expect(c).toBe(b + 1n);
    expect(d).toBeGreaterThan(c);
  });
});
