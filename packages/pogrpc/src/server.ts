import * as grpc from '@grpc/grpc-js';

import {
  DEFAULT_SERVER_IDLE_TIMEOUT_MS,
  GATEWAY_METADATA_KEY,
  MAX_GATEWAY_ADDRESS_LENGTH,
  MAX_GRPC_MESSAGE_LENGTH,
  MAX_PARCEL_LENGTH,
} from './constants';
import { InboundDeliveryCall, type DeliveryAckMessage, type DeliveryMessage } from './inbound';
import { type Logger, silentLogger } from './logger';
import { grpcServerOptions, listenGrpc, type ServerTls } from './transport';
import { loadPogRPCService } from './proto';

export { parseAddress, type ServerTls } from './transport';

export interface ParcelContext {
  readonly deliveryId: string;
  /** The sender gateway's return address from the `gateway` metadata, if any. */
  readonly gatewayAddress: string | null;
  /** Aborted if the call ends (client cancelled, timeout) while the parcel is being stored. */
  readonly signal: AbortSignal;
}

export interface PogRPCServerOptions {
  /** `host:port` (port 0 = any), `[::1]:port`, or `unix:///absolute/path.sock` (created 0600). */
  readonly address: string;
  readonly tls: ServerTls;
  /**
   * Store the parcel durably (or refuse it permanently, logging why). Its ack is sent only after this resolves.
   * A rejection means "not stored": the call ends with UNAVAILABLE and the sender keeps the parcel.
   */
  onParcel(parcel: Buffer, context: ParcelContext): Promise<void>;
  /** Unacknowledged parcels buffered per call before the server stops reading (backpressure); default 5. */
  readonly window?: number;
  readonly maxParcelLength?: number;
  /**
   * A call whose stream brings no octet for this long while the server is not busy storing a parcel ends with
   * DEADLINE_EXCEEDED (a parcel of megabytes on a slow link keeps it alive as long as it moves); a connection
   * that stays silent this long (e.g. a stalled TLS or HTTP/2 handshake) is dropped. Default 20 s.
   */
  readonly idleTimeoutMs?: number;
  /** Cap on one call's duration; default 10 min. */
  readonly callTimeoutMs?: number;
  /** Simultaneous connections accepted; more are closed at once. Default 256. */
  readonly maxConnections?: number;
  readonly logger?: Logger;
}

export interface PogRPCServer {
  /** The address actually listened on (`127.0.0.1:54321` or `unix:///…`). */
  readonly address: string;
  /** The server's TLS certificate (PEM), for clients to pin; null in plaintext mode. */
  readonly certificatePem: string | null;
  /** TCP port (undefined for Unix sockets). */
  readonly port: number | undefined;
  readonly activeCalls: number;
  /** Octets of parcels received and not yet acknowledged, across calls. */
  bufferedBytes(): number;
  close(): Promise<void>;
}

/** Start a PogRPC server offering `DeliverParcels` (and refusing `CollectParcels`). */
export async function createPogRPCServer(options: PogRPCServerOptions): Promise<PogRPCServer> {
  const logger = options.logger ?? silentLogger;
  const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_SERVER_IDLE_TIMEOUT_MS;
  const maxParcelLength = options.maxParcelLength ?? MAX_PARCEL_LENGTH;
  const grpcServer = new grpc.Server(
    grpcServerOptions(idleTimeoutMs, maxParcelLength + (MAX_GRPC_MESSAGE_LENGTH - MAX_PARCEL_LENGTH), 1024),
  );
  const calls = new Set<InboundDeliveryCall<'parcel'>>();
  const { service } = loadPogRPCService();
  grpcServer.addService(service, {
    DeliverParcels: (call: grpc.ServerDuplexStream<DeliveryMessage<'parcel'>, DeliveryAckMessage>) => {
      let gatewayAddress: string | null;
      try {
        gatewayAddress = gatewayMetadata(call.metadata);
      } catch (error) {
        logger.warn({ peer: call.getPeer(), code: 'INVALID_ARGUMENT' }, `Ending DeliverParcels: ${(error as Error).message}`);
        call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: (error as Error).message });
        return;
      }
      const delivery = new InboundDeliveryCall(call, {
        method: 'DeliverParcels',
        field: 'parcel',
        window: options.window,
        maxLength: maxParcelLength,
        idleTimeoutMs,
        callTimeoutMs: options.callTimeoutMs,
        logger,
        logFields: { gatewayAddress },
        store: (parcel, deliveryId, signal) => options.onParcel(parcel, { deliveryId, gatewayAddress, signal }),
      });
      calls.add(delivery);
      delivery.done.then(() => calls.delete(delivery));
    },
    CollectParcels: (call: grpc.ServerDuplexStream<unknown, unknown>) => {
      logger.warn({ peer: call.getPeer() }, 'Refused CollectParcels on an external PDC');
      call.emit('error', {
        code: grpc.status.UNIMPLEMENTED,
        details: 'CollectParcels is not offered on an external parcel delivery connection (RS-000): deliver only',
      });
    },
  });
  const listener = await listenGrpc(grpcServer, {
    address: options.address,
    tls: options.tls,
    idleTimeoutMs,
    maxConnections: options.maxConnections,
    logger,
    label: 'PogRPC',
  });

  return {
    address: listener.address,
    certificatePem: listener.certificatePem,
    port: listener.port,
    get activeCalls() {
      return calls.size;
    },
    bufferedBytes: () => [...calls].reduce((sum, call) => sum + call.bufferedBytes(), 0),
    async close() {
      for (const call of calls) call.abortForShutdown();
      await listener.close();
    },
  };
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
