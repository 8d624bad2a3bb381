import { DAEMON_EXIT, DAEMON_HELP_FOOTER } from '@twitter-relaynet/config';

import { daemonCommand, daemonMain, parseDaemonCommandLine } from './command';

class BadSettingError extends Error {}

function parse(argv: readonly string[], resolve = (flags: { port?: string }) => ({ port: Number(flags.port ?? 1) })) {
  const out = { stdout: '', stderr: '' };
  const io = { stdout: (s: string) => (out.stdout += s), stderr: (s: string) => (out.stderr += s) };
  const command = daemonCommand('demo-daemon', 'A daemon for tests', 'Variables: none', io).option(
    '--port <n>',
    'a port',
  );
  const result = parseDaemonCommandLine({
    command,
    argv: ['node', 'demo-daemon', ...argv],
    io,
    resolve,
    usageErrors: [BadSettingError],
  });
  return { result, ...out };
}

test('the configuration when the command line is good', () => {
  expect(parse(['--port', '7'])).toEqual({ result: { port: 7 }, stdout: '', stderr: '' });
});

test('--help prints the daemon help with the shared footer and exits 0', () => {
  const { result, stdout } = parse(['--help']);
  expect(result).toBe(DAEMON_EXIT.OK);
  expect(stdout).toContain('A daemon for tests');
  expect(stdout).toContain('Variables: none');
  expect(stdout).toContain(DAEMON_HELP_FOOTER.split('\n')[0]);
});

test('unknown flags, stray arguments and bad settings are usage errors (2) naming the daemon', () => {
  expect(parse(['--nope'])).toMatchObject({
    result: DAEMON_EXIT.USAGE,
    stderr: "demo-daemon: unknown option '--nope' (see demo-daemon --help)\n",
  });
  expect(parse(['stray']).result).toBe(DAEMON_EXIT.USAGE);
  const bad = parse([], () => {
    throw new BadSettingError('--port must be a number');
  });
  expect(bad).toMatchObject({
    result: DAEMON_EXIT.USAGE,
    stderr: 'demo-daemon: --port must be a number (see demo-daemon --help)\n',
  });
});

test('any other error is not the user mistake: it is thrown', () => {
  expect(() =>
    parse([], () => {
      throw new RangeError('bug');
    }),
  ).toThrow('bug');
});

test('daemonMain: the configuration, logs on stderr and the banner on stdout go to the daemon it starts', async () => {
  let stdout = '';
  let stderr = '';
  const io = { stdout: (s: string) => void (stdout += s), stderr: (s: string) => void (stderr += s) };
  const started: string[] = [];
  const main = daemonMain({
    makeCommand: (out) => daemonCommand('demo-daemon', 'A daemon for tests', '', out).option('--port <n>', 'a port'),
    resolve: (flags: { port?: string }, env) => ({ port: Number(flags.port ?? env.DEMO_PORT) }),
    usageErrors: [BadSettingError],
    create: (config, { logger, print }) => ({
      start: async () => {
        print(`port ${config.port}`);
        logger.info({}, 'started');
        started.push('start');
      },
      stop: async () => undefined,
    }),
  });
  const daemon = await main(['node', 'demo-daemon'], { DEMO_PORT: '9' }, io);
  expect(typeof daemon).toBe('object');
  expect(started).toEqual(['start']);
  expect(stdout).toBe('port 9\n');
  expect(JSON.parse(stderr)).toMatchObject({ component: 'demo-daemon', level: 'info', msg: 'started' });
  await expect(main(['node', 'demo-daemon', '--help'], {}, io)).resolves.toBe(DAEMON_EXIT.OK);
  expect(started).toEqual(['start']);
});
