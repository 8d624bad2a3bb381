/**
 * The PKI the core benchmarks use, built once per process with the public API:
 *
 *   internet gateway (self-issued) → private gateway → private endpoint → PDA for a public endpoint
 *
 * Parcels go from the public endpoint (sender certificate: the PDA, chain: the private endpoint's
 * certificate) to the private endpoint, which trusts its own certificate; so validating one checks
 * the message signature and one certificate signature (PDA ← private endpoint), like the floor.
 * Cargo goes from the private gateway to the internet gateway, which trusts its own certificate.
 *
 * It crosses to child processes as JSON (PKCS#8, SPKI and certificate DER in base64).
 */
import {
  Certificate,
  derDeserializeEcdhPrivateKey,
  derDeserializeEcdhPublicKey,
  derDeserializeRsaPrivateKey,
  derSerializePrivateKey,
  derSerializePublicKey,
  generateRsaKeyPair,
  generateSessionKeyPair,
  type KeyPair,
  type SessionKeyPair,
} from '@twitter-relaynet/core';
import { issuePkiChain } from '@twitter-relaynet/test-support';
import { createPublicKey } from 'node:crypto';

export interface NodeFixture {
  readonly keyPair: KeyPair;
  readonly certificate: Certificate;
}

export interface CoreFixture {
  readonly internetGateway: NodeFixture;
  readonly privateGateway: NodeFixture;
  readonly privateEndpoint: NodeFixture;
  /** The public endpoint's keys and the PDA the private endpoint issued it. */
  readonly publicEndpoint: NodeFixture;
  /** The private endpoint's current session key (parcels with a channel session use it). */
  readonly privateEndpointSession: SessionKeyPair;
  /** The internet gateway's current session key (cargo uses it). */
  readonly internetGatewaySession: SessionKeyPair;
}

export async function makeCoreFixture(): Promise<CoreFixture> {
  const [igKeys, pgKeys, peKeys, pubKeys] = await Promise.all([1, 2, 3, 4].map(() => generateRsaKeyPair()));
  const now = Math.floor(Date.now() / 1000) * 1000;
  const dates = { validityStartDate: new Date(now - 3_600_000), validityEndDate: new Date(now + 86_400_000) };
  const chain = await issuePkiChain(
    { internetGateway: igKeys, privateGateway: pgKeys, privateEndpoint: peKeys, publicEndpoint: pubKeys },
    dates,
  );
  const [privateEndpointSession, internetGatewaySession] = await Promise.all([
    generateSessionKeyPair(),
    generateSessionKeyPair(),
  ]);
  return {
    internetGateway: { keyPair: igKeys, certificate: chain.internetGateway },
    privateGateway: { keyPair: pgKeys, certificate: chain.privateGateway },
    privateEndpoint: { keyPair: peKeys, certificate: chain.privateEndpoint },
    publicEndpoint: { keyPair: pubKeys, certificate: chain.pda },
    privateEndpointSession,
    internetGatewaySession,
  };
}

// ---------------------------------------------------------------------------------------------
// JSON form, for child processes

interface NodeJson {
  readonly privateKey: string;
  readonly certificate: string;
}
interface SessionJson {
  readonly keyId: string;
  readonly publicKey: string;
  readonly privateKey: string;
}
export interface CoreFixtureJson {
  readonly internetGateway: NodeJson;
  readonly privateGateway: NodeJson;
  readonly privateEndpoint: NodeJson;
  readonly publicEndpoint: NodeJson;
  readonly privateEndpointSession: SessionJson;
  readonly internetGatewaySession: SessionJson;
}

const b64 = (buffer: Buffer) => buffer.toString('base64');
const unb64 = (text: string) => Buffer.from(text, 'base64');

function nodeToJson(node: NodeFixture): NodeJson {
  return {
    privateKey: b64(derSerializePrivateKey(node.keyPair.privateKey)),
    certificate: b64(node.certificate.serialize()),
  };
}

function nodeFromJson(json: NodeJson): NodeFixture {
  const privateKey = derDeserializeRsaPrivateKey(unb64(json.privateKey));
  return {
    keyPair: { privateKey, publicKey: createPublicKey(privateKey) },
    certificate: Certificate.deserialize(unb64(json.certificate)),
  };
}

function sessionToJson(pair: SessionKeyPair): SessionJson {
  return {
    keyId: b64(pair.sessionKey.keyId),
    publicKey: b64(derSerializePublicKey(pair.sessionKey.publicKey)),
    privateKey: b64(derSerializePrivateKey(pair.privateKey)),
  };
}

function sessionFromJson(json: SessionJson): SessionKeyPair {
  return {
    sessionKey: { keyId: unb64(json.keyId), publicKey: derDeserializeEcdhPublicKey(unb64(json.publicKey)) },
    privateKey: derDeserializeEcdhPrivateKey(unb64(json.privateKey)),
  };
}

export function fixtureToJson(fixture: CoreFixture): CoreFixtureJson {
  return {
    internetGateway: nodeToJson(fixture.internetGateway),
    privateGateway: nodeToJson(fixture.privateGateway),
    privateEndpoint: nodeToJson(fixture.privateEndpoint),
    publicEndpoint: nodeToJson(fixture.publicEndpoint),
    privateEndpointSession: sessionToJson(fixture.privateEndpointSession),
    internetGatewaySession: sessionToJson(fixture.internetGatewaySession),
  };
}

export function fixtureFromJson(json: CoreFixtureJson): CoreFixture {
  return {
    internetGateway: nodeFromJson(json.internetGateway),
    privateGateway: nodeFromJson(json.privateGateway),
    privateEndpoint: nodeFromJson(json.privateEndpoint),
    publicEndpoint: nodeFromJson(json.publicEndpoint),
    privateEndpointSession: sessionFromJson(json.privateEndpointSession),
    internetGatewaySession: sessionFromJson(json.internetGatewaySession),
  };
}
