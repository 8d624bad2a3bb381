import { readFileSync } from 'node:fs';

/**
 * Whether the adapter will talk to a real X API rather than the bundled emulator: decided by
 * TWITTER_API_BASE_URL, from the environment or the repository's .env (the adapter validates the
 * file itself; here only this one variable matters).
 */
export function usesRealXApi(envFilePath: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const baseUrl = env.TWITTER_API_BASE_URL ?? readVariable(envFilePath, 'TWITTER_API_BASE_URL');
  if (!baseUrl) return false;
  try {
    const { hostname } = new URL(baseUrl);
    return !['127.0.0.1', 'localhost', '::1', '[::1]'].includes(hostname);
  } catch {
    return false; // the adapter reports a malformed URL with the variable's name
  }
}

function readVariable(path: string, name: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split(/\r?\n/)) {
    const match = line.match(/^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/);
    if (match && match[1] === name) return match[2].trim().replace(/^(['"])(.*)\1$/, '$2');
  }
  return undefined;
}
