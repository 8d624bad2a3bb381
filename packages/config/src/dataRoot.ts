/**
 * The data root every process keeps its folder in (docs/runtime-layout.md): `--data-root`, else
 * $RELAYNET_DATA_ROOT, else $XDG_DATA_HOME/twitter-relaynet, else ~/.local/share/twitter-relaynet. Never a
 * temporary folder by default: the state (keys, queued parcels) must survive a reboot.
 */
import { homedir } from 'node:os';
import { resolve } from 'node:path';

export const DATA_ROOT_VARIABLE = 'RELAYNET_DATA_ROOT';
export const DATA_ROOT_FOLDER = 'twitter-relaynet';

type Env = Readonly<Record<string, string | undefined>>;

function nonEmpty(value: string | undefined): string | undefined {
  return value !== undefined && value.trim() !== '' ? value.trim() : undefined;
}

/** The data root when no flag gives one. */
export function defaultDataRoot(env: Env): string {
  const explicit = nonEmpty(env[DATA_ROOT_VARIABLE]);
  if (explicit) return resolve(explicit);
  const xdg = nonEmpty(env.XDG_DATA_HOME);
  if (xdg) return resolve(xdg, DATA_ROOT_FOLDER);
  // resolve(): a relative HOME must not make every path relative to wherever the command runs.
  return resolve(nonEmpty(env.HOME) ?? homedir(), '.local', 'share', DATA_ROOT_FOLDER);
}

/** The data root from a `--data-root` flag (if given and not blank), else the default. */
export function resolveDataRoot(flag: string | undefined, env: Env): string {
  const fromFlag = nonEmpty(flag);
  return fromFlag ? resolve(fromFlag) : defaultDataRoot(env);
}
