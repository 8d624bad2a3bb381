/** `npm start` as a child process: usage, and what happens when one of its processes dies. */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { REPO_ROOT } from '../src/layout';

jest.setTimeout(60_000);

const START = join(REPO_ROOT, 'packages', 'launcher', 'dist', 'bin', 'start.js');

function start(args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [START, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, out, err }));
  });
}

let dataRoot: string;
let env: NodeJS.ProcessEnv;
beforeEach(() => {
  dataRoot = mkdtempSync(join(tmpdir(), 'start-'));
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('TWITTER_')));
  env = {
    ...inherited,
    RELAYNET_DATA_ROOT: dataRoot,
    TWITTER_API_ADAPTER_ENV_FILE: join(dataRoot, 'none.env'),
    RELAYER_GATEWAY_POGRPC_ADDRESS: '127.0.0.1:0',
    TWITTER_API_ADAPTER_POGRPC_ADDRESS: '127.0.0.1:0',
  };
});
afterEach(() => rmSync(dataRoot, { recursive: true, force: true }));

test('--help says what runs and documents the exit status', async () => {
  const result = await start(['--help'], env);
  expect(result.status).toBe(0);
  expect(result.out).toMatch(/user-gateway, relayer-gateway, twitter-api-adapter/);
  expect(result.out).toMatch(/Exit status: 0 when stopped with Ctrl-C/);
});

test.each([
  [['--colour'], {}, 'start: unknown or incomplete argument "--colour" (see npm start -- --help)\n'],
  [['--data-root'], {}, 'start: unknown or incomplete argument "--data-root" (see npm start -- --help)\n'],
  [[], { X_API_EMULATOR_PORT: 'eighty' }, 'start: X_API_EMULATOR_PORT must be a TCP port between 1 and 65535 (got "eighty")\n'],
])('%j %j → usage error, exit 2', async (args, extraEnv, message) => {
  const result = await start(args, { ...env, ...extraEnv });
  expect(result.status).toBe(2);
  expect(result.err).toBe(message);
});

test('when one process dies (the emulator cannot have its port) the others are stopped and the exit status says which', async () => {
  const blocker: Server = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const { port } = blocker.address() as { port: number };
  try {
    const result = await start([], { ...env, X_API_EMULATOR_PORT: String(port) });
    expect(result.status).toBe(1);
    expect(result.err).toMatch(/^start: x-api-emulator exited \(code \d+\), so everything was stopped$/m);
    expect(result.out).toMatch(/^x-api-emulator exited \(code \d+\): stopping the others$/m);
    expect(result.out).toMatch(new RegExp(`Data root: ${dataRoot}`));
  } finally {
    blocker.close();
  }
});
