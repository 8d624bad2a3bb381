import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { writeFileAtomically } from './files';

describe('writeFileAtomically', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'atomic-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const umask = (): number => {
    const mask = process.umask(0);
    process.umask(mask);
    return mask;
  };

  test('writes a new file, private by default, and leaves nothing else behind', async () => {
    const path = join(dir, 'key.pem');
    await writeFileAtomically(path, 'secret\n');
    expect(readFileSync(path, 'utf8')).toBe('secret\n');
    expect(statSync(path).mode & 0o777).toBe(0o600 & ~umask());
    expect(readdirSync(dir)).toEqual(['key.pem']);
  });

  test('replaces an existing file whole, with the mode asked for', async () => {
    const path = join(dir, 'status.json');
    writeFileSync(path, 'old contents that are longer than the new ones');
    await writeFileAtomically(path, Buffer.from('{}\n'), 0o644);
    expect(readFileSync(path, 'utf8')).toBe('{}\n');
    expect(statSync(path).mode & 0o777).toBe(0o644 & ~umask());
    expect(readdirSync(dir)).toEqual(['status.json']);
  });

  test('creates the folder if it is missing', async () => {
    const path = join(dir, 'a', 'b', 'file');
    await writeFileAtomically(path, 'x');
    expect(readFileSync(path, 'utf8')).toBe('x');
  });

  test('removes its temporary file when the rename fails', async () => {
    // A non-empty folder cannot be replaced by a file, so the last step fails after the temporary file is written.
    const path = join(dir, 'taken');
    mkdirSync(path);
    writeFileSync(join(path, 'inside'), 'kept');
    await expect(writeFileAtomically(path, 'new')).rejects.toMatchObject({ code: expect.stringMatching(/^E/) });
    expect(readdirSync(dir)).toEqual(['taken']);
    expect(readFileSync(join(path, 'inside'), 'utf8')).toBe('kept');
  });

  test('concurrent writers each leave a whole file and no temporary files', async () => {
    const path = join(dir, 'shared');
    const versions = Array.from({ length: 20 }, (_, i) => `version ${i} `.repeat(1000));
    await Promise.all(versions.map((contents) => writeFileAtomically(path, contents)));
    expect(versions).toContain(readFileSync(path, 'utf8'));
    expect(readdirSync(dir)).toEqual(['shared']);
  });
});
