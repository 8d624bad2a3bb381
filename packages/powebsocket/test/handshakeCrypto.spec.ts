import {
  Certificate,
  derSerializePublicKey,
  generateRsaKeyPair,
  issueEndpointCertificate,
  issueGatewayCertificate,
  type KeyPair,
  silentLogger,
} from '@twitter-relaynet/core';

import {
  CloseCode,
  HandshakeError,
  PoWebSocketConnection,
  PoWebSocketServer,
  makeEndpointCertificateIssuer,
  makeHandshakeSigner,
  makeHandshakeVerifier,
} from '../src';
import { tempSocketPath } from './helpers';

describe('default handshake crypto (detached CMS SignedData over the core)', () => {
  let gatewayKeys: KeyPair;
  let gatewayCertificate: Certificate;
  let endpointKeys: KeyPair;
  let endpointCertificate: Certificate;
  let strangerKeys: KeyPair;
  let strangerCertificate: Certificate;
  let server: PoWebSocketServer;
  let cleanup: () => void;
  let socketPath: string;
  const delivered: Array<{ parcel: Buffer; ids: readonly string[] }> = [];

  beforeAll(async () => {
    [gatewayKeys, endpointKeys, strangerKeys] = await Promise.all([
      generateRsaKeyPair(),
      generateRsaKeyPair(),
      generateRsaKeyPair(),
    ]);
    const validityEndDate = new Date(Date.now() + 86_400_000);
    gatewayCertificate = await issueGatewayCertificate({
      subjectPublicKey: gatewayKeys.publicKey,
      issuerPrivateKey: gatewayKeys.privateKey,
      validityEndDate,
    });
    endpointCertificate = await issueEndpointCertificate({
      subjectPublicKey: endpointKeys.publicKey,
      issuerPrivateKey: gatewayKeys.privateKey,
      issuerCertificate: gatewayCertificate,
      validityEndDate,
    });
    // Self-issued: a valid signature, but not from a certificate this gateway issued.
    strangerCertificate = await issueEndpointCertificate({
      subjectPublicKey: strangerKeys.publicKey,
      issuerPrivateKey: strangerKeys.privateKey,
      validityEndDate,
    });
    ({ socketPath, cleanup } = tempSocketPath());
    server = await PoWebSocketServer.listen({
      socketPath,
      verify: makeHandshakeVerifier(gatewayCertificate),
      issueEndpointCertificate: makeEndpointCertificateIssuer({
        gatewayPrivateKey: gatewayKeys.privateKey,
        gatewayCertificate,
      }),
      onParcelDelivered: async (parcel, ids) => {
        delivered.push({ parcel, ids });
      },
      parcelSource: async function* () {},
      logger: silentLogger,
    });
  });

  afterAll(async () => {
    await server.close();
    cleanup();
  });

  test('an endpoint with a certificate issued by the gateway authenticates as its id', async () => {
    const connection = await PoWebSocketConnection.connect({
      socketPath,
      sign: makeHandshakeSigner([{ privateKey: endpointKeys.privateKey, certificate: endpointCertificate }]),
      logger: silentLogger,
    });
    await connection.deliverParcel(Buffer.from('parcel'));
    await connection.close();
    expect(delivered.at(-1)).toEqual({
      parcel: Buffer.from('parcel'),
      ids: [endpointCertificate.calculateSubjectId()],
    });
  });

  test('a signature from a certificate the gateway did not issue is refused with 1003', async () => {
    const attempt = PoWebSocketConnection.connect({
      socketPath,
      sign: makeHandshakeSigner([
        { privateKey: endpointKeys.privateKey, certificate: endpointCertificate },
        { privateKey: strangerKeys.privateKey, certificate: strangerCertificate },
      ]),
      logger: silentLogger,
    });
    await expect(attempt).rejects.toBeInstanceOf(HandshakeError);
    await expect(attempt).rejects.toMatchObject({ closeCode: CloseCode.UnsupportedData });
  });

  test('a signature over another nonce is refused with 1003', async () => {
    const signer = makeHandshakeSigner([{ privateKey: endpointKeys.privateKey, certificate: endpointCertificate }]);
    const attempt = PoWebSocketConnection.connect({
      socketPath,
      sign: () => signer(Buffer.from('some other nonce')),
      logger: silentLogger,
    });
    await expect(attempt).rejects.toMatchObject({ closeCode: CloseCode.UnsupportedData });
  });

  test('registration then handshake on one connection with the newly issued certificate', async () => {
    const newKeys = await generateRsaKeyPair();
    let issued: Certificate | undefined;
    const connection = await PoWebSocketConnection.connect({
      socketPath,
      registration: {
        publicKey: derSerializePublicKey(newKeys.publicKey),
        onRegistered: async ({ endpointCertificate: der, gatewayCertificate: gatewayDer }) => {
          issued = Certificate.deserialize(der);
          expect(Certificate.deserialize(gatewayDer).isEqual(gatewayCertificate)).toBe(true);
        },
      },
      sign: (nonce) => makeHandshakeSigner([{ privateKey: newKeys.privateKey, certificate: issued! }])(nonce),
      logger: silentLogger,
    });
    await connection.deliverParcel(Buffer.from('hello'));
    await connection.close();
    expect(await issued!.isIssuedBy(gatewayCertificate)).toBe(true);
    expect(delivered.at(-1)!.ids).toEqual([issued!.calculateSubjectId()]);
  });
});

test('without a logger option, neither side writes anything to stderr (a library is silent; the daemon chooses)', async () => {
  const [gatewayKeys, strangerKeys] = await Promise.all([generateRsaKeyPair(), generateRsaKeyPair()]);
  const validityEndDate = new Date(Date.now() + 86_400_000);
  const gatewayCertificate = await issueGatewayCertificate({
    subjectPublicKey: gatewayKeys.publicKey,
    issuerPrivateKey: gatewayKeys.privateKey,
    validityEndDate,
  });
  const strangerCertificate = await issueEndpointCertificate({
    subjectPublicKey: strangerKeys.publicKey,
    issuerPrivateKey: strangerKeys.privateKey,
    validityEndDate,
  });
  const { socketPath, cleanup } = tempSocketPath();
  const written: string[] = [];
  const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  });
  const server = await PoWebSocketServer.listen({
    socketPath,
    verify: makeHandshakeVerifier(gatewayCertificate),
    onParcelDelivered: async () => undefined,
    parcelSource: async function* () {},
  });
  try {
    // A refused handshake is logged by both sides (a warning) when they have a logger.
    const attempt = PoWebSocketConnection.connect({
      socketPath,
      sign: makeHandshakeSigner([{ privateKey: strangerKeys.privateKey, certificate: strangerCertificate }]),
    });
    await expect(attempt).rejects.toMatchObject({ closeCode: CloseCode.UnsupportedData });
  } finally {
    await server.close();
    spy.mockRestore();
    cleanup();
  }
  expect(written).toEqual([]);
});
