import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

import { defaultDataRoot, resolveDataRoot } from './dataRoot';

test('RELAYNET_DATA_ROOT, else XDG_DATA_HOME, else ~/.local/share; blank values do not count', () => {
  expect(defaultDataRoot({ RELAYNET_DATA_ROOT: 'rel', XDG_DATA_HOME: '/xdg' })).toBe(resolve('rel'));
  expect(defaultDataRoot({ RELAYNET_DATA_ROOT: '  ', XDG_DATA_HOME: '/xdg' })).toBe('/xdg/twitter-relaynet');
  expect(defaultDataRoot({ HOME: '/home/u' })).toBe('/home/u/.local/share/twitter-relaynet');
  expect(defaultDataRoot({ HOME: '', XDG_DATA_HOME: ' ' })).toBe(
    join(homedir(), '.local', 'share', 'twitter-relaynet'),
  );
  expect(defaultDataRoot({})).toBe(join(homedir(), '.local', 'share', 'twitter-relaynet'));
  expect(defaultDataRoot({ HOME: 'relative/home' })).toBe(resolve('relative/home/.local/share/twitter-relaynet'));
});

test('a --data-root flag wins over the environment, unless blank', () => {
  expect(resolveDataRoot('flag', { RELAYNET_DATA_ROOT: '/env' })).toBe(resolve('flag'));
  expect(resolveDataRoot(' ', { RELAYNET_DATA_ROOT: '/env' })).toBe('/env');
  expect(resolveDataRoot(undefined, { RELAYNET_DATA_ROOT: '/env' })).toBe('/env');
});
