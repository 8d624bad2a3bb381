import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** The repository root (this file lives in packages/launcher/{src,dist}/). */
export const REPO_ROOT = resolve(__dirname, '..', '..', '..');

/** The data root of docs/runtime-layout.md: flag, then environment, then the XDG default. */
export function resolveDataRoot(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (flag) return resolve(flag);
  if (env.RELAYNET_DATA_ROOT) return resolve(env.RELAYNET_DATA_ROOT);
  const xdg = env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
  return join(xdg, 'twitter-relaynet');
}

export const EMULATOR_BIN = join(REPO_ROOT, 'packages', 'x-api-emulator', 'dist', 'bin', 'x-api-emulator.js');
export const bin = (name: string) => join(REPO_ROOT, 'bin', name);
