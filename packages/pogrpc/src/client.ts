import * as grpc from '@grpc/grpc-js';
import type {
  DeliveryOptions,
  DeliverySource,
  ParcelDeliveryClient,
  ParcelDeliveryReport,
  ParcelToDeliver,
} from '@twitter-relaynet/binding';
import { type Logger, silentLogger } from '@twitter-relaynet/core';

import {
  DEFAULT_CLIENT_IDLE_TIMEOUT_MS,
  DEFAULT_WINDOW,
  GATEWAY_METADATA_KEY,
  MAX_GATEWAY_ADDRESS_LENGTH,
  MAX_GRPC_MESSAGE_LENGTH,
  MAX_PARCEL_LENGTH,
} from './constants';
import { PogRPCError } from './errors';
import { deliverOverCall } from './outbound';
import { loadPogRPCService, type ParcelDeliveryAckMessage, type ParcelDeliveryMessage } from './proto';
import { clientChannel, type GrpcBindingClientOptions } from './transport';

export { type ClientTls } from './transport';

export interface PogRPCClientOptions extends GrpcBindingClientOptions {
  /** Our gateway's return address, sent as the `gateway` metadata (relaying gateway → adapter). */
  readonly gatewayAddress?: string;
  readonly maxParcelLength?: number;
}

/** A PogRPC client: delivers parcels to a server over one `DeliverParcels` call at a time. */
export class PogRPCClient implements ParcelDeliveryClient {
  private readonly client: grpc.Client & {
    DeliverParcels(
      metadata: grpc.Metadata,
      options: grpc.CallOptions,
    ): grpc.ClientDuplexStream<ParcelDeliveryMessage, ParcelDeliveryAckMessage>;
  };
  private readonly window: number;
  private readonly maxParcelLength: number;
  private readonly logger: Logger;
  private readonly activeCalls = new Set<grpc.ClientDuplexStream<ParcelDeliveryMessage, ParcelDeliveryAckMessage>>();

  /** `target`: `host:port` or `unix:///absolute/path.sock`. */
  public constructor(
    public readonly target: string,
    private readonly options: PogRPCClientOptions,
  ) {
    this.window = options.window ?? DEFAULT_WINDOW;
    this.maxParcelLength = options.maxParcelLength ?? MAX_PARCEL_LENGTH;
    this.logger = options.logger ?? silentLogger;
    if (
      options.gatewayAddress !== undefined &&
      (!options.gatewayAddress || options.gatewayAddress.length > MAX_GATEWAY_ADDRESS_LENGTH)
    ) {
      throw new PogRPCError(`gatewayAddress must be 1..${MAX_GATEWAY_ADDRESS_LENGTH} characters`);
    }
    const { Client } = loadPogRPCService();
    const channel = clientChannel(options.tls, target, this.logger, 'PogRPC');
    this.client = new Client(target, channel.credentials, {
      ...channel.options,
      'grpc.max_send_message_length': MAX_GRPC_MESSAGE_LENGTH,
      'grpc.max_receive_message_length': 4 * 1024,
    }) as never;
  }

  /**
   * Deliver parcels in order over one call, with at most `window` unacknowledged parcels in flight, pulling
   * lazily from `parcels`. Never rejects: the report lists what was acked and what was not.
   */
  public async deliverParcels(
    parcels: DeliverySource<ParcelToDeliver>,
    options: DeliveryOptions = {},
  ): Promise<ParcelDeliveryReport> {
    const metadata = new grpc.Metadata();
    if (this.options.gatewayAddress) metadata.set(GATEWAY_METADATA_KEY, this.options.gatewayAddress);
    const deadlineMs = this.options.deadlineMs;
    const call = this.client.DeliverParcels(
      metadata,
      deadlineMs === undefined ? {} : { deadline: Date.now() + deadlineMs },
    );
    this.activeCalls.add(call);
    try {
      return await deliverOverCall(call, parcels, {
        method: 'DeliverParcels',
        field: 'parcel',
        window: this.window,
        maxLength: this.maxParcelLength,
        idleTimeoutMs: this.options.idleTimeoutMs ?? DEFAULT_CLIENT_IDLE_TIMEOUT_MS,
        logger: this.logger,
        target: this.target,
        ...options,
      });
    } finally {
      this.activeCalls.delete(call);
    }
  }

  /** Cancel every active call and close the channel. */
  public close(): void {
    for (const call of this.activeCalls) call.cancel();
    this.client.close();
  }
}
