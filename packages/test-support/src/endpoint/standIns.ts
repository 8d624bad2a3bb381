/**
 * Test stand-ins for the nodes around twitter-app: the user gateway (the real PoWebSocket server over a Unix
 * socket, with an in-memory store; restartable with the same identity) and the Twitter API adapter (a real
 * PublicEndpoint, in memory, publishing its connection parameters where twitter-app reads them).
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

import { type Certificate, generateRsaKeyPair, issueGatewayCertificate, silentLogger } from '@twitter-relaynet/core';
import {
  createMemoryStores,
  PublicEndpoint,
  type IncomingMessage,
  type OutgoingMessage,
  type DeliveryAuthorization,
} from '@twitter-relaynet/endpoint';
import { makeEndpointCertificateIssuer, makeHandshakeVerifier, PoWebSocketServer } from '@twitter-relaynet/powebsocket';

export const ADAPTER_ADDRESS = 'twitter-api-adapter.relaynet.local';

export class TestUserGateway {
  static async create(socketPath: string): Promise<TestUserGateway> {
    const { privateKey } = await generateRsaKeyPair();
    const now = Date.now();
    const certificate = await issueGatewayCertificate({
      subjectPublicKey: createPublicKey(privateKey),
      issuerPrivateKey: privateKey,
      validityStartDate: new Date(now - 3_600_000),
      validityEndDate: new Date(now + 365 * 86_400_000),
    });
    return new TestUserGateway(socketPath, privateKey, certificate);
  }

  /** Parcels the endpoints delivered (and the gateway acked), in order. */
  readonly delivered: Buffer[] = [];
  /** Parcels waiting for collection, by endpoint id. */
  readonly queues = new Map<string, Buffer[]>();
  private server: PoWebSocketServer | null = null;

  private constructor(
    readonly socketPath: string,
    private readonly privateKey: KeyObject,
    readonly certificate: Certificate,
  ) {}

  async start(): Promise<void> {
    mkdirSync(dirname(this.socketPath), { recursive: true, mode: 0o700 });
    const { delivered, queues } = this;
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

  queue(endpointId: string, parcels: Buffer[]): void {
    const queue = this.queues.get(endpointId) ?? [];
    queue.push(...parcels);
    this.queues.set(endpointId, queue);
  }

  pending(endpointId: string): number {
    return this.queues.get(endpointId)?.length ?? 0;
  }

  async stop(): Promise<void> {
    await this.server?.close();
    this.server = null;
  }
}

export class TestAdapter {
  static async create(): Promise<TestAdapter> {
    const received: IncomingMessage[] = [];
    const endpoint = await PublicEndpoint.open({
      stores: createMemoryStores(),
      internetAddress: ADAPTER_ADDRESS,
      onMessage: async (message) => {
        received.push(message);
      },
    });
    return new TestAdapter(endpoint, received);
  }

  private constructor(
    readonly endpoint: PublicEndpoint,
    private readonly received: IncomingMessage[],
  ) {}

  /** Receive the parcels as the relaying gateway would deliver them; returns the decrypted messages. */
  async receive(parcels: readonly Buffer[]): Promise<IncomingMessage[]> {
    const before = this.received.length;
    for (const parcel of parcels) {
      const outcome = await this.endpoint.receiveParcel(parcel, { gatewayAddress: null });
      if (outcome.status !== 'accepted')
        throw new Error(`The adapter did not accept a parcel: ${JSON.stringify(outcome)}`);
    }
    return this.received.slice(before);
  }

  /** Make parcels for the app with its PDA (as the adapter does); returns them serialized. */
  async makeParcels(messages: readonly OutgoingMessage[], authorization: DeliveryAuthorization): Promise<Buffer[]> {
    const ids: string[] = [];
    for (const message of messages) ids.push((await this.endpoint.sendMessage(message, { authorization })).parcelId);
    const due = await this.endpoint.stores.outbox.listDue(new Date(Date.now() + 86_400_000), 1000);
    return ids.map((id) => due.find((entry) => entry.parcelId === id)!.parcel);
  }

  close(): Promise<void> {
    return this.endpoint.close();
  }
}
