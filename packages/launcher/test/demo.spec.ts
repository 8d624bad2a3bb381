/** `npm run demo`, as CI runs it: the whole round trip, narrated, exits 0 only when both directions worked. */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { runProcess } from '@twitter-relaynet/test-support';

import { REPO_ROOT } from '../src/layout';

jest.setTimeout(240_000);

test("npm run demo carries a tweet to the emulator and a followed account's tweet to the app, then exits 0", async () => {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('TWITTER_')));
  const result = await new Promise<{ status: number | null; output: string }>((resolve, reject) => {
    const child = spawn('npm', ['run', '--silent', 'demo'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, output }));
  });
  if (result.status !== 0) throw new Error(`npm run demo exited ${result.status}:\n${result.output}`);
  expect(result.output).toMatch(/^1\. Start the system/m);
  expect(result.output).toMatch(/The emulator has it: tweet \d+ by @relaynet_user/);
  expect(result.output).toMatch(
    /posted "Hello from the sneakernet! \(demo [\d:]+ UTC\)": https:\/\/x\.com\/relaynet_user\/status\/\d+/,
  );
  expect(result.output).toMatch(/@awala_news\) · .*\n +News for the offline world/);
  expect(result.output).toMatch(/Tweets: 0 queued in the app, 0 with the user gateway, 1 confirmed, 0 failed/);
  // The temporary data root is removed after a successful demo.
  const root = /in (\/\S+twitter-relaynet-demo-\S+)\n/.exec(result.output)?.[1];
  expect(root).toBeDefined();
  expect(existsSync(root!)).toBe(false);
});

test('npm run demo -- --help explains it and its exit status; a bad argument is a usage error', async () => {
  const run = async (args: string[]) => {
    const { status, stdout, stderr } = await runProcess(
      process.execPath,
      [join(REPO_ROOT, 'packages/launcher/dist/bin/demo.js'), ...args],
      { cwd: process.cwd() },
    );
    return { status, out: stdout, err: stderr };
  };
  const help = await run(['--help']);
  expect(help.status).toBe(0);
  expect(help.out).toMatch(/Exit status: 0 when the tweet reached the emulator/);
  const bad = await run(['--timeout', 'soon']);
  expect(bad.status).toBe(2);
  expect(bad.err).toBe('demo: --timeout needs a whole number of seconds (got "soon") (see npm run demo -- --help)\n');
});
