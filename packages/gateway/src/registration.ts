import type { KeyObject } from 'node:crypto';
import { mkdir, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';

import {
  Certificate,
  derDeserializeRsaPublicKey,
  derSerializePublicKey,
  derToPem,
  getIdFromIdentityKey,
  issueGatewayCertificate,
  pemToDer,
  writeFileAtomically,
} from '@twitter-relaynet/core';

import { type Clock, systemClock } from './clock';
import { RegistrationError } from './errors';
import { CARGO_BACKDATING_MS } from './Gateway';
import type { RelayingGateway } from './RelayingGateway';

/**
 * File-based registration of a user gateway with its relaying gateway, through a directory both
 * can reach (on one machine: `<data root>/registration/`; between machines: a flashdrive that a
 * courier carries, see README):
 *
 * 1. the user gateway writes `<its id>.request.pem`: its public key (PEM);
 * 2. the relaying gateway answers every request with `<user gateway id>.response.json`: the
 *    certificate it issued (180 days) and its own self-issued certificate, and deletes the request;
 * 3. the user gateway reads the response, checks it, and keeps both certificates.
 *
 * Every file is written to a temporary name, fsync'd and renamed, so a reader never sees half a file.
 */

const REQUEST_SUFFIX = '.request.pem';
const RESPONSE_SUFFIX = '.response.json';
/** The relaying gateway's certificate lasts this long when it issues it to itself. */
export const RELAYING_GATEWAY_CERTIFICATE_VALIDITY_MS = 360 * 24 * 60 * 60 * 1000;

export interface RegistrationResponse {
  readonly userGatewayCertificate: Certificate;
  readonly relayingGatewayCertificate: Certificate;
  readonly relayingGatewayInternetAddress?: string;
}

interface RegistrationResponseFile {
  readonly userGatewayCertificate: string;
  readonly relayingGatewayCertificate: string;
  readonly relayingGatewayInternetAddress?: string;
}

/** Self-issue a relaying gateway's certificate (backdated 3 h like everything it signs). */
export function selfIssueGatewayCertificate(
  keyPair: { readonly publicKey: KeyObject; readonly privateKey: KeyObject },
  options: { clock?: Clock; validityMs?: number } = {},
): Promise<Certificate> {
  const now = (options.clock ?? systemClock).now().getTime();
  return issueGatewayCertificate({
    subjectPublicKey: keyPair.publicKey,
    issuerPrivateKey: keyPair.privateKey,
    validityStartDate: new Date(now - CARGO_BACKDATING_MS - 60_000),
    validityEndDate: new Date(now + (options.validityMs ?? RELAYING_GATEWAY_CERTIFICATE_VALIDITY_MS)),
  });
}

/** User gateway, step 1. Resolves to the path of the request file. */
export async function writeRegistrationRequest(directory: string, userGatewayPublicKey: KeyObject): Promise<string> {
  const id = getIdFromIdentityKey(userGatewayPublicKey);
  const path = join(directory, id + REQUEST_SUFFIX);
  await writeFileAtomically(path, derToPem(derSerializePublicKey(userGatewayPublicKey), 'PUBLIC KEY'));
  return path;
}

/**
 * Relaying gateway, step 2: answer every pending request in `directory`, each with a response in
 * `options.responsesDirectory` (default: beside the request). Resolves to the ids of the user gateways
 * registered. A malformed request is left alone and reported through `onError`.
 *
 * With a responses directory of its own, a response found beside the requests (written there by an earlier
 * version) is moved to it first.
 */
export async function answerRegistrationRequests(
  directory: string,
  relayingGateway: RelayingGateway,
  options: {
    readonly internetAddress?: string;
    readonly responsesDirectory?: string;
    readonly onError?: (file: string, error: unknown) => void;
  } = {},
): Promise<string[]> {
  const responsesDirectory = options.responsesDirectory ?? directory;
  await mkdir(directory, { recursive: true });
  if (responsesDirectory !== directory) {
    await mkdir(responsesDirectory, { recursive: true });
    for (const file of (await readdir(directory)).filter((name) => name.endsWith(RESPONSE_SUFFIX))) {
      await rename(join(directory, file), join(responsesDirectory, file));
    }
  }
  const registered: string[] = [];
  for (const file of (await readdir(directory)).filter((name) => name.endsWith(REQUEST_SUFFIX)).sort()) {
    const requestPath = join(directory, file);
    try {
      const publicKey = derDeserializeRsaPublicKey(pemToDer(await readFile(requestPath), 'PUBLIC KEY'));
      const id = getIdFromIdentityKey(publicKey);
      if (file !== id + REQUEST_SUFFIX) {
        throw new RegistrationError(`Request file ${file} does not hold the key of ${id}`);
      }
      const certificate = await relayingGateway.registerUserGateway(publicKey);
      const response: RegistrationResponseFile = {
        userGatewayCertificate: derToPem(certificate.serialize(), 'CERTIFICATE'),
        relayingGatewayCertificate: derToPem(relayingGateway.certificate.serialize(), 'CERTIFICATE'),
        ...(options.internetAddress ? { relayingGatewayInternetAddress: options.internetAddress } : {}),
      };
      await writeFileAtomically(
        join(responsesDirectory, id + RESPONSE_SUFFIX),
        JSON.stringify(response, null, 2) + '\n',
      );
      await unlink(requestPath);
      registered.push(id);
    } catch (error) {
      options.onError?.(requestPath, error);
    }
  }
  return registered;
}

/**
 * User gateway, step 3: read and check the response for our key; null if there is none yet.
 *
 * @throws RegistrationError if the response does not certify our key or was not issued by the
 *   relaying gateway certificate it carries.
 */
export async function readRegistrationResponse(
  directory: string,
  userGatewayPublicKey: KeyObject,
): Promise<RegistrationResponse | null> {
  const id = getIdFromIdentityKey(userGatewayPublicKey);
  let text: string;
  try {
    text = await readFile(join(directory, id + RESPONSE_SUFFIX), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  let userGatewayCertificate: Certificate;
  let relayingGatewayCertificate: Certificate;
  let parsed: RegistrationResponseFile;
  try {
    parsed = JSON.parse(text) as RegistrationResponseFile;
    userGatewayCertificate = Certificate.deserialize(pemToDer(parsed.userGatewayCertificate, 'CERTIFICATE'));
    relayingGatewayCertificate = Certificate.deserialize(pemToDer(parsed.relayingGatewayCertificate, 'CERTIFICATE'));
  } catch (error) {
    throw new RegistrationError(`Registration response for ${id} is malformed`, { cause: error });
  }
  if (userGatewayCertificate.calculateSubjectId() !== id) {
    throw new RegistrationError(
      `Registration response certifies ${userGatewayCertificate.calculateSubjectId()}, not ${id}`,
    );
  }
  if (!(await userGatewayCertificate.isIssuedBy(relayingGatewayCertificate))) {
    throw new RegistrationError('Registration response: our certificate was not issued by the relaying gateway');
  }
  if (!(await relayingGatewayCertificate.isIssuedBy(relayingGatewayCertificate))) {
    throw new RegistrationError('Registration response: the relaying gateway certificate is not self-issued');
  }
  return {
    userGatewayCertificate,
    relayingGatewayCertificate,
    ...(parsed.relayingGatewayInternetAddress
      ? { relayingGatewayInternetAddress: parsed.relayingGatewayInternetAddress }
      : {}),
  };
}
