import {
  parseProcStatCpuMs,
  parseProcStatus,
  readCpuMsOfProcessesNamed,
  readProcessCpuMs,
  readProcessMemory,
  readThreadCpuMs,
} from './procfs';

test('parseProcStatus reads the name, VmRSS and VmHWM in KiB', () => {
  const status =
    'Name:\tnode\nUmask:\t0022\nVmPeak:\t 1000 kB\nVmHWM:\t   81234 kB\nVmRSS:\t   80000 kB\nThreads:\t11\n';
  expect(parseProcStatus(status)).toEqual({ name: 'node', rssKiB: 80_000, peakRssKiB: 81_234 });
});

test('parseProcStatus gives null without the memory lines (e.g. a zombie)', () => {
  expect(parseProcStatus('Name:\tnode\nState:\tZ (zombie)\n')).toBeNull();
});

const linux = process.platform === 'linux' ? test : test.skip;
linux('readProcessMemory of this process: a peak at least its current RSS', () => {
  const memory = readProcessMemory(process.pid)!;
  expect(memory.name).toBe('node');
  expect(memory.peakRssKiB).toBeGreaterThanOrEqual(memory.rssKiB);
  expect(memory.rssKiB * 1024).toBeGreaterThan(process.memoryUsage().heapUsed / 2);
});

test('readProcessMemory of a process that does not exist is null', () => {
  expect(readProcessMemory(2 ** 30)).toBeNull();
});

test('parseProcStatCpuMs adds utime and stime (fields 14 and 15), whatever the command name holds', () => {
  const rest = 'S 1 2 3 4 5 6 7 8 9 10 250 30 0 0 20 0 11 0 12345';
  expect(parseProcStatCpuMs(`4242 (node) ${rest}`)).toBe(2_800);
  expect(parseProcStatCpuMs(`4242 (a) b (c) ${rest}`)).toBe(2_800);
  expect(parseProcStatCpuMs('4242 (node) S 1')).toBeNull();
});

linux('readProcessCpuMs of this process grows as it computes', () => {
  const before = readProcessCpuMs(process.pid)!;
  const until = Date.now() + 100;
  while (Date.now() < until) Math.sqrt(Math.random());
  expect(readProcessCpuMs(process.pid)!).toBeGreaterThan(before);
  expect(readCpuMsOfProcessesNamed('no-such-command-name')).toBe(0);
});

linux('readThreadCpuMs: the main thread (tid = pid) is part of the process; an unknown thread is null', () => {
  const main = readThreadCpuMs(process.pid)!;
  expect(main).toBeGreaterThan(0);
  expect(readProcessCpuMs(process.pid)!).toBeGreaterThanOrEqual(main);
  expect(readThreadCpuMs(process.pid, 2 ** 30)).toBeNull();
});
