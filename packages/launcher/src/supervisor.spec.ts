import { Supervisor } from './supervisor';

const node = (script: string) => ({ command: process.execPath, args: ['-e', script] });
function waitForLines(lines: string[], suffix: string, count: number): Promise<void> {
  return new Promise((resolve) => {
    const check = setInterval(() => {
      if (lines.filter((line) => line.endsWith(suffix)).length >= count) {
        clearInterval(check);
        resolve();
      }
    }, 20);
  });
}

const LONG_RUNNING =
  "process.on('SIGTERM', () => { console.log('bye'); process.exit(0); }); console.log('up'); setInterval(() => {}, 1000);";

test('prefixes every line with the process name', async () => {
  const lines: string[] = [];
  const supervisor = new Supervisor(
    [
      { name: 'a', ...node("console.log('one'); console.error('two')") },
      { name: 'longer', ...node(LONG_RUNNING) },
    ],
    { write: (line) => lines.push(line) },
  );
  const result = await supervisor.start();
  expect(lines).toEqual(expect.arrayContaining(['a      | one\n', 'a      | two\n']));
  // "a" exited by itself, so the other was stopped and the result names "a".
  // The start() promise resolving at all means "longer" was stopped too.
  expect(result).toEqual({ exitCode: 1, firstExit: { name: 'a', code: 0, signal: null } });
});

test('when one process dies the others are stopped and the exit status says which', async () => {
  const lines: string[] = [];
  const supervisor = new Supervisor(
    [
      { name: 'steady', ...node(LONG_RUNNING) },
      { name: 'crasher', ...node('setTimeout(() => process.exit(3), 300)') },
    ],
    { write: (line) => lines.push(line) },
  );
  const result = await supervisor.start();
  expect(result.firstExit).toEqual({ name: 'crasher', code: 3, signal: null });
  expect(result.exitCode).toBe(1);
  expect(lines).toContain('crasher exited (code 3): stopping the others\n');
});

test('stop() ends every process cleanly, with exit status 0', async () => {
  const lines: string[] = [];
  const supervisor = new Supervisor(
    [
      { name: 'one', ...node(LONG_RUNNING) },
      { name: 'two', ...node(LONG_RUNNING) },
    ],
    { write: (line) => lines.push(line) },
  );
  const done = supervisor.start();
  await waitForLines(lines, '| up\n', 2);
  supervisor.stop();
  await expect(done).resolves.toEqual({ exitCode: 0, firstExit: null });
});

test('a process that ignores SIGTERM is killed after the timeout', async () => {
  const lines: string[] = [];
  const supervisor = new Supervisor(
    [
      {
        name: 'stubborn',
        ...node(
          "process.on('SIGTERM', () => console.log('ignoring')); console.log('up'); setInterval(() => {}, 1000);",
        ),
      },
    ],
    // Long enough for a busy machine to schedule the child and let it print that it ignores SIGTERM.
    { write: (line) => lines.push(line), stopTimeoutMs: 2_000 },
  );
  const done = supervisor.start();
  await waitForLines(lines, '| up\n', 1);
  supervisor.stop();
  await expect(done).resolves.toEqual({ exitCode: 0, firstExit: null });
  expect(lines).toContain('stubborn | ignoring\n');
});

test('a process starts only once the one before it is ready, with the arguments its prepare gave', async () => {
  const lines: string[] = [];
  let releaseFirst!: () => void;
  const firstReady = new Promise<void>((resolve) => (releaseFirst = resolve));
  const supervisor = new Supervisor(
    [
      { name: 'first', ...node(LONG_RUNNING), ready: () => firstReady },
      {
        name: 'second',
        command: process.execPath,
        args: ['-e', `console.log('args', process.argv.slice(1).join(' ')); ${LONG_RUNNING}`, '--'],
        prepare: async () => ['--given', 'x'],
      },
    ],
    { write: (line) => lines.push(line) },
  );
  const done = supervisor.start();
  await waitForLines(lines, '| up\n', 1);
  expect(lines.some((line) => line.startsWith('second'))).toBe(false);
  releaseFirst();
  await waitForLines(lines, '| up\n', 2);
  expect(lines).toContain('second | args --given x\n');
  expect(lines.findIndex((line) => line.startsWith('second'))).toBeGreaterThan(lines.indexOf('first  | up\n'));
  supervisor.stop();
  await expect(done).resolves.toEqual({ exitCode: 0, firstExit: null });
});

test('a process that does not become ready: the others are stopped, the later ones never started, and the result says why', async () => {
  const lines: string[] = [];
  const supervisor = new Supervisor(
    [
      { name: 'first', ...node(LONG_RUNNING), ready: async () => Promise.reject(new Error('nothing published')) },
      { name: 'second', ...node(LONG_RUNNING) },
    ],
    { write: (line) => lines.push(line) },
  );
  const result = await supervisor.start();
  expect(result).toEqual({
    exitCode: 1,
    firstExit: { name: 'first', code: null, signal: null, error: 'nothing published' },
  });
  expect(lines).toContain('first: nothing published: stopping the others\n');
  expect(lines.some((line) => line.startsWith('second'))).toBe(false);
});
