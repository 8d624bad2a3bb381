/**
 * A minimal `.env` reader: `NAME=value` lines, `#` comments, blank lines, an optional `export ` prefix,
 * values optionally in single quotes (verbatim) or double quotes (\n, \t, \", \\ escapes). Anything else is
 * an error naming the file, the line and the variable, never a silently wrong value.
 */
import { readFileSync } from 'node:fs';

import { ConfigurationError } from './errors';

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function parseDotenv(source: string, fileName = '.env'): Map<string, string> {
  const values = new Map<string, string>();
  const lines = source.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((rawLine, index) => {
    const where = `${fileName} line ${index + 1}`;
    let line = rawLine.trim();
    if (line === '' || line.startsWith('#')) return;
    if (line.startsWith('export ')) line = line.slice('export '.length).trimStart();
    const equals = line.indexOf('=');
    if (equals < 0) throw new ConfigurationError(`${where}: expected NAME=value, got "${truncate(line)}"`);
    const name = line.slice(0, equals).trim();
    if (!NAME.test(name)) throw new ConfigurationError(`${where}: "${truncate(name)}" is not a valid variable name`);
    values.set(name, parseValue(line.slice(equals + 1).trim(), name, where));
  });
  return values;
}

function parseValue(raw: string, name: string, where: string): string {
  const quote = raw[0];
  if (quote === "'" || quote === '"') {
    let value = '';
    let i = 1;
    for (; i < raw.length; i += 1) {
      const char = raw[i];
      if (char === quote) break;
      if (quote === '"' && char === '\\' && i + 1 < raw.length) {
        i += 1;
        const escaped = raw[i];
        value += escaped === 'n' ? '\n' : escaped === 't' ? '\t' : escaped === 'r' ? '\r' : escaped;
      } else {
        value += char;
      }
    }
    if (i >= raw.length) throw new ConfigurationError(`${where}: ${name} has an unterminated ${quote} quote`);
    const rest = raw.slice(i + 1).trim();
    if (rest !== '' && !rest.startsWith('#')) {
      throw new ConfigurationError(`${where}: ${name} has text after its closing quote`);
    }
    return value;
  }
  // Unquoted: up to an inline comment (" #").
  const comment = raw.search(/\s#/);
  return (comment >= 0 ? raw.slice(0, comment) : raw).trim();
}

function truncate(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

/** Read and parse a .env file; null when it does not exist. */
export function readDotenv(path: string): Map<string, string> | null {
  let source: string;
  try {
    source = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ConfigurationError(`cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
  return parseDotenv(source, path);
}
