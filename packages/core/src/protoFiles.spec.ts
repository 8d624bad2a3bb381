import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { findProtoFolder } from './protoFiles';

describe('findProtoFolder', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'proto-'));
    mkdirSync(join(root, 'proto'));
    writeFileSync(join(root, 'proto', 'a.proto'), '');
    writeFileSync(join(root, 'proto', 'b.proto'), '');
    mkdirSync(join(root, 'packages', 'x', 'dist', 'proto'), { recursive: true });
    writeFileSync(join(root, 'packages', 'x', 'dist', 'proto', 'a.proto'), '');
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  test('finds the nearest proto/ folder holding every file asked for', () => {
    const start = join(root, 'packages', 'x', 'dist');
    expect(findProtoFolder(['a.proto'], start)).toBe(join(start, 'proto'));
    expect(findProtoFolder(['a.proto', 'b.proto'], start)).toBe(join(root, 'proto'));
  });

  test("finds the repository's own proto/ folder from this package", () => {
    expect(findProtoFolder(['pogrpc.proto', 'twitter.proto'], __dirname)).toBe(
      join(__dirname, '..', '..', '..', 'proto'),
    );
  });

  test('names the missing files when there is no such folder', () => {
    expect(() => findProtoFolder(['a.proto', 'missing.proto'], root)).toThrow(
      `Cannot find proto/a.proto and proto/missing.proto in ${root} or any parent directory`,
    );
  });
});
