/** The README's command blocks, read from the README itself so that the tests and the documentation cannot drift. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { REPO_ROOT } from '../src/layout';

/**
 * The commands of each `<!-- PREFIX:NAME -->` block: the lines of the ```sh block after the marker, comments and
 * blank lines left out. Every name must have exactly one non-empty block.
 */
export function readBlocks<Name extends string>(
  prefix: string,
  names: readonly Name[],
  readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8'),
): Record<Name, string[]> {
  const blocks: Partial<Record<Name, string[]>> = {};
  const marker = new RegExp(`<!-- ${prefix}:([a-z-]+) -->\\s*\\n\`\`\`sh\\n([^]*?)\\n\`\`\``, 'g');
  for (const match of readme.matchAll(marker)) {
    const name = match[1] as Name;
    if (!names.includes(name)) continue;
    if (blocks[name]) throw new Error(`README.md has two ${prefix}:${name} blocks`);
    blocks[name] = match[2]
      .split('\n')
      .map((line) => line.replace(/\s+#.*$/, '').trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
  }
  for (const name of names) {
    if (!blocks[name]?.length) throw new Error(`README.md lacks the ${prefix}:${name} block (or it is empty)`);
  }
  return blocks as Record<Name, string[]>;
}

export type WalkthroughBlock = 'start' | 'tweet' | 'courier' | 'timeline';

export function readWalkthrough(readme?: string): Record<WalkthroughBlock, string[]> {
  return readBlocks('walkthrough', ['start', 'tweet', 'courier', 'timeline'], readme);
}
