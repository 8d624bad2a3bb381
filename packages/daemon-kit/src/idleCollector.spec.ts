import { BufferGrowthCollector, IdleCollector, startBufferCollector } from './idleCollector';

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

test('collects once Buffers grew by the threshold since the last collection, measured from what it left', () => {
  const collector = new BufferGrowthCollector(24 * MIB);
  expect(collector.check(10 * MIB)).toBe(false);
  expect(collector.check(23 * MIB)).toBe(false);
  expect(collector.check(24 * MIB)).toBe(true);
  // 40 MiB live after the collection: the next one only after 24 MiB more, not at every check.
  collector.collected(40 * MIB);
  expect(collector.check(50 * MIB)).toBe(false);
  expect(collector.check(63 * MIB)).toBe(false);
  expect(collector.check(64 * MIB)).toBe(true);
  collector.collected(8 * MIB);
  expect(collector.check(31 * MIB)).toBe(false);
  expect(collector.check(32 * MIB)).toBe(true);
});

test("a collection of V8's own lowers the level growth is measured from", () => {
  const collector = new BufferGrowthCollector(24 * MIB);
  collector.collected(40 * MIB);
  expect(collector.check(5 * MIB)).toBe(false); // V8 collected meanwhile
  expect(collector.check(28 * MIB)).toBe(false);
  expect(collector.check(29 * MIB)).toBe(true);
});

test('the running collector collects while the process stays busy, once Buffers grew', async () => {
  let collections = 0;
  const collector = startBufferCollector(() => {
    collections += 1;
  }, 4 * MIB);
  try {
    // The first check may collect at once (whatever Buffers the test process holds): growth counts from there.
    const before = collections;
    const kept: Buffer[] = [];
    // Live Buffers, so that the level really grows; the process never goes quiet (a turn every few ms).
    while (collections === before && kept.length < 200) {
      kept.push(Buffer.alloc(MIB, 1));
      await new Promise<void>((resolve) => setTimeout(resolve, 5));
    }
    expect(collections).toBe(before + 1);
    expect(kept.length).toBeGreaterThanOrEqual(4);
  } finally {
    collector.stop();
  }
});
