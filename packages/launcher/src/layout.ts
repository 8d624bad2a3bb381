import { join, resolve } from 'node:path';

/** The repository root (this file lives in packages/launcher/{src,dist}/). */
export const REPO_ROOT = resolve(__dirname, '..', '..', '..');

export const EMULATOR_BIN = join(REPO_ROOT, 'packages', 'x-api-emulator', 'dist', 'bin', 'x-api-emulator.js');
export const bin = (name: string) => join(REPO_ROOT, 'bin', name);
