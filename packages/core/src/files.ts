import { randomBytes } from 'node:crypto';
import { mkdir, open, rm, rename } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Filesystems that cannot fsync a folder answer with one of these; the rename is atomic there all the same. */
const UNSYNCABLE_FOLDER_CODES = new Set(['EINVAL', 'ENOTSUP', 'EOPNOTSUPP', 'EISDIR', 'EBADF']);

/**
 * Replace `path` with `contents` so that a reader (or a crash) sees either the old file or the whole new one, and so
 * that once this resolves the new file survives a power cut: write a temporary file beside it, fsync it, rename it
 * over `path`, then fsync the folder so the rename itself is on disk. The temporary file is removed if any step
 * fails. The folder is created if missing. `mode` applies to a new file, within the process umask (0600 by default:
 * most of what we write is private).
 */
export async function writeFileAtomically(path: string, contents: string | Uint8Array, mode = 0o600): Promise<void> {
  const folder = dirname(path);
  await mkdir(folder, { recursive: true });
  // Hidden and random, so that two writers never share a temporary file and folder listings skip it.
  const temporary = join(folder, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temporary, 'wx', mode);
  try {
    try {
      await handle.writeFile(contents);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  await syncFolder(folder);
}

async function syncFolder(folder: string): Promise<void> {
  const handle = await open(folder, 'r');
  try {
    await handle.sync();
  } catch (error) {
    if (!UNSYNCABLE_FOLDER_CODES.has((error as NodeJS.ErrnoException).code ?? '')) throw error;
  } finally {
    await handle.close();
  }
}
