/**
 * One relay run at a time per flashdrive. Two runs at once would each carry the same cargo (and each
 * collect with a spare CCA, making the gateway hand out duplicate cargo), so a run holds
 * `<flashdrive>/.relay.lock` from start to end.
 *
 * The lock is a file created exclusively (O_EXCL works on the FAT filesystems of flashdrives, unlike
 * hard links or flock), holding who took it. A run that was killed leaves it behind; the next run takes
 * it over when its holder is gone: a process of this computer that no longer exists, or a lock whose
 * holder stopped refreshing its modification time (every HEARTBEAT_MS) more than STALE_AFTER_MS ago,
 * which also covers a lock left by another computer and a pid since reused.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { open, readFile, rename, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';

import { RelayError } from './errors';

export const LOCK_NAME = '.relay.lock';
export const HEARTBEAT_MS = 15_000;
export const STALE_AFTER_MS = 120_000;

export interface LockHolder {
  readonly pid: number;
  readonly hostname: string;
  /** ISO date the run took the lock. */
  readonly since: string;
  /** Tells two takings by the same pid apart. */
  readonly token: string;
}

/** Another run holds the flashdrive. */
export class FlashdriveLockedError extends RelayError {
  public constructor(
    public readonly lockPath: string,
    public readonly holder: LockHolder | null,
  ) {
    const who = holder
      ? `a relay run (pid ${holder.pid}${holder.hostname === hostname() ? ' on this computer' : ` on ${holder.hostname}`}, ` +
        `since ${holder.since})`
      : 'another relay run';
    super(
      `${who} is using this flashdrive; wait for it to finish (two runs at once would carry the same cargo ` +
        `twice). If no relay is running, delete ${lockPath}`,
    );
  }
}

export interface FlashdriveLock {
  readonly path: string;
  release(): Promise<void>;
}

export interface LockOptions {
  readonly staleAfterMs?: number;
  readonly heartbeatMs?: number;
  /** Told when a stale lock is taken over. */
  readonly onStale?: (holder: LockHolder | null) => void;
}

/** Take the lock of the flashdrive folder `dir`; throws FlashdriveLockedError if a live run holds it. */
export async function lockFlashdrive(dir: string, options: LockOptions = {}): Promise<FlashdriveLock> {
  const path = join(dir, LOCK_NAME);
  const me: LockHolder = {
    pid: process.pid,
    hostname: hostname(),
    since: new Date().toISOString(),
    token: randomUUID(),
  };
  const content = `${JSON.stringify(me)}\n`;
  // Three attempts: a stale lock is moved away between them; losing each race to a live run ends with it.
  for (let attempt = 0; attempt < 3; attempt++) {
    let handle;
    try {
      handle = await open(path, 'wx', 0o644);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const seen = await readLock(path);
      if (!seen) continue; // gone meanwhile
      if (!isStale(seen, options.staleAfterMs ?? STALE_AFTER_MS)) throw new FlashdriveLockedError(path, seen.holder);
      if (await moveAwayIfUnchanged(path, seen.raw)) options.onStale?.(seen.holder);
      continue;
    }
    try {
      await handle.writeFile(content);
      await handle.sync();
    } catch (error) {
      // e.g. a full flashdrive: an empty lock left behind would hold up the next run for STALE_AFTER_MS.
      await handle.close().catch(() => undefined);
      await rm(path, { force: true }).catch(() => undefined);
      throw error;
    }
    await handle.close();
    const heartbeat = setInterval(() => {
      const now = new Date();
      void utimes(path, now, now).catch(() => undefined); // a yanked flashdrive: nothing to keep alive
    }, options.heartbeatMs ?? HEARTBEAT_MS);
    heartbeat.unref();
    return {
      path,
      async release() {
        clearInterval(heartbeat);
        // Only our own: if a run took it over (we looked dead), it is theirs now.
        const current = await readFile(path, 'utf8').catch(() => null);
        if (current === content) await rm(path, { force: true });
      },
    };
  }
  throw new FlashdriveLockedError(path, (await readLock(path))?.holder ?? null);
}

interface SeenLock {
  readonly raw: string;
  /** null: unreadable (e.g. a run killed between creating and writing it). */
  readonly holder: LockHolder | null;
  readonly modifiedMs: number;
}

async function readLock(path: string): Promise<SeenLock | null> {
  try {
    const [raw, stats] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    return { raw, holder: parseHolder(raw), modifiedMs: stats.mtimeMs };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

function parseHolder(raw: string): LockHolder | null {
  try {
    const value = JSON.parse(raw) as Partial<LockHolder>;
    if (typeof value.pid !== 'number' || typeof value.hostname !== 'string' || typeof value.since !== 'string')
      return null;
    return { pid: value.pid, hostname: value.hostname, since: value.since, token: String(value.token ?? '') };
  } catch {
    return null;
  }
}

function isStale(seen: SeenLock, staleAfterMs: number): boolean {
  if (Date.now() - seen.modifiedMs > staleAfterMs) return true;
  const { holder } = seen;
  return holder !== null && holder.hostname === hostname() && !processExists(holder.pid);
}

function processExists(pid: number): boolean {
  if (pid === process.pid) return false; // a lock of ours would not be seen here: an earlier process's pid, reused
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // alive, someone else's
  }
}

/**
 * Move a stale lock away, unless it changed since we judged it (another run took it over meanwhile):
 * the rename is atomic, so of two runs doing this only one moves the stale file. True if it was moved.
 */
async function moveAwayIfUnchanged(path: string, judged: string): Promise<boolean> {
  const aside = `${path}.stale-${randomUUID()}`;
  try {
    await rename(path, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  const moved = await readFile(aside, 'utf8').catch(() => null);
  if (moved !== judged) {
    // A fresh lock taken in between: put it back (one taken by a third run in this very instant would
    // be overwritten: a window of a few microseconds, between runs started together by hand).
    await rename(aside, path).catch(() => undefined);
    return false;
  }
  await rm(aside, { force: true });
  return true;
}
