/**
 * The conformance suite's factory for the gRPC bindings (PogRPC and CogRPC), and the raw-bytes probe it uses to see
 * how a gRPC server ends a connection (TLS alert, HTTP/2 GOAWAY or a plain close).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { DeliveryInput, DeliveryOptions, DeliveryReport, DeliverySource } from '@twitter-relaynet/binding';
import { generateSelfSignedCertificate, parseAddress, type ClientTls, type ServerTls } from '@twitter-relaynet/pogrpc';

import type { BindingFactory } from './types';

const H2_ERRORS = [
  'NO_ERROR',
  'PROTOCOL_ERROR',
  'INTERNAL_ERROR',
  'FLOW_CONTROL_ERROR',
  'SETTINGS_TIMEOUT',
  'STREAM_CLOSED',
  'FRAME_SIZE_ERROR',
  'REFUSED_STREAM',
  'CANCEL',
  'COMPRESSION_ERROR',
  'CONNECT_ERROR',
  'ENHANCE_YOUR_CALM',
  'INADEQUATE_SECURITY',
  'HTTP_1_1_REQUIRED',
];

/** Describe how the server ended a raw connection from what it sent back. */
export function classifyRawResponse(received: Buffer, tls: boolean): string {
  if (tls) {
    // TLS record: type(1) version(2) length(2); 0x15 = alert.
    for (let offset = 0; offset + 5 <= received.length; offset += 5 + received.readUInt16BE(offset + 3)) {
      if (received[offset] === 0x15) return 'tls-alert';
    }
    return 'closed';
  }
  // HTTP/2 frames: length(3) type(1) flags(1) stream(4); GOAWAY = 0x7 with lastStreamId(4) errorCode(4).
  for (let offset = 0; offset + 9 <= received.length;) {
    const length = received.readUIntBE(offset, 3);
    const type = received[offset + 3];
    if (type === 0x7 && offset + 9 + 8 <= received.length) {
      const code = received.readUInt32BE(offset + 9 + 4);
      return `goaway:${H2_ERRORS[code] ?? code}`;
    }
    offset += 9 + length;
  }
  return 'closed';
}

/** Open a raw connection to `address`, write `bytes`, and resolve with how the server ended it. */
export function sendRawBytes(
  address: string,
  bytes: Buffer,
  tls: boolean,
  timeoutMs = 5_000,
): Promise<{ reason: string; received: Buffer }> {
  const target = parseAddress(address);
  return new Promise((resolve, reject) => {
    const socket: Socket = target.path ? connect(target.path) : connect(target.port, target.host);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('Server did not end the raw connection'));
    }, timeoutMs);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.on('connect', () => socket.write(bytes));
    socket.on('end', () => socket.end());
    socket.on('close', () => {
      clearTimeout(timer);
      const received = Buffer.concat(chunks);
      resolve({ reason: classifyRawResponse(received, tls), received });
    });
  });
}

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
const CLIENT_HELLO_START = Buffer.from([0x16, 0x03, 0x01, 0x00, 0xc8, 0x01, 0x00]);

/** The conformance suite's raw inputs for a gRPC server (PogRPC or CogRPC), and how it must answer them. */
function grpcRawInputs(
  tls: boolean,
): Pick<BindingFactory<string>, 'garbageReason' | 'stalledInput' | 'stallReason' | 'malformedInputs'> {
  return {
    garbageReason: tls ? 'closed' : 'goaway:INTERNAL_ERROR',
    stalledInput: tls ? CLIENT_HELLO_START : PREFACE.subarray(0, 10),
    stallReason: 'closed',
    malformedInputs: tls
      ? [
          { name: 'plaintext HTTP/2 preface on the TLS port', bytes: PREFACE, expectedReason: 'closed' },
          {
            name: 'HTTP/1.1 request on the TLS port',
            bytes: Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
            expectedReason: 'closed',
          },
        ]
      : [
          {
            name: 'TLS ClientHello on the plaintext port',
            bytes: CLIENT_HELLO_START,
            expectedReason: 'goaway:INTERNAL_ERROR',
          },
          {
            name: 'HTTP/1.1 request',
            bytes: Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
            expectedReason: 'goaway:INTERNAL_ERROR',
          },
          {
            name: 'HEADERS frame on stream 0',
            // A connection error; Node's HTTP/2 layer reports it with GOAWAY INTERNAL_ERROR.
            bytes: Buffer.concat([
              PREFACE,
              Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]),
              Buffer.from([0, 0, 1, 1, 4, 0, 0, 0, 0, 0x82]),
            ]),
            expectedReason: 'goaway:INTERNAL_ERROR',
          },
        ],
  };
}

export interface GrpcFactoryOptions<Field extends string> {
  readonly name: string;
  readonly mode: 'tls-tcp' | 'plaintext-unix';
  readonly field: Field;
  readonly maxMessageSize: number;
  readonly frameOverhead: number;
  startServer(options: {
    address: string;
    tls: ServerTls;
    idleTimeoutMs: number;
    onMessage: (message: Buffer) => Promise<void>;
  }): Promise<{ readonly address: string; bufferedBytes(): number; close(): Promise<void> }>;
  /** A client of `address` and its delivery method. */
  connect(
    address: string,
    tls: ClientTls,
  ): {
    deliver(items: DeliverySource<DeliveryInput<Field>>, options?: DeliveryOptions): Promise<DeliveryReport<Field>>;
    close(): void;
  };
}

const identity = generateSelfSignedCertificate();

/**
 * The conformance suite's factory for a gRPC binding (PogRPC, CogRPC): TLS over TCP or plaintext over a Unix
 * socket; the suite calls the client's delivery method (the binding contract) directly.
 */
export function grpcBindingFactory<Field extends string>(options: GrpcFactoryOptions<Field>): BindingFactory<Field> {
  const tls = options.mode === 'tls-tcp';
  const serverTls: ServerTls = tls ? identity : { insecurePlaintextForTests: true };
  const clientTls: ClientTls = tls
    ? { pinnedCertificatePem: identity.certificatePem }
    : { insecurePlaintextForTests: true };
  return {
    name: `${options.name} (${options.mode})`,
    field: options.field,
    maxMessageSize: options.maxMessageSize,
    window: 5,
    frameOverhead: options.frameOverhead,
    ...grpcRawInputs(tls),
    async start({ onMessage, idleTimeoutMs }) {
      const dir = await mkdtemp(join(tmpdir(), 'grpc-binding-'));
      const server = await options.startServer({
        address: tls ? '127.0.0.1:0' : `unix://${join(dir, 'server.sock')}`,
        tls: serverTls,
        idleTimeoutMs,
        onMessage,
      });
      const target = parseAddress(server.address);
      return {
        endpoint: target.path ? { path: target.path } : { host: target.host, port: target.port },
        async connectClient(via) {
          const client = options.connect(
            !via ? server.address : 'path' in via ? `unix://${via.path}` : `${via.host ?? '127.0.0.1'}:${via.port}`,
            clientTls,
          );
          return {
            deliver: (items, deliverOptions) => client.deliver(items, deliverOptions),
            destroy: () => client.close(),
            close: async () => client.close(),
          };
        },
        sendRaw: async (bytes) => ({ reason: (await sendRawBytes(server.address, bytes, tls)).reason }),
        bufferedBytes: () => server.bufferedBytes(),
        async close() {
          await server.close();
          await rm(dir, { recursive: true, force: true });
        },
      };
    },
  };
}
