/**
 * A test double for the user gateway: an in-memory `GatewayTransport` that certifies endpoint keys with a
 * real gateway key, records the parcels delivered to it and hands queued parcels to collecting endpoints
 * (removing each only once the endpoint's handler resolved, like an ack). For tests of code built on the
 * endpoint library; the library's own tests also run against the real PoWebSocket server.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';

import {
  derDeserializeRsaPublicKey,
  generateRsaKeyPair,
  issueEndpointCertificate,
  issueGatewayCertificate,
  type Certificate,
} from '@twitter-relaynet/core';

import type {
  CollectParcelsOptions,
  EndpointCredentials,
  GatewayRegistration,
  GatewaySession,
  GatewayTransport,
} from '@twitter-relaynet/endpoint';

export class MemoryGatewayTransport implements GatewayTransport {
  static async create(): Promise<MemoryGatewayTransport> {
    const { privateKey } = await generateRsaKeyPair();
    const now = Date.now();
    const certificate = await issueGatewayCertificate({
      subjectPublicKey: createPublicKey(privateKey),
      issuerPrivateKey: privateKey,
      validityStartDate: new Date(now - 3_600_000),
      validityEndDate: new Date(now + 365 * 86_400_000),
    });
    return new MemoryGatewayTransport(privateKey, certificate);
  }

  /** Parcels endpoints delivered, in order. */
  readonly delivered: Buffer[] = [];
  /** Parcels waiting for collection (by anyone connected). */
  readonly queue: Buffer[] = [];
  /** Make the next operations fail (gateway down). */
  available = true;

  private constructor(
    readonly privateKey: KeyObject,
    readonly certificate: Certificate,
  ) {}

  async register(publicKey: Buffer): Promise<GatewayRegistration> {
    this.assertAvailable();
    const now = Date.now();
    const endpointCertificate = await issueEndpointCertificate({
      subjectPublicKey: derDeserializeRsaPublicKey(publicKey),
      issuerPrivateKey: this.privateKey,
      issuerCertificate: this.certificate,
      validityStartDate: new Date(now - 3_600_000),
      validityEndDate: new Date(now + 180 * 86_400_000),
    });
    return { endpointCertificate: endpointCertificate.serialize(), gatewayCertificate: this.certificate.serialize() };
  }

  async connect(credentials: EndpointCredentials): Promise<GatewaySession> {
    this.assertAvailable();
    if (!(await credentials.certificate.isIssuedBy(this.certificate))) {
      throw new Error('Handshake refused: the endpoint certificate was not issued by this gateway');
    }
    return {
      deliverParcel: async (parcel) => {
        this.assertAvailable();
        this.delivered.push(Buffer.from(parcel));
      },
      collectParcels: async (options: CollectParcelsOptions) => {
        while (this.queue.length > 0 && !options.signal?.aborted) {
          const parcel = this.queue[0];
          await options.onParcel(parcel); // a rejection leaves it queued
          this.queue.shift();
        }
      },
      close: async () => undefined,
    };
  }

  private assertAvailable(): void {
    if (!this.available) throw new Error('Gateway unavailable');
  }
}
