import { readFileSync, writeFileSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';

import { type Command, CommanderError } from 'commander';

import { UsageError } from '@twitter-relaynet/config';
import {
  Certificate,
  errorMessage,
  derDeserializeEcdhPrivateKey,
  derDeserializeRsaPrivateKey,
  pemOrDerToDer,
} from '@twitter-relaynet/core';

function readFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(`Cannot read ${what} "${path}"${code ? ` (${code})` : ''}`);
  }
}

export function readCertificate(path: string, what = 'certificate'): Certificate {
  const bytes = readFile(path, what);
  try {
    return Certificate.deserialize(pemOrDerToDer(bytes, 'CERTIFICATE'));
  } catch (error) {
    throw new UsageError(`${capitalize(what)} "${path}" is not a valid X.509 certificate: ${errorMessage(error)}`);
  }
}

export function readPrivateKey(path: string, what = 'private key'): KeyObject {
  const der = readPkcs8(path, what);
  try {
    return derDeserializeRsaPrivateKey(der);
  } catch (error) {
    throw new UsageError(`${capitalize(what)} "${path}" is not an RSA PKCS#8 key: ${errorMessage(error)}`);
  }
}

/** An RSA (sessionless) or ECDH (session) private key, whichever the file holds. */
export function readAnyPrivateKey(path: string, what = 'private key'): KeyObject {
  const der = readPkcs8(path, what);
  try {
    return derDeserializeRsaPrivateKey(der);
  } catch {
    try {
      return derDeserializeEcdhPrivateKey(der);
    } catch (error) {
      throw new UsageError(
        `${capitalize(what)} "${path}" is neither an RSA nor an ECDH PKCS#8 key: ${errorMessage(error)}`,
      );
    }
  }
}

function readPkcs8(path: string, what: string): Buffer {
  const bytes = readFile(path, what);
  try {
    return pemOrDerToDer(bytes, 'PRIVATE KEY');
  } catch (error) {
    throw new UsageError(`${capitalize(what)} "${path}" is not PEM or DER: ${errorMessage(error)}`);
  }
}

export function readSpki(path: string, what: string): Buffer {
  const bytes = readFile(path, what);
  try {
    return pemOrDerToDer(bytes, 'PUBLIC KEY');
  } catch (error) {
    throw new UsageError(`${capitalize(what)} "${path}" is not PEM or DER: ${errorMessage(error)}`);
  }
}

export function readBinaryFile(path: string, what: string): Buffer {
  return readFile(path, what);
}

export function writeOutputFile(path: string, contents: Buffer | string, mode = 0o644): void {
  try {
    writeFileSync(path, contents, { mode });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(`Cannot write "${path}"${code ? ` (${code})` : ''}`);
  }
}

export async function readStdin(maxLength: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of process.stdin) {
    length += (chunk as Buffer).length;
    if (length > maxLength) {
      throw new UsageError(`Standard input exceeds ${maxLength} octets`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export function writeStdout(data: Buffer | string): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(data, (error) => (error ? reject(error) : resolve()));
  });
}

export function parseInteger(value: string, what: string, min: number, max: number): number {
  if (!/^\d+$/.test(value)) throw new UsageError(`${what} must be a whole number (got "${value}")`);
  const number = Number(value);
  if (number < min || number > max) {
    throw new UsageError(`${what} must be between ${min} and ${max} (got ${number})`);
  }
  return number;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** The exit status of a usage error, as for every executable of the project. */
export const USAGE_EXIT_CODE = 2;

/**
 * Run a tool's command line: any failure becomes one line on stderr that starts with the tool's name, exit status
 * USAGE_EXIT_CODE for a usage error (commander's or ours) and 1 for anything else.
 */
export function runTool(name: string, command: Command): void {
  command.exitOverride().configureOutput({ outputError: () => undefined });
  command.parseAsync(process.argv).then(
    () => undefined, // a command sets process.exitCode itself when a check fails
    (error: unknown) => {
      if (error instanceof CommanderError) {
        // --help and --version end here too, with status 0 and their text already printed.
        if (error.exitCode === 0) return;
        process.stderr.write(`${name}: ${error.message.replace(/^error: /, '')} (see ${name} --help)\n`);
        process.exitCode = USAGE_EXIT_CODE;
        return;
      }
      process.stderr.write(`${name}: ${errorMessage(error)}\n`);
      process.exitCode = error instanceof UsageError ? USAGE_EXIT_CODE : 1;
    },
  );
}
