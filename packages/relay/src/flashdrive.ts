/**
 * The flashdrive side of the relay: listing and checking the files in a folder, reading them safely, and
 * writing collected messages durably (temp file, fsync, rename, fsync the folder) before anyone acks them.
 */
import { constants as fsConstants } from 'node:fs';
import * as fsPromises from 'node:fs/promises';
import { join } from 'node:path';

import {
  Cargo,
  CargoCollectionAuthorization,
  describeMessageType,
  FORMAT_SIGNATURE_LENGTH,
  MAX_RAMF_MESSAGE_LENGTH,
  MessageType,
  readMessageType,
} from '@twitter-relaynet/core';

import { RelayError } from './errors';

export type MessageKind = 'cargo' | 'cca';

/** File name extension of each kind: collected messages are saved as `<uuid>.cargo` and `<uuid>.cca`. */
export const KIND_EXTENSION: Record<MessageKind, string> = { cargo: '.cargo', cca: '.cca' };

const KIND_NAME: Record<MessageKind, string> = { cargo: 'cargo', cca: 'CCA' };

/** The file is not a valid cargo or CCA: it is reported and left where it is. */
export class InvalidMessageError extends RelayError {}

/** A regular file in the incoming folder that looks like cargo or a CCA (by its format signature). */
export interface FlashdriveFile {
  readonly name: string;
  readonly path: string;
  readonly kind: MessageKind;
  /** Size when listed, in octets. */
  readonly size: number;
}

export interface RejectedFile {
  readonly path: string;
  readonly reason: string;
  /** true: not a valid cargo/CCA; false: could not be read (I/O error). */
  readonly invalid: boolean;
}

export interface FolderScan {
  /** false if the folder does not exist. */
  readonly exists: boolean;
  readonly files: readonly FlashdriveFile[];
  readonly rejected: readonly RejectedFile[];
}

/** The file operations the relay uses to write, so tests can inject failures (ENOSPC, EIO...). */
export interface WriteFileSystem {
  open: typeof fsPromises.open;
  rename: typeof fsPromises.rename;
  rm: typeof fsPromises.rm;
}

export const realFileSystem: WriteFileSystem = {
  open: fsPromises.open,
  rename: fsPromises.rename,
  rm: fsPromises.rm,
};

/** Temp files (`.<name>.tmp`) and every other hidden file (`.DS_Store`, `.Trashes`...) are not ours to read. */
export function isIgnoredName(name: string): boolean {
  return name.startsWith('.');
}

export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as NodeJS.ErrnoException).code;
  if (code && /^E[A-Z]+$/.test(code)) {
    // "ENOSPC: no space left on device, write" → "no space left on device (ENOSPC)"
    const match = /^E[A-Z]+: ([^,]+)/.exec(error.message);
    return `${match ? match[1] : error.message} (${code})`;
  }
  return error.message;
}

function kindOfType(type: number): MessageKind | null {
  if (type === MessageType.CARGO) return 'cargo';
  if (type === MessageType.CARGO_COLLECTION_AUTHORIZATION) return 'cca';
  return null;
}

/**
 * List the incoming folder: each regular, non-hidden file is classified by size and format signature.
 * Subfolders are skipped. Nothing is deleted or moved here.
 */
export async function scanFolder(dir: string): Promise<FolderScan> {
  let names: string[];
  try {
    names = (await fsPromises.readdir(dir)).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { exists: false, files: [], rejected: [] };
    throw error;
  }
  const files: FlashdriveFile[] = [];
  const rejected: RejectedFile[] = [];
  for (const name of names) {
    if (isIgnoredName(name)) continue;
    const path = join(dir, name);
    let stats;
    try {
      stats = await fsPromises.lstat(path);
    } catch (error) {
      rejected.push({ path, reason: `could not be read: ${describeError(error)}`, invalid: false });
      continue;
    }
    if (stats.isDirectory()) continue;
    if (!stats.isFile()) {
      rejected.push({ path, reason: 'not a regular file', invalid: true });
      continue;
    }
    try {
      checkSize(stats.size);
      const header = await readHeader(path);
      files.push({ name, path, kind: classify(header), size: stats.size });
    } catch (error) {
      if (error instanceof InvalidMessageError) rejected.push({ path, reason: error.message, invalid: true });
      else rejected.push({ path, reason: `could not be read: ${describeError(error)}`, invalid: false });
    }
  }
  return { exists: true, files, rejected };
}

function checkSize(size: number): void {
  if (size === 0) throw new InvalidMessageError('empty file (0 octets)');
  if (size > MAX_RAMF_MESSAGE_LENGTH) {
    throw new InvalidMessageError(`too large: ${size} octets, above the RAMF limit of ${MAX_RAMF_MESSAGE_LENGTH}`);
  }
}

function classify(serialization: Buffer): MessageKind {
  let type: number;
  try {
    type = readMessageType(serialization);
  } catch (error) {
    throw new InvalidMessageError(`not a RAMF message: ${describeError(error)}`);
  }
  const kind = kindOfType(type);
  if (!kind) throw new InvalidMessageError(`a ${describeMessageType(type)}, neither cargo nor a CCA`);
  return kind;
}

async function readHeader(path: string): Promise<Buffer> {
  const handle = await fsPromises.open(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
  try {
    const header = Buffer.alloc(FORMAT_SIGNATURE_LENGTH);
    const { bytesRead } = await handle.read(header, 0, header.length, 0);
    return header.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/**
 * Read a whole file (never following a symlink, never more than the RAMF limit plus one octet, so a file
 * growing behind our back is still caught).
 */
export async function readMessageFile(path: string): Promise<Buffer> {
  const handle = await fsPromises.open(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new InvalidMessageError('not a regular file');
    checkSize(stats.size);
    const buffer = Buffer.alloc(Math.min(stats.size + 1, MAX_RAMF_MESSAGE_LENGTH + 1));
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    checkSize(length);
    return length === buffer.length ? buffer : buffer.subarray(0, length);
  } finally {
    await handle.close();
  }
}

export interface CheckedMessage {
  readonly kind: MessageKind;
  /** The RAMF message id. */
  readonly id: string;
}

/**
 * Check a message completely: size, format signature and type, then syntax and signature (deserialization).
 * Timing (expiry) and authorization are the gateway's business. Throws InvalidMessageError with the reason.
 */
export async function checkMessage(serialization: Buffer, expected?: MessageKind): Promise<CheckedMessage> {
  checkSize(serialization.length);
  const kind = classify(serialization);
  if (expected && kind !== expected) {
    throw new InvalidMessageError(`expected ${KIND_NAME[expected]} but got ${KIND_NAME[kind]}`);
  }
  try {
    const message =
      kind === 'cargo'
        ? await Cargo.deserialize(serialization)
        : await CargoCollectionAuthorization.deserialize(serialization);
    return { kind, id: message.id };
  } catch (error) {
    throw new InvalidMessageError(`invalid ${KIND_NAME[kind]}: ${describeError(error)}`);
  }
}

/** fsync a directory so a rename or unlink in it survives a crash or an unplugged flashdrive. */
export async function syncDirectory(dir: string, fs: Pick<WriteFileSystem, 'open'> = realFileSystem): Promise<void> {
  const handle = await fs.open(dir, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
  try {
    await handle.sync();
  } catch (error) {
    // Some filesystems cannot fsync a directory at all (EINVAL): there is nothing more we can do there.
    if ((error as NodeJS.ErrnoException).code !== 'EINVAL') throw error;
  } finally {
    await handle.close();
  }
}

/** A file written and fsync'd under its temp name (`.name.tmp`), not yet in place. */
export interface StagedFile {
  /** Rename it to its final name and fsync the folder; resolves to the final path. */
  commit(): Promise<string>;
  /** Remove the temp file (nothing to do once committed). */
  discard(): Promise<void>;
}

/**
 * The first half of `writeDurably`: `.name.tmp` (exclusive create), write, fsync, close. Several can
 * run at once (their fsyncs overlap); each `commit` then puts one in place. On failure the temp file is
 * removed and the error rethrown.
 */
export async function stageDurably(
  dir: string,
  name: string,
  data: Buffer,
  fs: WriteFileSystem = realFileSystem,
): Promise<StagedFile> {
  const tempPath = join(dir, `.${name}.tmp`);
  const finalPath = join(dir, name);
  let handle: fsPromises.FileHandle | undefined;
  try {
    handle = await fs.open(tempPath, 'wx', 0o644);
    await handle.writeFile(data);
    await handle.sync();
    const closing = handle;
    handle = undefined;
    await closing.close();
  } catch (error) {
    await handle?.close().catch(() => undefined);
    await fs.rm(tempPath, { force: true }).catch(() => undefined);
    throw error;
  }
  let state: 'staged' | 'committed' | 'discarded' = 'staged';
  return {
    async commit() {
      if (state !== 'staged') throw new Error(`${finalPath}: already ${state}`);
      state = 'committed';
      let renamed = false;
      try {
        await fs.rename(tempPath, finalPath);
        renamed = true;
        await syncDirectory(dir, fs);
        return finalPath;
      } catch (error) {
        await fs.rm(renamed ? finalPath : tempPath, { force: true }).catch(() => undefined);
        throw error;
      }
    },
    async discard() {
      if (state !== 'staged') return;
      state = 'discarded';
      await fs.rm(tempPath, { force: true }).catch(() => undefined);
    },
  };
}

/**
 * Write `data` to `dir/name` durably: `.name.tmp` (exclusive create), write, fsync, close, rename, fsync the
 * folder. Resolves only once the file is on disk under its final name. On any failure the temp file (and the
 * final file, if the folder fsync failed after the rename) is removed and the error is rethrown.
 */
export async function writeDurably(
  dir: string,
  name: string,
  data: Buffer,
  fs: WriteFileSystem = realFileSystem,
): Promise<string> {
  return (await stageDurably(dir, name, data, fs)).commit();
}
