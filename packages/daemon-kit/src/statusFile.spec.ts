import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { MemoryLogger } from '@twitter-relaynet/core';

import { StatusFile } from './statusFile';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'status-file-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test('publishes the latest content (0644), removes the file for null, and skips what it holds already', async () => {
  const path = join(dir, 'status.json');
  const file = new StatusFile(path, new MemoryLogger(), 'status');
  const writes = [file.publish('one'), file.publish('two')];
  await Promise.all(writes);
  expect(readFileSync(path, 'utf8')).toBe('two');
  expect(statSync(path).mode & 0o777).toBe(0o644);
  await file.publish(null);
  expect(existsSync(path)).toBe(false);
  await file.publish(null); // nothing to remove: fine
});

test('content known to be in the file is not written again; a failed write is logged and retried next time', async () => {
  const folder = join(dir, 'folder');
  const path = join(folder, 'status.json');
  writeFileSync(folder, 'a file where the folder should be');
  const logger = new MemoryLogger();
  const file = new StatusFile(path, logger, 'clock status', 'as read');
  await file.publish('as read'); // it was said to hold it: not written (it could not be)
  expect(logger.records).toEqual([]);

  await file.publish('new');
  expect(logger.find('error', /^Could not publish the clock status$/)).toHaveLength(1);
  rmSync(folder);
  mkdirSync(folder);
  await file.publish('new');
  expect(readFileSync(path, 'utf8')).toBe('new');
});
