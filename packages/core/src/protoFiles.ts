import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The repository's `proto/` folder holding all of `files`, found walking up from `startDir` (the caller's
 * `__dirname`), so the same code finds it from `src/` under jest and from `dist/` after tsc. Every package that
 * loads a `.proto` file finds it this way.
 */
export function findProtoFolder(files: readonly string[], startDir: string): string {
  for (let dir = startDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'proto');
    if (files.every((file) => existsSync(join(candidate, file)))) return candidate;
    if (dirname(dir) === dir) {
      throw new Error(
        `Cannot find ${files.map((file) => `proto/${file}`).join(' and ')} in ${startDir} or any parent directory`,
      );
    }
  }
}

/**
 * `value` (a non-negative integer below 2^53) as a protobuf varint: for the few octets of tags and lengths that
 * bindings write themselves in front of a payload they do not copy.
 */
export function protobufVarint(value: number): Buffer {
  const octets: number[] = [];
  let rest = value;
  while (rest > 0x7f) {
    octets.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  octets.push(rest);
  return Buffer.from(octets);
}
