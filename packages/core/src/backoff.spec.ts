import { backoffDelay } from './backoff';

describe('backoffDelay', () => {
  test('doubles from one second up to five minutes by default', () => {
    expect([1, 2, 3, 9, 10, 100].map((n) => backoffDelay(n))).toEqual([1_000, 2_000, 4_000, 256_000, 300_000, 300_000]);
  });

  test('grows by the factor from the initial delay up to the cap', () => {
    const options = { initialDelayMs: 5_000, maxDelayMs: 60_000, factor: 3 };
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, options))).toEqual([5_000, 15_000, 45_000, 60_000]);
  });

  test('treats a count below one as the first failure', () => {
    expect(backoffDelay(0, { initialDelayMs: 700 })).toBe(700);
    expect(backoffDelay(-3, { initialDelayMs: 700 })).toBe(700);
  });

  test('stays at the cap however many failures there were', () => {
    expect(backoffDelay(1_000_000, { maxDelayMs: 60_000 })).toBe(60_000);
    expect(backoffDelay(1_000_000, { initialDelayMs: 0 })).toBe(0);
  });

  test('spreads the delay by at most the jitter fraction either way', () => {
    const options = { initialDelayMs: 1_000, jitter: 0.2 };
    expect(backoffDelay(1, options, () => 1)).toBe(1_200);
    expect(backoffDelay(1, options, () => 0)).toBe(800);
    expect(backoffDelay(1, options, () => 0.5)).toBe(1_000);
    for (let i = 0; i < 100; i++) {
      const delay = backoffDelay(3, options);
      expect(delay).toBeGreaterThanOrEqual(3_200);
      expect(delay).toBeLessThanOrEqual(4_800);
    }
  });

  test('refuses options that make no sense', () => {
    expect(() => backoffDelay(1, { initialDelayMs: -1 })).toThrow(RangeError);
    expect(() => backoffDelay(1, { maxDelayMs: Number.NaN })).toThrow(RangeError);
    expect(() => backoffDelay(1, { factor: 0.5 })).toThrow(/factor/);
    expect(() => backoffDelay(1, { jitter: 2 })).toThrow(/jitter/);
  });
});
