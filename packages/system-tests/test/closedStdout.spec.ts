/**
 * Every executable whose reader closes its stdout (`relay --help | head -1`) carries on without a stack trace:
 * Node ignores SIGPIPE, so an unhandled EPIPE would crash it half-way through its work.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

import { buildExecutables, REPO } from './world';

beforeAll(() => buildExecutables('packages/twitter-app', 'packages/twitter-api-adapter'));

test.each(['relay', 'twitter-app', 'user-gateway', 'relayer-gateway', 'twitter-api-adapter'])(
  '%s --help into a closed pipe exits 0, with nothing on stderr',
  async (name) => {
    const child = spawn(join(REPO, 'bin', name), ['--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    // Closed before node in the child has even started, so its help text meets a pipe nobody reads.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) =>
      child.once('error', reject).once('close', (c, s) => resolve([c, s])),
    );
    expect({ code, signal, stderr }).toEqual({ code: 0, signal: null, stderr: '' });
  },
);
