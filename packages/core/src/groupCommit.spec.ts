import { GroupCommitter, MAX_GROUP_COMMIT_ITEMS } from './groupCommit';

/** A commit function that records its groups and holds each commit until the test lets it go. */
function heldCommits(fail: (item: string) => boolean = () => false) {
  const groups: string[][] = [];
  const committed: string[] = [];
  const releases: (() => void)[] = [];
  const commit = async (items: readonly string[]): Promise<string[]> => {
    groups.push([...items]);
    await new Promise<void>((resolve) => releases.push(resolve));
    const bad = items.find(fail);
    if (bad !== undefined) throw new Error(`cannot write ${bad}`);
    committed.push(...items);
    return items.map((item) => `${item} done`);
  };
  /** Lets every commit started so far finish. */
  const release = () => releases.splice(0).forEach((resolve) => resolve());
  return { commit, groups, committed, release };
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

/** Yields turns until `condition` holds (the committer moves on one turn at a time; no timers involved). */
async function turnsUntil(condition: () => boolean): Promise<void> {
  for (let turn = 0; turn < 1_000 && !condition(); turn++) await nextTurn();
  expect(condition()).toBe(true);
}

test('submissions of one turn share one commit, each getting its own results in order', async () => {
  const held = heldCommits();
  const committer = new GroupCommitter(held.commit);
  const submissions = [committer.submit(['a']), committer.submit(['b', 'c']), committer.submitOne('d')];
  await turnsUntil(() => held.groups.length === 1);
  held.release();
  await expect(Promise.all(submissions)).resolves.toEqual([['a done'], ['b done', 'c done'], 'd done']);
  expect(held.groups).toEqual([['a', 'b', 'c', 'd']]);
});

test('nothing is acknowledged before the commit holding it has resolved', async () => {
  const held = heldCommits();
  const committer = new GroupCommitter(held.commit);
  const acknowledged: string[] = [];
  const submissions = ['a', 'b'].map((item) => committer.submitOne(item).then(() => acknowledged.push(item)));
  await turnsUntil(() => held.groups.length === 1);
  for (let turn = 0; turn < 10; turn++) await nextTurn();
  expect(acknowledged).toEqual([]);
  expect(held.committed).toEqual([]);

  held.release();
  await Promise.all(submissions);
  expect(acknowledged).toEqual(['a', 'b']);
});

test('what arrives while a commit is under way goes, together, into the next one', async () => {
  const held = heldCommits();
  const committer = new GroupCommitter(held.commit);
  const first = committer.submitOne('a');
  await turnsUntil(() => held.groups.length === 1);
  const during = [committer.submitOne('b'), committer.submitOne('c')];
  for (let turn = 0; turn < 10; turn++) await nextTurn();
  expect(held.groups).toHaveLength(1); // one commit at a time

  held.release();
  await expect(first).resolves.toBe('a done');
  await turnsUntil(() => held.groups.length === 2);
  held.release();
  await expect(Promise.all(during)).resolves.toEqual(['b done', 'c done']);
  expect(held.groups).toEqual([['a'], ['b', 'c']]);
});

test('a group stops at the cap; the rest follows in the next commit, and a larger submission goes alone', async () => {
  const groups: string[][] = [];
  const committer = new GroupCommitter((items: readonly string[]) => {
    groups.push([...items]);
    return items;
  }, 3);
  await Promise.all([
    ...['a', 'b', 'c', 'd'].map((item) => committer.submitOne(item)),
    committer.submit(['e', 'f', 'g', 'h', 'i']),
    committer.submitOne('j'),
  ]);
  expect(groups).toEqual([['a', 'b', 'c'], ['d'], ['e', 'f', 'g', 'h', 'i'], ['j']]);
});

test('the default cap is one cap for every user', async () => {
  const sizes: number[] = [];
  const committer = new GroupCommitter((items: readonly number[]) => {
    sizes.push(items.length);
    return items;
  });
  await Promise.all(Array.from({ length: MAX_GROUP_COMMIT_ITEMS + 1 }, (_, index) => committer.submitOne(index)));
  expect(sizes).toEqual([MAX_GROUP_COMMIT_ITEMS, 1]);
  expect(() => new GroupCommitter(() => [], 0)).toThrow(RangeError);
});

test('a failing commit rejects exactly its waiters, and the next batch still commits', async () => {
  const held = heldCommits((item) => item === 'bad');
  const committer = new GroupCommitter(held.commit);
  const settled = Promise.allSettled([
    committer.submitOne('good'),
    committer.submit(['bad', 'with bad']),
    committer.submitOne('other'),
  ]);
  // The group fails whole, then each submission is tried on its own.
  await turnsUntil(() => held.groups.length === 1);
  held.release();
  await turnsUntil(() => held.groups.length === 2);
  held.release();
  await turnsUntil(() => held.groups.length === 3);
  held.release();
  await turnsUntil(() => held.groups.length === 4);
  held.release();
  const [good, bad, other] = await settled;
  expect(good).toEqual({ status: 'fulfilled', value: 'good done' });
  expect(bad).toEqual({ status: 'rejected', reason: new Error('cannot write bad') });
  expect(other).toEqual({ status: 'fulfilled', value: 'other done' });
  expect(held.groups).toEqual([['good', 'bad', 'with bad', 'other'], ['good'], ['bad', 'with bad'], ['other']]);
  expect(held.committed).toEqual(['good', 'other']);

  const next = committer.submitOne('next');
  await turnsUntil(() => held.groups.length === 5);
  held.release();
  await expect(next).resolves.toBe('next done');
});

test('a lone failing submission is rejected without a retry', async () => {
  let attempts = 0;
  const committer = new GroupCommitter((): string[] => {
    attempts += 1;
    throw new Error('disk full');
  });
  await expect(committer.submitOne('a')).rejects.toThrow('disk full');
  expect(attempts).toBe(1);
});

test('flush commits what is pending without waiting for the turn to end, and waits for a commit under way', async () => {
  const committed: string[] = [];
  const committer = new GroupCommitter((items: readonly string[]) => {
    committed.push(...items);
    return items;
  });
  await committer.flush(); // nothing pending: settles at once
  const pending = committer.submitOne('a');
  await committer.flush();
  expect(committed).toEqual(['a']);
  await expect(pending).resolves.toBe('a');

  const held = heldCommits();
  const slow = new GroupCommitter(held.commit);
  const underWay = slow.submitOne('b');
  await turnsUntil(() => held.groups.length === 1);
  let flushed = false;
  const flushing = slow.flush().then(() => (flushed = true));
  for (let turn = 0; turn < 10; turn++) await nextTurn();
  expect(flushed).toBe(false);
  held.release();
  await flushing;
  await expect(underWay).resolves.toBe('b done');
});
