/**
 * Connection parameters of a public endpoint: what a private endpoint needs to send it its first parcel.
 *
 * The adapter publishes them in the shared data root; the app reads them. A JSON document (RS-000's
 * NodeConnectionParameters, with the identity certificate instead of the bare key so the private endpoint
 * can encrypt sessionless payloads and check ids):
 *
 * ```json
 * {
 *   "format": "relaynet-connection-parameters",
 *   "version": 1,
 *   "internetAddress": "twitter.relaynet.local",
 *   "id": "0d2c…",                                  // node id = "0" + hex SHA-256(SPKI); checked against the cert
 *   "identityCertificate": "<base64 DER X.509>",
 *   "sessionKey": {                                 // optional: absent → sessionless first contact
 *     "id": "<base64 key id>",
 *     "publicKey": "<base64 DER SubjectPublicKeyInfo (ECDH P-256)>",
 *     "creationDate": "2026-01-01T00:00:00.000Z"
 *   }
 * }
 * ```
 */
import { promises as fs } from 'node:fs';

import {
  Certificate,
  derDeserializeEcdhPublicKey,
  derSerializePublicKey,
  isValidDomainName,
  type SessionKey,
  writeFileAtomically,
} from '@twitter-relaynet/core';

import { ConnectionParametersError } from './errors';

export const CONNECTION_PARAMETERS_FORMAT = 'relaynet-connection-parameters';
export const CONNECTION_PARAMETERS_VERSION = 1;
/** Refuse documents larger than this (a certificate and a key are a few KiB). */
export const MAX_CONNECTION_PARAMETERS_LENGTH = 64 * 1024;

export interface ConnectionParameters {
  readonly internetAddress: string;
  readonly identityCertificate: Certificate;
  /** The endpoint's current initial session key (RS-003), if it offers one. */
  readonly sessionKey?: SessionKey & { readonly creationDate: Date };
}

/** The node id of the endpoint these parameters describe. */
export function getConnectionParametersId(parameters: ConnectionParameters): string {
  return parameters.identityCertificate.calculateSubjectId();
}

export function serializeConnectionParameters(parameters: ConnectionParameters): string {
  if (!isValidDomainName(parameters.internetAddress)) {
    throw new ConnectionParametersError(`Invalid Internet address ${JSON.stringify(parameters.internetAddress)}`);
  }
  const document: Record<string, unknown> = {
    format: CONNECTION_PARAMETERS_FORMAT,
    version: CONNECTION_PARAMETERS_VERSION,
    internetAddress: parameters.internetAddress,
    id: getConnectionParametersId(parameters),
    identityCertificate: parameters.identityCertificate.serialize().toString('base64'),
  };
  if (parameters.sessionKey) {
    document.sessionKey = {
      id: parameters.sessionKey.keyId.toString('base64'),
      publicKey: derSerializePublicKey(parameters.sessionKey.publicKey).toString('base64'),
      creationDate: parameters.sessionKey.creationDate.toISOString(),
    };
  }
  return JSON.stringify(document, null, 2) + '\n';
}

export function parseConnectionParameters(serialization: string | Buffer): ConnectionParameters {
  if (serialization.length > MAX_CONNECTION_PARAMETERS_LENGTH) {
    throw new ConnectionParametersError(`Connection parameters exceed ${MAX_CONNECTION_PARAMETERS_LENGTH} octets`);
  }
  let document: unknown;
  try {
    document = JSON.parse(serialization.toString());
  } catch (error) {
    throw new ConnectionParametersError('Connection parameters are not valid JSON', { cause: error });
  }
  if (!isObject(document)) throw new ConnectionParametersError('Connection parameters must be a JSON object');
  if (document.format !== CONNECTION_PARAMETERS_FORMAT) {
    throw new ConnectionParametersError(`Unknown connection parameters format ${JSON.stringify(document.format)}`);
  }
  if (document.version !== CONNECTION_PARAMETERS_VERSION) {
    throw new ConnectionParametersError(
      `Unsupported connection parameters version ${JSON.stringify(document.version)}`,
    );
  }
  const internetAddress = document.internetAddress;
  if (typeof internetAddress !== 'string' || !isValidDomainName(internetAddress)) {
    throw new ConnectionParametersError(`Invalid Internet address ${JSON.stringify(internetAddress)}`);
  }
  let identityCertificate: Certificate;
  try {
    identityCertificate = Certificate.deserialize(base64Field(document.identityCertificate, 'identityCertificate'));
    void identityCertificate.publicKey; // RSA ≥ 2048 or throw
  } catch (error) {
    if (error instanceof ConnectionParametersError) throw error;
    throw new ConnectionParametersError(`Invalid identity certificate: ${(error as Error).message}`, { cause: error });
  }
  const id = identityCertificate.calculateSubjectId();
  if (document.id !== undefined && document.id !== id) {
    throw new ConnectionParametersError(`Id ${JSON.stringify(document.id)} does not match the certificate (${id})`);
  }
  if (document.sessionKey === undefined || document.sessionKey === null) {
    return { internetAddress, identityCertificate };
  }
  const sessionKeyDoc = document.sessionKey;
  if (!isObject(sessionKeyDoc)) throw new ConnectionParametersError('sessionKey must be an object');
  const keyId = base64Field(sessionKeyDoc.id, 'sessionKey.id');
  if (keyId.length === 0 || keyId.length > 64) {
    throw new ConnectionParametersError('sessionKey.id must span 1..64 octets');
  }
  let publicKey;
  try {
    publicKey = derDeserializeEcdhPublicKey(base64Field(sessionKeyDoc.publicKey, 'sessionKey.publicKey'));
  } catch (error) {
    if (error instanceof ConnectionParametersError) throw error;
    throw new ConnectionParametersError(`Invalid session public key: ${(error as Error).message}`, { cause: error });
  }
  const creationDate = new Date(typeof sessionKeyDoc.creationDate === 'string' ? sessionKeyDoc.creationDate : NaN);
  if (Number.isNaN(creationDate.getTime())) {
    throw new ConnectionParametersError('sessionKey.creationDate must be an ISO 8601 date');
  }
  return { internetAddress, identityCertificate, sessionKey: { keyId, publicKey, creationDate } };
}

/** Write the parameters atomically, world-readable: they are public. */
export async function writeConnectionParameters(path: string, parameters: ConnectionParameters): Promise<void> {
  await writeFileAtomically(path, serializeConnectionParameters(parameters), 0o644);
}

export async function readConnectionParameters(path: string): Promise<ConnectionParameters> {
  return parseConnectionParameters(await fs.readFile(path));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function base64Field(value: unknown, name: string): Buffer {
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0) {
    throw new ConnectionParametersError(`${name} must be a base64 string`);
  }
  return Buffer.from(value, 'base64');
}
