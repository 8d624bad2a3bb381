import { IdleCollector } from './idleCollector';

const MIB = 1024 * 1024;
const quiet = (mib: number) => ({ utilization: 0, arrayBufferBytes: mib * MIB });
const busy = (mib: number) => ({ utilization: 0.5, arrayBufferBytes: mib * MIB });

test('collects once a busy daemon goes quiet holding Buffers, then not again until it has worked', () => {
  const collector = new IdleCollector({ minArrayBufferBytes: 16 * MIB });
  expect(collector.check(busy(80))).toBe(false);
  expect(collector.check(quiet(60))).toBe(true);
  // Still above the threshold (live Buffers): one collection per quiet spell, not one per check.
  expect(collector.check(quiet(40))).toBe(false);
  expect(collector.check(quiet(40))).toBe(false);
  expect(collector.check(busy(90))).toBe(false);
  expect(collector.check(quiet(50))).toBe(true);
});

test('leaves a quiet daemon with few Buffers alone', () => {
  const collector = new IdleCollector({ minArrayBufferBytes: 16 * MIB });
  expect(collector.check(quiet(2))).toBe(false);
  expect(collector.check(quiet(15))).toBe(false);
  expect(collector.check(quiet(16))).toBe(true);
});

test('a daemon busier than the threshold is not quiet', () => {
  const collector = new IdleCollector({ maxUtilization: 0.02 });
  expect(collector.check({ utilization: 0.03, arrayBufferBytes: 100 * MIB })).toBe(false);
  expect(collector.check({ utilization: 0.02, arrayBufferBytes: 100 * MIB })).toBe(true);
});
