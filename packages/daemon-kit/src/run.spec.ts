import { EventEmitter } from 'node:events';

import { waitFor } from '@twitter-relaynet/test-support';

import { runDaemon, type DaemonMain } from './run';

function fakeProcess() {
  const emitter = new EventEmitter();
  const exits: number[] = [];
  const host = {
    argv: ['node', 'demo', '--flag'],
    env: { DEMO: '1' },
    on: (signal: 'SIGINT' | 'SIGTERM', listener: (signal: NodeJS.Signals) => void) =>
      emitter.on(signal, () => listener(signal)),
    exit: (code: number) => void exits.push(code),
    signal: (signal: 'SIGINT' | 'SIGTERM') => emitter.emit(signal),
  };
  let stderr = '';
  const io = { stdout: () => undefined, stderr: (s: string) => void (stderr += s) };
  return { host, exits, io, stderr: () => stderr };
}

test('starts with argv and env; a signal stops the daemon and exits 0; a second one exits at once', async () => {
  const fake = fakeProcess();
  let finishStop: () => void = () => undefined;
  const stop = jest.fn(() => new Promise<void>((resolve) => (finishStop = resolve)));
  const main = jest.fn<ReturnType<DaemonMain>, Parameters<DaemonMain>>(async () => ({ stop }));
  runDaemon('demo', main, { process: fake.host, io: fake.io });
  expect(main).toHaveBeenCalledWith(fake.host.argv, fake.host.env, fake.io);
  await main.mock.results[0].value; // runDaemon's own continuation on it ran first: the daemon is running
  fake.host.signal('SIGTERM');
  expect(stop).toHaveBeenCalledTimes(1);
  expect(fake.stderr()).toBe('demo: SIGTERM: shutting down\n');
  fake.host.signal('SIGINT');
  expect(fake.exits).toEqual([130]);
  finishStop();
  await waitFor('the clean exit', () => fake.exits.length === 2);
  expect(fake.exits).toEqual([130, 0]);
});

test('a signal before the daemon runs exits at once (143 for SIGTERM)', () => {
  const fake = fakeProcess();
  runDaemon('demo', () => new Promise(() => undefined), { process: fake.host, io: fake.io });
  fake.host.signal('SIGTERM');
  expect(fake.exits).toEqual([143]);
});

test('help or usage errors exit with the status main gives; a failed start or shutdown exits 1', async () => {
  const usage = fakeProcess();
  runDaemon('demo', async () => 2, { process: usage.host, io: usage.io });
  await waitFor('the usage exit', () => usage.exits.length > 0);
  expect(usage.exits).toEqual([2]);

  const failed = fakeProcess();
  runDaemon('demo', async () => Promise.reject(new Error('port in use')), { process: failed.host, io: failed.io });
  await waitFor('the failed start', () => failed.exits.length > 0);
  expect(failed.exits).toEqual([1]);
  expect(failed.stderr()).toMatch(/^demo: could not start: Error: port in use/);

  const shutdown = fakeProcess();
  const started = Promise.resolve({ stop: () => Promise.reject(new Error('stuck')) });
  runDaemon('demo', () => started, { process: shutdown.host, io: shutdown.io });
  await started;
  shutdown.host.signal('SIGINT');
  await waitFor('the failed shutdown', () => shutdown.exits.length > 0);
  expect(shutdown.exits).toEqual([1]);
  expect(shutdown.stderr()).toContain('demo: shutdown failed: Error: stuck');
});
