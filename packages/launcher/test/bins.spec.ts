/** Every executable works from any directory, and through a symlink (e.g. one in ~/bin). */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { REPO_ROOT } from '../src/layout';
import { onTerminal, stopAll } from '@twitter-relaynet/test-support';

const executables = ['bin', 'bin-dev'].flatMap((folder) =>
  readdirSync(join(REPO_ROOT, folder)).map((name) => join(REPO_ROOT, folder, name)),
);

let elsewhere: string;
beforeAll(() => (elsewhere = mkdtempSync(join(tmpdir(), 'elsewhere-'))));
afterAll(() => rmSync(elsewhere, { recursive: true, force: true }));
afterEach(stopAll);

test('there are the five executables and the developer tools', () => {
  const names = executables.map((path) => path.slice(REPO_ROOT.length + 1)).sort();
  expect(names).toEqual(
    expect.arrayContaining([
      'bin/relay',
      'bin/relayer-gateway',
      'bin/twitter-api-adapter',
      'bin/twitter-app',
      'bin/user-gateway',
    ]),
  );
  expect(names.filter((name) => name.startsWith('bin-dev/')).length).toBeGreaterThanOrEqual(5);
});

test.each(executables)('%s --help works from another directory and through a symlink', (path) => {
  const direct = spawnSync(path, ['--help'], { cwd: elsewhere, encoding: 'utf8' });
  expect(direct.stderr).toBe('');
  expect(direct.status).toBe(0);
  expect(direct.stdout).toMatch(/usage/i);
  const link = join(elsewhere, `link-${path.split('/').pop()}`);
  symlinkSync(path, link);
  const linked = spawnSync(link, ['--help'], { cwd: elsewhere, encoding: 'utf8' });
  expect(linked.status).toBe(0);
  expect(linked.stdout).toBe(direct.stdout);
});

test.each(['user-gateway', 'relayer-gateway', 'twitter-api-adapter', 'relay', 'twitter-app'])(
  'bin/%s --help documents its exit statuses, usage error included',
  (name) => {
    const help = spawnSync(join(REPO_ROOT, 'bin', name), ['--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/\nExit status:\n\s+0 +\S[^]*\n\s+1 +\S[^]*\n\s+2 +usage/);
  },
);

test('a daemon on a terminal logs human lines: time, name, message', async () => {
  const dataRoot = mkdtempSync(join(tmpdir(), 'human-logs-'));
  try {
    const environment = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => name !== 'RELAYNET_LOG_FORMAT'),
    );
    const daemon = onTerminal([join(REPO_ROOT, 'bin', 'user-gateway'), '--data-root', dataRoot], environment);
    await daemon.waitFor(/^user-gateway: ready\r?$/m);
    daemon.interrupt();
    expect(await daemon.done).toBe(0);
    expect(daemon.output).toMatch(/^\d\d:\d\d:\d\d user-gateway Identity key generated\r?$/m);
    expect(daemon.output).toMatch(
      /^\d\d:\d\d:\d\d user-gateway WARN Not registered with a relaying gateway yet: .* request=\S+/m,
    );
    expect(daemon.output).not.toMatch(/"level":/);
  } finally {
    rmSync(dataRoot, { recursive: true, force: true });
  }
});
