/**
 * Whether the user gateway is registered with its relaying gateway, published beside each of its
 * sockets (PoWebSocket for the app, CoSocket for the relay).
 *
 * Until it is registered the user gateway can make no cargo, so a courier collects nothing and the
 * app's messages wait; only the gateway's log said why. The app and the relay read this file to tell
 * their user what is missing. No file (a gateway of an earlier version, or one never started): nothing
 * to say.
 */
import { RelaynetError } from '@twitter-relaynet/core';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const REGISTRATION_STATUS_FILE = 'registration-status.json';
/** A real file is about a hundred octets. */
const MAX_REGISTRATION_STATUS_FILE_LENGTH = 4096;

export interface RegistrationStatus {
  readonly registered: boolean;
  /** Where the user gateway's registration request waits for the relaying gateway's answer. */
  readonly registrationDir: string;
}

export class RegistrationStatusFileError extends RelaynetError {}

export function serializeRegistrationStatus(status: RegistrationStatus): string {
  return JSON.stringify({ registered: status.registered, registrationDir: status.registrationDir }, null, 2) + '\n';
}

/** @throws RegistrationStatusFileError naming `source` */
export function parseRegistrationStatus(text: string, source = REGISTRATION_STATUS_FILE): RegistrationStatus {
  const fail = (why: string): never => {
    throw new RegistrationStatusFileError(`${source}: ${why}`);
  };
  if (Buffer.byteLength(text) > MAX_REGISTRATION_STATUS_FILE_LENGTH) {
    fail(`larger than ${MAX_REGISTRATION_STATUS_FILE_LENGTH} octets`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    fail('not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('the file must be an object');
  const { registered, registrationDir, ...extra } = value as Record<string, unknown>;
  if (Object.keys(extra).length) fail(`unexpected field(s): ${Object.keys(extra).join(', ')}`);
  if (typeof registered !== 'boolean') fail('registered must be true or false');
  if (typeof registrationDir !== 'string' || !registrationDir) fail('registrationDir must be a non-empty string');
  return { registered: registered as boolean, registrationDir: registrationDir as string };
}

/**
 * What to tell the user of the user gateway whose socket (either) is `socketPath`: one sentence if it
 * is not registered yet, null if it is or says nothing.
 */
export function describeUserGatewayRegistration(socketPath: string): string | null {
  const file = join(dirname(socketPath), REGISTRATION_STATUS_FILE);
  let status: RegistrationStatus;
  try {
    status = parseRegistrationStatus(readFileSync(file, 'utf8'), file);
  } catch (error) {
    // No such file, or no such folder (a socket path the user mistyped: the connection says so).
    if (['ENOENT', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? '')) return null;
    return `the user gateway's registration status cannot be read: ${(error as Error).message}`;
  }
  if (status.registered) return null;
  return (
    'the user gateway is not registered with its relaying gateway yet, so it can make no cargo: what it holds ' +
    `waits there. It registers by itself once the relaying gateway answers its request in ${status.registrationDir}: ` +
    'the relaying gateway must be running and reach that folder (npm start runs both; see README.md, "Where state lives")'
  );
}
