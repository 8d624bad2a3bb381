import * as path from 'node:path';

import * as protobuf from 'protobufjs';

import {
  MAX_PARCEL_SIZE,
  MalformedMessageError,
  MessageTag,
  decodeChallenge,
  decodeComplete,
  decodeOperation,
  decodeResponse,
  encodeChallenge,
  encodeComplete,
  encodeEndpointCertificateRequest,
  encodeEndpointCertificateResponse,
  encodeParcelCollectionRequest,
  encodeParcelDeliveryAck,
  encodeParcelDeliveryComplete,
  encodeParcelDeliveryDeauthorization,
  encodeParcelDeliveryPrefix,
  encodeResponse,
  findProtoDirectory,
  loadProtoRoot,
} from './proto';

describe('proto loading', () => {
  test('proto/ is found from src and from dist (same depth), and from deeper directories', () => {
    const expected = path.resolve(__dirname, '../../../proto');
    expect(findProtoDirectory()).toBe(expected);
    expect(findProtoDirectory(path.resolve(__dirname, '../dist'))).toBe(expected);
    expect(findProtoDirectory(path.resolve(__dirname, '../dist/sub/dir'))).toBe(expected);
  });

  test('a directory with no proto/ above it is an error', () => {
    expect(() => findProtoDirectory('/')).toThrow(/Cannot find proto/);
  });

  test('package names follow RS-016 [2019]', () => {
    const root = loadProtoRoot();
    expect(
      root.lookupType('relaynet.powebsocket.ParcelDelivery').fieldsArray.map((f) => [f.id, f.name, f.type]),
    ).toEqual([
      [1, 'id', 'string'],
      [2, 'parcel', 'bytes'],
    ]);
    expect(root.lookupType('relaynet.powebsocket.handshake.Response').fields.gatewayNonceSignatures!.repeated).toBe(
      true,
    );
    expect(root.lookupType('relaynet.powebsocket.ParcelDeliveryDeauthorization').fields.expiry!.type).toBe(
      'google.protobuf.Timestamp',
    );
  });
});

describe('ParcelDelivery prefix encoding', () => {
  test.each([0, 1, 127, 128, 16_383, 16_384, MAX_PARCEL_SIZE])(
    'prefix ‖ parcel equals protobufjs for %d octets',
    (size) => {
      const parcel = Buffer.alloc(size, 7);
      const id = '5c3e7b34-1f0e-4c55-9d0b-2b6a3a1e6f00';
      const type = loadProtoRoot().lookupType('relaynet.powebsocket.ParcelDelivery');
      const expected = Buffer.concat([Buffer.from([0]), type.encode(type.fromObject({ id, parcel })).finish()]);
      expect(Buffer.concat([encodeParcelDeliveryPrefix(id, size), parcel]).equals(expected)).toBe(true);
      const decoded = decodeOperation(expected);
      expect(decoded.tag).toBe(MessageTag.ParcelDelivery);
      const message = decoded.message as { id: string; parcel: Buffer };
      expect(message.id).toBe(id);
      expect(Buffer.isBuffer(message.parcel) && message.parcel.equals(parcel)).toBe(true);
    },
  );
});

describe('operation codec', () => {
  test('every message round-trips with its tag', () => {
    expect(decodeOperation(encodeParcelDeliveryAck('a'))).toEqual({ tag: 1, message: { id: 'a' } });
    expect(decodeOperation(encodeParcelCollectionRequest(true))).toEqual({ tag: 2, message: { keepAlive: true } });
    expect(encodeParcelCollectionRequest(false)).toEqual(Buffer.from([2])); // the 2019 empty message
    expect(decodeOperation(encodeParcelDeliveryComplete())).toEqual({ tag: 3, message: {} });
    expect(decodeOperation(encodeEndpointCertificateRequest(Buffer.from('k')))).toEqual({
      tag: 4,
      message: { publicKey: Buffer.from('k') },
    });
    expect(decodeOperation(encodeEndpointCertificateResponse(Buffer.from('c'), Buffer.from('g')))).toEqual({
      tag: 5,
      message: { certificate: Buffer.from('c'), gatewayCertificate: Buffer.from('g') },
    });
    const expiry = new Date('2031-05-06T07:08:09.123Z');
    expect(
      decodeOperation(
        encodeParcelDeliveryDeauthorization({ id: 'x', endpointAddress: '0ab', pdaSerialNumbers: ['1', '2'], expiry }),
      ),
    ).toEqual({ tag: 6, message: { id: 'x', endpointAddress: '0ab', pdaSerialNumbers: ['1', '2'], expiry } });
    expect(
      decodeOperation(encodeParcelDeliveryDeauthorization({ id: '', endpointAddress: '0ab', pdaSerialNumbers: [] }))
        .message,
    ).toEqual({ id: '', endpointAddress: '0ab', pdaSerialNumbers: [] });
  });

  test.each([
    ['empty', Buffer.alloc(0), /missing type tag/],
    ['unknown tag', Buffer.from([0x07]), /Unknown message tag 0x07/],
    ['truncated protobuf', Buffer.from([0x01, 0x0a, 0x05, 0x61]), /Invalid ParcelDeliveryAck/],
    ['wrong wire type', Buffer.from([0x00, 0x0d, 0, 0, 0, 0]), /Invalid ParcelDelivery|ParcelDelivery.id is empty/],
    ['delivery id too long', encodeParcelDeliveryAck('x'.repeat(129)), /longer than 128/],
  ])('%s is malformed', (_name, data, message) => {
    expect(() => decodeOperation(data)).toThrow(MalformedMessageError);
    expect(() => decodeOperation(data)).toThrow(message);
  });
});

describe('handshake codec (untagged)', () => {
  test('round trips', () => {
    expect(decodeChallenge(encodeChallenge('nonce'))).toBe('nonce');
    expect(decodeResponse(encodeResponse([Buffer.from('a'), Buffer.from('b')]))).toEqual([
      Buffer.from('a'),
      Buffer.from('b'),
    ]);
    expect(decodeComplete(encodeComplete(true))).toBe(true);
    expect(decodeComplete(encodeComplete(false))).toBe(false);
  });

  test('a challenge without a nonce is malformed', () => {
    expect(() => decodeChallenge(Buffer.alloc(0))).toThrow(MalformedMessageError);
  });

  test('a registration request can never be mistaken for a handshake response', () => {
    // 0x04 as the first octet of a Response would be protobuf field 0, which is invalid.
    const request = encodeEndpointCertificateRequest(Buffer.from('spki'));
    expect(request[0]).toBe(0x04);
    expect(() => decodeResponse(request)).toThrow(MalformedMessageError);
  });

  test('our encoding is plain protobufjs', () => {
    const type = new protobuf.Type('T').add(new protobuf.Field('gatewayNonce', 1, 'string'));
    expect(encodeChallenge('n').equals(Buffer.from(type.encode({ gatewayNonce: 'n' }).finish()))).toBe(true);
  });
});

describe('regressions found by fuzzing (test/proto.fuzz.spec.ts)', () => {
  test('absent bytes fields decode as empty buffers instead of throwing a TypeError', () => {
    const request = decodeOperation(Buffer.from([MessageTag.EndpointCertificateRequest]));
    expect(request).toEqual({ tag: MessageTag.EndpointCertificateRequest, message: { publicKey: Buffer.alloc(0) } });
    const response = decodeOperation(Buffer.from([MessageTag.EndpointCertificateResponse]));
    expect(Buffer.isBuffer((response.message as { certificate: Buffer }).certificate)).toBe(true);
    const delivery = decodeOperation(Buffer.from([MessageTag.ParcelDelivery, 0x0a, 0x01, 0x61]));
    expect(delivery).toEqual({ tag: MessageTag.ParcelDelivery, message: { id: 'a', parcel: Buffer.alloc(0) } });
    expect(decodeResponse(Buffer.alloc(0))).toEqual([]);
  });
});
