/** The README's walk-through, read from the README itself so that the test and the documentation cannot drift. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { REPO_ROOT } from '../src/layout';

export type WalkthroughBlock = 'start' | 'tweet' | 'courier' | 'timeline';

/** The commands of each `<!-- walkthrough:NAME -->` block: the lines of the ```sh block after the marker. */
export function readWalkthrough(readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8')): Record<WalkthroughBlock, string[]> {
  const blocks: Partial<Record<WalkthroughBlock, string[]>> = {};
  const marker = /<!-- walkthrough:(start|tweet|courier|timeline) -->\s*\n```sh\n([^]*?)\n```/g;
  for (const match of readme.matchAll(marker)) {
    const name = match[1] as WalkthroughBlock;
    if (blocks[name]) throw new Error(`README.md has two walkthrough:${name} blocks`);
    blocks[name] = match[2]
      .split('\n')
      .map((line) => line.replace(/\s+#.*$/, '').trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
  }
  for (const name of ['start', 'tweet', 'courier', 'timeline'] as const) {
    if (!blocks[name]?.length) throw new Error(`README.md lacks the walkthrough:${name} block (or it is empty)`);
  }
  return blocks as Record<WalkthroughBlock, string[]>;
}
