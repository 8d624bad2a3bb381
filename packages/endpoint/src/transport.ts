/**
 * How a private endpoint reaches its gateway. The production binding is PoWebSocket over the gateway's Unix
 * socket (`PoWebSocketGatewayTransport`); anything with the same shape works (tests, other bindings).
 */
import type { KeyObject } from 'node:crypto';

import type { MessageHandler } from '@twitter-relaynet/binding';
import { type Certificate, type Logger, silentLogger } from '@twitter-relaynet/core';
import { makeHandshakeSigner, PoWebSocketConnection, type ConnectionOptions } from '@twitter-relaynet/powebsocket';

export interface GatewayRegistration {
  /** DER certificate the gateway issued for the endpoint's identity key. */
  readonly endpointCertificate: Buffer;
  /** DER certificate of the gateway. */
  readonly gatewayCertificate: Buffer;
}

export interface EndpointCredentials {
  readonly privateKey: KeyObject;
  readonly certificate: Certificate;
}

export interface CollectParcelsOptions {
  /** Store the parcel durably (or refuse it for good); it is acknowledged once this resolves. */
  readonly onParcel: MessageHandler;
  /** Keep the connection open for parcels arriving later (until `signal` aborts). */
  readonly keepAlive?: boolean;
  readonly signal?: AbortSignal;
}

/** An authenticated connection to the gateway. */
export interface GatewaySession {
  /** Resolves once the gateway acknowledged (durably stored) the parcel. */
  deliverParcel(parcel: Buffer): Promise<void>;
  /** Resolves when the gateway has no more parcels (or, with keepAlive, when `signal` aborts). */
  collectParcels(options: CollectParcelsOptions): Promise<void>;
  close(): Promise<void>;
}

export interface GatewayTransport {
  /** Ask the gateway to certify `publicKey` (DER SPKI). */
  register(publicKey: Buffer): Promise<GatewayRegistration>;
  /** Connect and authenticate as the endpoint. */
  connect(credentials: EndpointCredentials): Promise<GatewaySession>;
}

export interface PoWebSocketGatewayTransportOptions extends ConnectionOptions {
  /** The user gateway's Unix socket. */
  readonly socketPath: string;
  readonly logger?: Logger;
  /** Socket owners to trust (default: this user and root). */
  readonly trustedSocketOwners?: readonly number[];
}

/** The PoWebSocket binding to the user gateway. */
export class PoWebSocketGatewayTransport implements GatewayTransport {
  constructor(private readonly options: PoWebSocketGatewayTransportOptions) {}

  async register(publicKey: Buffer): Promise<GatewayRegistration> {
    const registration = await PoWebSocketConnection.register({
      ...this.options,
      logger: this.options.logger ?? silentLogger,
      publicKey,
    });
    return registration;
  }

  async connect(credentials: EndpointCredentials): Promise<GatewaySession> {
    const connection = await PoWebSocketConnection.connect({
      ...this.options,
      logger: this.options.logger ?? silentLogger,
      sign: makeHandshakeSigner([credentials]),
    });
    return {
      deliverParcel: (parcel) => connection.deliverParcel(parcel),
      collectParcels: (options) => connection.collectParcels(options),
      close: async () => {
        await connection.close();
      },
    };
  }
}
