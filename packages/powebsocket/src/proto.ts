/**
 * Wire codec: the tag octet, the protobuf messages (loaded at run time from the repository's `proto/`
 * directory with protobufjs) and a copy-free encoder for ParcelDelivery.
 */
import * as path from 'node:path';
import * as protobuf from 'protobufjs';

import { findProtoFolder, protobufVarint as varint } from '@twitter-relaynet/core';

/** Largest parcel one message may carry: 9 MiB. */
export const MAX_PARCEL_SIZE = 9 * 1024 * 1024; // 9 437 184 octets
/** Longest delivery id accepted (UUID4s have 36 characters). */
export const MAX_DELIVERY_ID_LENGTH = 128;
/** Protobuf + tag overhead allowed on top of the parcel in one WebSocket message. */
export const MAX_MESSAGE_OVERHEAD = 1024;
/** ws `maxPayload`: larger frames are refused by ws itself with close code 1009. */
export const MAX_WS_PAYLOAD = MAX_PARCEL_SIZE + MAX_MESSAGE_OVERHEAD;
/** Largest message accepted before the handshake completes (challenge, response, registration). */
export const MAX_PRE_HANDSHAKE_MESSAGE_SIZE = 1024 * 1024;

export enum MessageTag {
  ParcelDelivery = 0x00,
  ParcelDeliveryAck = 0x01,
  ParcelCollectionRequest = 0x02,
  ParcelDeliveryComplete = 0x03,
  EndpointCertificateRequest = 0x04,
  EndpointCertificateResponse = 0x05,
  ParcelDeliveryDeauthorization = 0x06,
}

const PROTO_FILES = ['powebsocket.proto', 'powebsocket-handshake.proto'];

/** The `proto/` folder holding PoWebSocket's files (core's lookup, from this module's folder by default). */
export function findProtoDirectory(startDir: string = __dirname): string {
  return findProtoFolder(PROTO_FILES, startDir);
}

let cachedRoot: protobuf.Root | undefined;

export function loadProtoRoot(): protobuf.Root {
  if (!cachedRoot) {
    const dir = findProtoDirectory();
    cachedRoot = protobuf.loadSync(PROTO_FILES.map((file) => path.join(dir, file)));
    cachedRoot.resolveAll();
  }
  return cachedRoot;
}

function type(name: string): protobuf.Type {
  return loadProtoRoot().lookupType(name);
}

export interface ParcelDeliveryMessage {
  id: string;
  parcel: Buffer;
}
export interface ParcelDeliveryAckMessage {
  id: string;
}
export interface ParcelCollectionRequestMessage {
  keepAlive: boolean;
}
export interface EndpointCertificateRequestMessage {
  publicKey: Buffer;
}
export interface EndpointCertificateResponseMessage {
  certificate: Buffer;
  gatewayCertificate: Buffer;
}
/** A Parcel Delivery Deauthorization (PDD). */
export interface ParcelDeliveryDeauthorization {
  endpointAddress: string;
  pdaSerialNumbers: string[];
  /** Omitted: the deauthorization does not expire. */
  expiry?: Date;
}
export interface ParcelDeliveryDeauthorizationMessage extends ParcelDeliveryDeauthorization {
  id: string;
}

export type OperationMessage =
  | { tag: MessageTag.ParcelDelivery; message: ParcelDeliveryMessage }
  | { tag: MessageTag.ParcelDeliveryAck; message: ParcelDeliveryAckMessage }
  | { tag: MessageTag.ParcelCollectionRequest; message: ParcelCollectionRequestMessage }
  | { tag: MessageTag.ParcelDeliveryComplete; message: Record<string, never> }
  | { tag: MessageTag.EndpointCertificateRequest; message: EndpointCertificateRequestMessage }
  | { tag: MessageTag.EndpointCertificateResponse; message: EndpointCertificateResponseMessage }
  | { tag: MessageTag.ParcelDeliveryDeauthorization; message: ParcelDeliveryDeauthorizationMessage };

const TYPE_NAMES: Record<MessageTag, string> = {
  [MessageTag.ParcelDelivery]: 'relaynet.powebsocket.ParcelDelivery',
  [MessageTag.ParcelDeliveryAck]: 'relaynet.powebsocket.ParcelDeliveryAck',
  [MessageTag.ParcelCollectionRequest]: 'relaynet.powebsocket.ParcelCollectionRequest',
  [MessageTag.ParcelDeliveryComplete]: 'relaynet.powebsocket.ParcelDeliveryComplete',
  [MessageTag.EndpointCertificateRequest]: 'relaynet.powebsocket.EndpointCertificateRequest',
  [MessageTag.EndpointCertificateResponse]: 'relaynet.powebsocket.EndpointCertificateResponse',
  [MessageTag.ParcelDeliveryDeauthorization]: 'relaynet.powebsocket.ParcelDeliveryDeauthorization',
};

/** Raised for any input that is not a well-formed message: the connection closes with 1003. */
export class MalformedMessageError extends Error {
  override name = 'MalformedMessageError';
}

function toBuffer(bytes: Uint8Array | readonly number[] | undefined): Buffer {
  if (!bytes) return Buffer.alloc(0);
  if (Buffer.isBuffer(bytes)) return bytes;
  // protobufjs fills an absent `bytes` field with its default, a plain empty array, not a Uint8Array
  // (found by fuzzing: a bare 0x04 tag threw a TypeError, closing with 1011 instead of 1003).
  if (!(bytes instanceof Uint8Array)) return Buffer.from(bytes);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function decodeType(name: string, bytes: Uint8Array): protobuf.Message & Record<string, unknown> {
  try {
    // A plain Uint8Array view (not a Buffer) selects protobufjs's strict Reader: BufferReader silently
    // truncates a string field that runs past the end. `bytes` fields stay zero-copy views.
    const view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return type(name).decode(protobuf.Reader.create(view)) as protobuf.Message & Record<string, unknown>;
  } catch (err) {
    throw new MalformedMessageError(`Invalid ${name.split('.').pop()}: ${(err as Error).message}`);
  }
}

function requireString(value: unknown, field: string, max: number): string {
  const str = (value as string | undefined) ?? '';
  if (str.length > max) {
    throw new MalformedMessageError(`${field} is longer than ${max} characters`);
  }
  return str;
}

/** Decodes one tagged operation message. Throws MalformedMessageError (unknown tag, invalid protobuf). */
export function decodeOperation(data: Buffer): OperationMessage {
  if (data.length === 0) {
    throw new MalformedMessageError('Empty message: missing type tag');
  }
  const tag = data[0] as MessageTag;
  const name = TYPE_NAMES[tag];
  if (name === undefined) {
    throw new MalformedMessageError(`Unknown message tag 0x${data[0]!.toString(16).padStart(2, '0')}`);
  }
  const body = data.subarray(1);
  const decoded = decodeType(name, body);
  switch (tag) {
    case MessageTag.ParcelDelivery: {
      const id = requireString(decoded.id, 'ParcelDelivery.id', MAX_DELIVERY_ID_LENGTH);
      if (id === '') throw new MalformedMessageError('ParcelDelivery.id is empty');
      return { tag, message: { id, parcel: toBuffer(decoded.parcel as Uint8Array) } };
    }
    case MessageTag.ParcelDeliveryAck: {
      const id = requireString(decoded.id, 'ParcelDeliveryAck.id', MAX_DELIVERY_ID_LENGTH);
      return { tag, message: { id } };
    }
    case MessageTag.ParcelCollectionRequest:
      return { tag, message: { keepAlive: Boolean(decoded.keepAlive) } };
    case MessageTag.ParcelDeliveryComplete:
      return { tag, message: {} };
    case MessageTag.EndpointCertificateRequest:
      return { tag, message: { publicKey: toBuffer(decoded.publicKey as Uint8Array) } };
    case MessageTag.EndpointCertificateResponse:
      return {
        tag,
        message: {
          certificate: toBuffer(decoded.certificate as Uint8Array),
          gatewayCertificate: toBuffer(decoded.gatewayCertificate as Uint8Array),
        },
      };
    case MessageTag.ParcelDeliveryDeauthorization: {
      const expiry = decoded.expiry as { seconds?: number | protobuf.Long; nanos?: number } | undefined;
      return {
        tag,
        message: {
          id: requireString(decoded.id, 'ParcelDeliveryDeauthorization.id', MAX_DELIVERY_ID_LENGTH),
          endpointAddress: requireString(decoded.endpointAddress, 'endpoint_address', 1024),
          pdaSerialNumbers: ((decoded.pdaSerialNumbers as string[] | undefined) ?? []).map((s) =>
            requireString(s, 'pda_serial_numbers', 1024),
          ),
          ...(expiry
            ? { expiry: new Date(Number(expiry.seconds ?? 0) * 1000 + Math.floor((expiry.nanos ?? 0) / 1e6)) }
            : {}),
        },
      };
    }
  }
}

function encodeTagged(tag: MessageTag, payload: Record<string, unknown>): Buffer {
  const t = type(TYPE_NAMES[tag]);
  const body = t.encode(t.fromObject(payload)).finish();
  const out = Buffer.allocUnsafe(1 + body.length);
  out[0] = tag;
  out.set(body, 1);
  return out;
}

export function encodeParcelDeliveryAck(id: string): Buffer {
  return encodeTagged(MessageTag.ParcelDeliveryAck, { id });
}
export function encodeParcelCollectionRequest(keepAlive: boolean): Buffer {
  // proto3: a default value is not written, so the 2019 (empty) request is exactly one octet, 0x02.
  return encodeTagged(MessageTag.ParcelCollectionRequest, keepAlive ? { keepAlive } : {});
}
export function encodeParcelDeliveryComplete(): Buffer {
  return encodeTagged(MessageTag.ParcelDeliveryComplete, {});
}
export function encodeEndpointCertificateRequest(publicKey: Buffer): Buffer {
  return encodeTagged(MessageTag.EndpointCertificateRequest, { publicKey });
}
export function encodeEndpointCertificateResponse(certificate: Buffer, gatewayCertificate: Buffer): Buffer {
  return encodeTagged(MessageTag.EndpointCertificateResponse, { certificate, gatewayCertificate });
}
export function encodeParcelDeliveryDeauthorization(pdd: ParcelDeliveryDeauthorizationMessage): Buffer {
  const payload: Record<string, unknown> = {
    id: pdd.id,
    endpointAddress: pdd.endpointAddress,
    pdaSerialNumbers: pdd.pdaSerialNumbers,
  };
  if (pdd.expiry) {
    const ms = pdd.expiry.getTime();
    payload.expiry = { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
  }
  return encodeTagged(MessageTag.ParcelDeliveryDeauthorization, payload);
}

/**
 * Encodes the start of a tagged ParcelDelivery (tag, field 1, the key and length of field 2) so that the
 * parcel itself can follow as a second WebSocket fragment of the same message, without copying it.
 * `prefix ‖ parcel` is exactly the protobufjs encoding of the message, preceded by the tag.
 */
export function encodeParcelDeliveryPrefix(id: string, parcelLength: number): Buffer {
  const idBytes = Buffer.from(id, 'utf8');
  return Buffer.concat([
    Buffer.from([MessageTag.ParcelDelivery, 0x0a]),
    varint(idBytes.length),
    idBytes,
    Buffer.from([0x12]),
    varint(parcelLength),
  ]);
}

// Handshake (untagged) messages.

export function encodeChallenge(nonce: string): Buffer {
  const t = type('relaynet.powebsocket.handshake.Challenge');
  return Buffer.from(t.encode(t.fromObject({ gatewayNonce: nonce })).finish());
}
export function decodeChallenge(data: Buffer): string {
  const decoded = decodeType('relaynet.powebsocket.handshake.Challenge', data);
  const nonce = (decoded.gatewayNonce as string | undefined) ?? '';
  if (nonce.length === 0 || nonce.length > 1024) {
    throw new MalformedMessageError('Invalid handshake challenge: nonce missing or too long');
  }
  return nonce;
}
export function encodeResponse(signatures: readonly Buffer[]): Buffer {
  const t = type('relaynet.powebsocket.handshake.Response');
  return Buffer.from(t.encode(t.fromObject({ gatewayNonceSignatures: signatures })).finish());
}
export function decodeResponse(data: Buffer): Buffer[] {
  const decoded = decodeType('relaynet.powebsocket.handshake.Response', data);
  return ((decoded.gatewayNonceSignatures as Uint8Array[] | undefined) ?? []).map(toBuffer);
}
export function encodeComplete(success: boolean): Buffer {
  const t = type('relaynet.powebsocket.handshake.Complete');
  return Buffer.from(t.encode(t.fromObject({ success })).finish());
}
export function decodeComplete(data: Buffer): boolean {
  return Boolean(decodeType('relaynet.powebsocket.handshake.Complete', data).success);
}
