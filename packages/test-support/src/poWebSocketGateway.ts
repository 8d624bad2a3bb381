/**
 * A user gateway stand-in for tests of what connects to one over PoWebSocket (private endpoints, twitter-app, the
 * adapter's end-to-end tests): the real PoWebSocket server over a Unix socket, with a real self-issued gateway
 * certificate (so it issues real endpoint certificates) and in-memory queues instead of a store. Restartable with the
 * same identity and queues.
 *
 * The binding is passed in (`import * as powebsocket from '@twitter-relaynet/powebsocket'`), as `pg` is to the
 * PostgreSQL helpers: test-support depends on no binding, since the bindings' own tests use test-support.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

import { generateRsaKeyPair, issueGatewayCertificate, type Certificate } from '@twitter-relaynet/core';

/** What PoWebSocket's certificate issuer returns (DER certificates). */
interface EndpointRegistration {
  readonly endpointCertificate: Buffer;
  readonly gatewayCertificate: Buffer;
}

/** The server options the stand-in sets (a subset of PoWebSocket's). */
interface StandInServerOptions {
  readonly socketPath: string;
  verify(nonce: Buffer, signatures: readonly Buffer[]): Promise<string[]>;
  issueEndpointCertificate?(publicKey: Buffer): Promise<EndpointRegistration>;
  onParcelDelivered(parcel: Buffer, endpointIds: readonly string[]): Promise<void>;
  parcelSource(endpointIds: readonly string[]): AsyncIterable<{ readonly parcel: Buffer; ack(): Promise<void> }>;
  readonly logger?: { info(): void; warn(): void; error(): void };
}

/** The part of `@twitter-relaynet/powebsocket` the stand-in runs. */
export interface PoWebSocketModule {
  readonly PoWebSocketServer: { listen(options: StandInServerOptions): Promise<{ close(): Promise<void> }> };
  makeHandshakeVerifier(gatewayCertificate: Certificate): StandInServerOptions['verify'];
  makeEndpointCertificateIssuer(options: {
    readonly gatewayPrivateKey: KeyObject;
    readonly gatewayCertificate: Certificate;
  }): (publicKey: Buffer) => Promise<EndpointRegistration>;
}

const silentLogger: NonNullable<StandInServerOptions['logger']> = { info() {}, warn() {}, error() {} };

export class TestPoWebSocketGateway {
  /** A gateway with a fresh identity, not listening yet (see `start`). */
  static async create(powebsocket: PoWebSocketModule, socketPath: string): Promise<TestPoWebSocketGateway> {
    const { privateKey } = await generateRsaKeyPair();
    const now = Date.now();
    const certificate = await issueGatewayCertificate({
      subjectPublicKey: createPublicKey(privateKey),
      issuerPrivateKey: privateKey,
      validityStartDate: new Date(now - 3_600_000),
      validityEndDate: new Date(now + 365 * 86_400_000),
    });
    return new TestPoWebSocketGateway(powebsocket, socketPath, privateKey, certificate);
  }

  /** Parcels the endpoints delivered (and the gateway acknowledged), in order. */
  readonly delivered: Buffer[] = [];
  /** Parcels waiting for collection, by endpoint id; an acknowledged parcel leaves its queue. */
  readonly queues = new Map<string, Buffer[]>();
  private server: { close(): Promise<void> } | null = null;

  private constructor(
    private readonly powebsocket: PoWebSocketModule,
    readonly socketPath: string,
    private readonly privateKey: KeyObject,
    readonly certificate: Certificate,
  ) {}

  /** Listens on `socketPath` (its folder made 0700 if missing). */
  async start(): Promise<void> {
    mkdirSync(dirname(this.socketPath), { recursive: true, mode: 0o700 });
    const { delivered, queues } = this;
    const { PoWebSocketServer, makeHandshakeVerifier, makeEndpointCertificateIssuer } = this.powebsocket;
    this.server = await PoWebSocketServer.listen({
      socketPath: this.socketPath,
      verify: makeHandshakeVerifier(this.certificate),
      issueEndpointCertificate: makeEndpointCertificateIssuer({
        gatewayPrivateKey: this.privateKey,
        gatewayCertificate: this.certificate,
      }),
      onParcelDelivered: async (parcel) => {
        delivered.push(Buffer.from(parcel));
      },
      parcelSource: async function* (endpointIds) {
        for (const id of endpointIds) {
          const queue = queues.get(id) ?? [];
          for (const parcel of [...queue]) {
            yield {
              parcel,
              ack: async () => {
                queue.splice(queue.indexOf(parcel), 1);
              },
            };
          }
        }
      },
      logger: silentLogger,
    });
  }

  /** Queues `parcels` for collection by `endpointId`. */
  queue(endpointId: string, parcels: readonly Buffer[]): void {
    const queue = this.queues.get(endpointId) ?? [];
    queue.push(...parcels);
    this.queues.set(endpointId, queue);
  }

  /** How many parcels wait for `endpointId`. */
  pending(endpointId: string): number {
    return this.queues.get(endpointId)?.length ?? 0;
  }

  /** Stops listening (the queues and identity stay, for a restart). */
  async stop(): Promise<void> {
    await this.server?.close();
    this.server = null;
  }
}
