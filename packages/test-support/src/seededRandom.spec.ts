import { seededRandom } from './seededRandom';

test('the same seed gives the same numbers in [0, 1); another seed, others', () => {
  const take = (seed: number) => {
    const random = seededRandom(seed);
    return Array.from({ length: 50 }, () => random());
  };
  const first = take(91929);
  expect(take(91929)).toEqual(first);
  expect(take(91930)).not.toEqual(first);
  for (const value of first) {
    expect(value).toBeGreaterThanOrEqual(0);
    expect(value).toBeLessThan(1);
  }
});
