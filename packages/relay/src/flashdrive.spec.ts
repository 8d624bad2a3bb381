import { execFileSync } from 'node:child_process';
import {
  constants as fsConstants,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import * as fsPromises from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { getWorld, makeCargo, makeCca, type World } from '../test/fixtures';
import {
  checkMessage,
  InvalidMessageError,
  isIgnoredName,
  readMessageFile,
  scanFolder,
  type WriteFileSystem,
  stageDurably,
  writeDurably,
} from './flashdrive';

let world: World;
let dir: string;

beforeAll(async () => {
  world = await getWorld();
});

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'relay-fd-'));
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: injected failure, ${code.toLowerCase()}`), { code });
}

type Fault = 'write' | 'sync' | 'rename' | 'directory sync';

/** The real file system, with one operation failing with `code`. */
function faultyFileSystem(fault: Fault, code: string): WriteFileSystem {
  const open = (async (path: string, flags?: string | number, mode?: number) => {
    const handle = await fsPromises.open(path, flags, mode);
    const isDirectory = typeof flags === 'number' && (flags & fsConstants.O_DIRECTORY) !== 0;
    return new Proxy(handle, {
      get(target, property) {
        if (property === 'writeFile' && fault === 'write' && !isDirectory) {
          return async (data: Buffer) => {
            await target.write(data.subarray(0, 10)); // a partial write, then the disk is full
            throw errno(code);
          };
        }
        if (
          property === 'sync' &&
          ((fault === 'sync' && !isDirectory) || (fault === 'directory sync' && isDirectory))
        ) {
          return async () => {
            throw errno(code);
          };
        }
        const value = Reflect.get(target, property) as unknown;
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }) as typeof fsPromises.open;
  return {
    open,
    rename: fault === 'rename' ? async () => Promise.reject(errno(code)) : fsPromises.rename,
    rm: fsPromises.rm,
  };
}

describe('writeDurably', () => {
  test('writes the file under its final name, with no temp file left', async () => {
    const data = Buffer.from('cargo bytes');
    const path = await writeDurably(dir, 'x.cargo', data);
    expect(path).toBe(join(dir, 'x.cargo'));
    expect(readFileSync(path)).toEqual(data);
    expect(readdirSync(dir)).toEqual(['x.cargo']);
    expect(statSync(path).mode & 0o777).toBe(0o644 & ~process.umask());
  });

  test.each<[Fault, string]>([
    ['write', 'ENOSPC'],
    ['sync', 'EIO'],
    ['rename', 'EROFS'],
    ['directory sync', 'EIO'],
  ])('a failed %s (%s) is rethrown and leaves nothing behind', async (fault, code) => {
    await expect(
      writeDurably(dir, 'x.cargo', Buffer.alloc(1000, 1), faultyFileSystem(fault, code)),
    ).rejects.toMatchObject({
      code,
    });
    expect(readdirSync(dir)).toEqual([]);
  });

  test('never overwrites a temp file someone else is writing', async () => {
    writeFileSync(join(dir, '.x.cargo.tmp'), 'theirs');
    await expect(writeDurably(dir, 'x.cargo', Buffer.from('ours'))).rejects.toMatchObject({ code: 'EEXIST' });
  });
});

describe('stageDurably', () => {
  test('the file is under its temp name only until commit; discard removes it', async () => {
    const kept = await stageDurably(dir, 'kept.cargo', Buffer.from('kept'));
    const dropped = await stageDurably(dir, 'dropped.cargo', Buffer.from('dropped'));
    expect(readdirSync(dir).sort()).toEqual(['.dropped.cargo.tmp', '.kept.cargo.tmp']);

    expect(await kept.commit()).toBe(join(dir, 'kept.cargo'));
    await dropped.discard();

    expect(readdirSync(dir)).toEqual(['kept.cargo']);
    expect(readFileSync(join(dir, 'kept.cargo'))).toEqual(Buffer.from('kept'));
    await expect(kept.commit()).rejects.toThrow(/already committed/);
    await dropped.discard(); // harmless twice
  });

  test('a failed commit (rename) leaves nothing behind', async () => {
    const staged = await stageDurably(dir, 'x.cargo', Buffer.from('x'), faultyFileSystem('rename', 'EROFS'));
    await expect(staged.commit()).rejects.toMatchObject({ code: 'EROFS' });
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('scanFolder and readMessageFile', () => {
  test('classifies by content, skips hidden files and subfolders, refuses symlinks and FIFOs', async () => {
    const cargo = await makeCargo(world, 'user');
    const cca = await makeCca(world);
    writeFileSync(join(dir, 'b'), cargo);
    writeFileSync(join(dir, 'a.cargo'), cca); // the name lies: content wins
    writeFileSync(join(dir, '.a.cargo.tmp'), cargo);
    writeFileSync(join(dir, '.DS_Store'), 'x');
    symlinkSync(join(dir, 'b'), join(dir, 'link.cargo'));
    execFileSync('mkfifo', [join(dir, 'pipe.cargo')]);

    const scan = await scanFolder(dir);

    expect(scan.exists).toBe(true);
    expect(scan.files.map((f) => [f.name, f.kind, f.size])).toEqual([
      ['a.cargo', 'cca', cca.length],
      ['b', 'cargo', cargo.length],
    ]);
    expect(scan.rejected).toEqual([
      { path: join(dir, 'link.cargo'), reason: 'not a regular file', invalid: true },
      { path: join(dir, 'pipe.cargo'), reason: 'not a regular file', invalid: true },
    ]);
    await expect(readMessageFile(join(dir, 'link.cargo'))).rejects.toMatchObject({ code: 'ELOOP' });
    expect(await readMessageFile(join(dir, 'b'))).toEqual(cargo);
  });

  test('a missing folder is reported as such', async () => {
    expect(await scanFolder(join(dir, 'nope'))).toEqual({ exists: false, files: [], rejected: [] });
  });

  test('isIgnoredName', () => {
    expect(isIgnoredName('.0f.cargo.tmp')).toBe(true);
    expect(isIgnoredName('.Trashes')).toBe(true);
    expect(isIgnoredName('0f.cargo')).toBe(false);
  });
});

describe('checkMessage', () => {
  test('returns the kind and the RAMF id of valid messages', async () => {
    const cargo = await makeCargo(world, 'user');
    expect(await checkMessage(cargo)).toEqual({ kind: 'cargo', id: expect.any(String) });
    expect(await checkMessage(await makeCca(world), 'cca')).toEqual({ kind: 'cca', id: expect.any(String) });
  });

  test('refuses the wrong kind, bad signatures and garbage', async () => {
    const cargo = await makeCargo(world, 'user');
    await expect(checkMessage(cargo, 'cca')).rejects.toThrow(new InvalidMessageError('expected CCA but got cargo'));
    const tampered = Buffer.from(cargo);
    tampered[tampered.length - 5] ^= 1;
    await expect(checkMessage(tampered)).rejects.toThrow(/^invalid cargo: /);
    await expect(checkMessage(Buffer.alloc(0))).rejects.toThrow('empty file (0 octets)');
    await expect(checkMessage(Buffer.from('hello world'))).rejects.toThrow(/^not a RAMF message: /);
  });
});
