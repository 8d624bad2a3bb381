/**
 * `npm start` as a child process: usage, what happens when one of its processes dies, how it shows the daemons'
 * logs on a terminal (a real pseudo-terminal, through util-linux's script), and a second start.
 */
import { spawn } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { runProcess } from '@twitter-relaynet/test-support';

import { freePort } from '../src/demo';
import { REPO_ROOT } from '../src/layout';
import { onTerminal, Running, stopAll } from '@twitter-relaynet/test-support';

jest.setTimeout(60_000);

const START = join(REPO_ROOT, 'packages', 'launcher', 'dist', 'bin', 'start.js');

async function start(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ status: number | null; out: string; err: string }> {
  const { status, stdout, stderr } = await runProcess(process.execPath, [START, ...args], { env, cwd: process.cwd() });
  return { status, out: stdout, err: stderr };
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
    RELAYER_GATEWAY_COGRPC_ADDRESS: '127.0.0.1:0',
    TWITTER_API_ADAPTER_POGRPC_ADDRESS: '127.0.0.1:0',
  };
});
afterEach(async () => {
  await stopAll();
  rmSync(dataRoot, { recursive: true, force: true });
});

test('--help says what runs and documents the exit status', async () => {
  const result = await start(['--help'], env);
  expect(result.status).toBe(0);
  expect(result.out).toMatch(/user-gateway, relayer-gateway, twitter-api-adapter/);
  expect(result.out).toMatch(/Exit status: 0 when stopped with Ctrl-C/);
});

test.each([
  [['--colour'], {}, 'start: unknown or incomplete argument "--colour" (see npm start -- --help)\n'],
  [['--data-root'], {}, 'start: unknown or incomplete argument "--data-root" (see npm start -- --help)\n'],
  [
    [],
    { X_API_EMULATOR_PORT: 'eighty' },
    'start: X_API_EMULATOR_PORT must be a TCP port between 1 and 65535 (got "eighty")\n',
  ],
  [['--log-format', 'pretty'], {}, 'start: --log-format must be human or json (got "pretty")\n'],
  [['--log-format'], {}, 'start: --log-format must be human or json (got "")\n'],
  [['--side', 'moon'], {}, 'start: --side must be all, user, internet (got "moon")\n'],
])('%j %j → usage error, exit 2', async (args, extraEnv, message) => {
  const result = await start(args, { ...env, ...extraEnv });
  expect(result.status).toBe(2);
  expect(result.err).toBe(message);
});

test('when one process dies (the relaying gateway cannot have its port) the others are stopped and the exit status says which', async () => {
  const blocker: Server = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const { port } = blocker.address() as { port: number };
  try {
    // The emulator's port is one that npm start checks before starting anything (a second start); this one is not.
    const result = await start([], {
      ...env,
      X_API_EMULATOR_PORT: String(await freePort()),
      RELAYER_GATEWAY_POGRPC_ADDRESS: `127.0.0.1:${port}`,
    });
    expect(result.status).toBe(1);
    expect(result.err).toMatch(/^start: relayer-gateway exited \(code \d+\), so everything was stopped$/m);
    expect(result.out).toMatch(/^relayer-gateway exited \(code \d+\): stopping the others$/m);
    expect(result.out).toMatch(new RegExp(`Data root: ${dataRoot}`));
  } finally {
    blocker.close();
  }
});

function startOnTerminal(args: string[], env: NodeJS.ProcessEnv): Running {
  return onTerminal(['node', START, ...args], env);
}

const HUMAN_REGISTERED = /^\d\d:\d\d:\d\d user-gateway +\| Registered with the relaying gateway\r?$/m;

test("on a terminal the daemons' logs are human lines (time, process, message), and Ctrl-C stops it all", async () => {
  const running = startOnTerminal([], { ...env, X_API_EMULATOR_PORT: String(await freePort()) });
  await running.waitFor(HUMAN_REGISTERED);
  running.interrupt();
  expect(await running.done).toBe(0);
  expect(running.output).toMatch(/^All stopped\.\r?$/m);
  // Banner lines too: the time, and the process name said once.
  expect(running.output).toMatch(/^\d\d:\d\d:\d\d user-gateway +\| ready\r?$/m);
  expect(running.output).not.toMatch(/"level":/);
});

test("npm start wires the daemons by configuration: the adapter gets the relaying gateway's address and certificate, the relaying gateway an address book with the adapter's; CogRPC is on and its address and fingerprint are printed", async () => {
  const running = new Running(
    spawn(process.execPath, [START, '--log-format', 'human'], {
      env: { ...env, X_API_EMULATOR_PORT: String(await freePort()) },
    }),
  );
  try {
    await running.waitFor(HUMAN_REGISTERED);
    const relayer = JSON.parse(readFileSync(join(dataRoot, 'relayer-gateway', 'pogrpc.json'), 'utf8'));
    const cogrpc = JSON.parse(readFileSync(join(dataRoot, 'relayer-gateway', 'cogrpc.json'), 'utf8'));
    const adapter = JSON.parse(readFileSync(join(dataRoot, 'twitter-api-adapter', 'pogrpc.json'), 'utf8'));
    const sha256 = (pem: string) => createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');
    expect(running.output).toMatch(
      new RegExp(
        `^CogRPC for couriers: ${cogrpc.address} \\(TLS certificate SHA-256 ${sha256(cogrpc.tlsCertificatePem)}\\)$`,
        'm',
      ),
    );
    expect(cogrpc.address).toMatch(/^127\.0\.0\.1:\d+$/);
    const launcher = join(dataRoot, 'launcher');
    expect(running.output).toContain(
      `relaying gateway (replies): ${relayer.address} (TLS certificate SHA-256 ${sha256(relayer.tlsCertificatePem)} from ${join(launcher, 'relayer-gateway-pogrpc.pem')})`,
    );
    expect(JSON.parse(readFileSync(join(launcher, 'address-book.json'), 'utf8'))).toEqual({
      'twitter-api-adapter.relaynet.local': {
        address: adapter.address,
        tlsCertificatePath: join(launcher, 'twitter-api-adapter-pogrpc.pem'),
      },
    });
    expect(readFileSync(join(launcher, 'twitter-api-adapter-pogrpc.pem'), 'utf8')).toBe(adapter.tlsCertificatePem);
  } finally {
    running.interrupt();
  }
  expect(await running.done).toBe(0);
});

test("a CogRPC port in use (another system's, say): npm start says so and starts nothing", async () => {
  const blocker: Server = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const { port } = blocker.address() as { port: number };
  try {
    const result = await start([], {
      ...env,
      X_API_EMULATOR_PORT: String(await freePort()),
      RELAYER_GATEWAY_COGRPC_ADDRESS: `127.0.0.1:${port}`,
    });
    expect(result.status).toBe(3);
    expect(result.out).toBe('');
    expect(result.err).toMatch(
      new RegExp(`^  port 127\\.0\\.0\\.1:${port} \\(the relaying gateway's CogRPC server\\) is in use`, 'm'),
    );
    expect(result.err).toContain('RELAYER_GATEWAY_COGRPC_ADDRESS');
  } finally {
    blocker.close();
  }
});

test('a second npm start while one runs says the system is running already, which port and process, and starts nothing', async () => {
  const port = await freePort();
  const startEnv = { ...env, X_API_EMULATOR_PORT: String(port) };
  // Through a pipe, with the terminal's format asked for by the flag.
  const first = new Running(spawn(process.execPath, [START, '--log-format', 'human'], { env: startEnv }));
  try {
    await first.waitFor(HUMAN_REGISTERED);
    expect(first.output).not.toMatch(/"level":/);

    const second = await start([], startEnv);
    expect(second.status).toBe(3);
    expect(second.out).toBe('');
    expect(second.err).toMatch(
      /^start: the system seems to be running already \(another npm start\?\), so nothing was started:$/m,
    );
    expect(second.err).toMatch(
      new RegExp(
        `^  port 127\\.0\\.0\\.1:${port} \\(the X API emulator\\) is in use by process \\d+: .*x-api-emulator\\.js --port ${port}`,
        'm',
      ),
    );
    expect(second.err).toContain(
      `${join(dataRoot, 'user-gateway', 'powebsocket.sock')} (the user gateway) is in use by process`,
    );
    expect(second.err).toMatch(/Ctrl-C in its terminal, or kill \d+/);
    // The first one did not notice.
    expect(first.output).not.toMatch(/exited/);
  } finally {
    first.interrupt();
  }
  expect(await first.done).toBe(0);
});
