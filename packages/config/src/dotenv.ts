/**
 * A small, strict `.env` reader shared by the app and the adapter, so that one file means the same to both:
 * `NAME=value` lines, `#` comments, blank lines, an optional `export ` prefix; values unquoted (up to an inline
 * ` #` comment; no spaces, no quotes), in single quotes (verbatim) or in double quotes (\n, \t, \r, \", \\
 * escapes). Anything else is a DotenvError naming the file, the line and the variable, never a silently wrong
 * value: the popular `dotenv` package skips malformed lines without a word, hence this one. A line is never
 * echoed once it names a variable, because it may hold a secret.
 */
import { readFileSync } from 'node:fs';

import { ConfigurationError } from './errors';

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A malformed `.env` file: `variable` is set when the line names one. */
export class DotenvError extends ConfigurationError {}

export function parseDotenv(source: string, fileName = '.env'): Map<string, string> {
  const values = new Map<string, string>();
  source
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .forEach((rawLine, index) => {
      const where = `${fileName} line ${index + 1}`;
      let line = rawLine.trim();
      if (line === '' || line.startsWith('#')) return;
      if (line.startsWith('export ')) line = line.slice('export '.length).trimStart();
      const equals = line.indexOf('=');
      if (equals < 0) {
        const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(line)?.[0];
        throw new DotenvError(`${where}: expected NAME=value${name ? ` for ${name}` : `, got "${truncate(line)}"`}`, {
          variable: name,
        });
      }
      const name = line.slice(0, equals).trim();
      if (!NAME.test(name))
        throw new DotenvError(`${where}: "${truncate(name)}" is not a valid variable name`, { variable: name });
      if (values.has(name)) throw new DotenvError(`${where}: ${name} is set twice`, { variable: name });
      values.set(name, parseValue(line.slice(equals + 1), name, where));
    });
  return values;
}

function parseValue(afterEquals: string, name: string, where: string): string {
  const raw = afterEquals.trim();
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
    if (i >= raw.length)
      throw new DotenvError(`${where}: ${name} has an unterminated ${quote} quote`, { variable: name });
    const rest = raw.slice(i + 1).trim();
    if (rest !== '' && !rest.startsWith('#'))
      throw new DotenvError(`${where}: ${name} has text after its closing quote`, { variable: name });
    return value;
  }
  // Searched before trimming, so that `NAME= # comment` is an empty value, not "#".
  const comment = afterEquals.search(/\s#/);
  const value = (comment >= 0 ? afterEquals.slice(0, comment) : afterEquals).trim();
  if (/["']/.test(value))
    throw new DotenvError(`${where}: ${name} has a stray quote (quote the whole value)`, { variable: name });
  if (/\s/.test(value))
    throw new DotenvError(`${where}: ${name} contains spaces (quote the whole value)`, { variable: name });
  return value;
}

/** The file's variables; null when it does not exist. */
export function readDotenv(path: string): Map<string, string> | null {
  let source: string;
  try {
    source = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new DotenvError(`Cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
  return parseDotenv(source, path);
}

function truncate(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
