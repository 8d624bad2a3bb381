import { lstat, unlink } from 'node:fs/promises';
import { createConnection } from 'node:net';

/** Why a Unix socket path cannot be taken over. */
export type StaleSocketProblem = 'not a socket' | 'in use';

/**
 * Remove `socketPath` if it is a socket nobody listens on (left by a server that died), so a new server
 * can bind it; refuse to touch anything else. Every binding that listens on a Unix socket needs this, and
 * each reports the refusal with its own error class: `refuse` builds it.
 */
export async function removeStaleSocket(
  socketPath: string,
  refuse: (problem: StaleSocketProblem) => Error,
): Promise<void> {
  let stats;
  try {
    stats = await lstat(socketPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (!stats.isSocket()) throw refuse('not a socket');
  const live = await new Promise<boolean>((resolve) => {
    const probe = createConnection(socketPath);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (live) throw refuse('in use');
  await unlink(socketPath);
}
