import * as grpc from '@grpc/grpc-js';
import type { MessageHandler } from '@twitter-relaynet/binding';

import { GATEWAY_METADATA_KEY, MAX_GATEWAY_ADDRESS_LENGTH, MAX_PARCEL_LENGTH, MESSAGE_OVERHEAD } from './constants';
import { InboundDeliveryCall, type DeliveryAckMessage, type DeliveryMessage } from './inbound';
import { type GrpcBindingServerOptions } from './transport';
import { loadPogRPCService } from './proto';
import { startGrpcBindingServer, type GrpcBindingServer } from './serverCall';

export { parseAddress, type ServerTls } from './transport';

export interface ParcelContext {
  readonly deliveryId: string;
  /** The sender gateway's return address from the `gateway` metadata, if any. */
  readonly gatewayAddress: string | null;
  /** Aborted if the call ends (client cancelled, timeout) while the parcel is being stored. */
  readonly signal: AbortSignal;
}

export interface PogRPCServerOptions extends GrpcBindingServerOptions {
  /**
   * Store the parcel durably (or refuse it permanently, logging why). Its ack is sent only after this resolves.
   * A rejection means "not stored": the call ends with UNAVAILABLE and the sender keeps the parcel.
   */
  readonly onParcel: MessageHandler<ParcelContext>;
  readonly maxParcelLength?: number;
}

export type PogRPCServer = GrpcBindingServer;

/** Start a PogRPC server offering `DeliverParcels` (and refusing `CollectParcels`). */
export async function createPogRPCServer(options: PogRPCServerOptions): Promise<PogRPCServer> {
  const maxParcelLength = options.maxParcelLength ?? MAX_PARCEL_LENGTH;
  const settings = { label: 'PogRPC', maxReceiveLength: maxParcelLength + MESSAGE_OVERHEAD, maxSendLength: 1024 };
  return startGrpcBindingServer(options, settings, ({ addService, calls, logger, idleTimeoutMs }) =>
    addService(loadPogRPCService().service, {
      DeliverParcels: (call: grpc.ServerDuplexStream<DeliveryMessage<'parcel'>, DeliveryAckMessage>) => {
        let gatewayAddress: string | null;
        try {
          gatewayAddress = gatewayMetadata(call.metadata);
        } catch (error) {
          logger.warn(
            { peer: call.getPeer(), code: 'INVALID_ARGUMENT' },
            `Ending DeliverParcels: ${(error as Error).message}`,
          );
          call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: (error as Error).message });
          return;
        }
        calls.add(
          new InboundDeliveryCall(call, {
            method: 'DeliverParcels',
            field: 'parcel',
            window: options.window,
            maxLength: maxParcelLength,
            idleTimeoutMs,
            callTimeoutMs: options.callTimeoutMs,
            logger,
            logFields: { gatewayAddress },
            store: (parcel, deliveryId, signal) => options.onParcel(parcel, { deliveryId, gatewayAddress, signal }),
          }),
        );
      },
      CollectParcels: (call: grpc.ServerDuplexStream<unknown, unknown>) => {
        logger.warn({ peer: call.getPeer() }, 'Refused CollectParcels on an external PDC');
        call.emit('error', {
          code: grpc.status.UNIMPLEMENTED,
          details: 'CollectParcels is not offered on an external parcel delivery connection (RS-000): deliver only',
        });
      },
    }),
  );
}

/**
 * The sender gateway's return address. Repeated headers may arrive joined with ", " (HTTP semantics): each
 * comma-separated part counts as a value.
 */
function gatewayMetadata(metadata: grpc.Metadata): string | null {
  const gateway = metadata
    .get(GATEWAY_METADATA_KEY)
    .flatMap((value) => value.toString().split(','))
    .map((value) => value.trim());
  if (gateway.length > 1) {
    throw new Error(`At most one "${GATEWAY_METADATA_KEY}" metadata value is allowed; got ${gateway.length}`);
  }
  if (gateway.length === 0) return null;
  const value = gateway[0];
  if (!value || value.length > MAX_GATEWAY_ADDRESS_LENGTH) {
    throw new Error(`"${GATEWAY_METADATA_KEY}" metadata must be 1..${MAX_GATEWAY_ADDRESS_LENGTH} characters`);
  }
  return value;
}
