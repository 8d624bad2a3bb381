/**
 * What every binding's client and server promise, whatever carries the octets (Unix socket, WebSocket, gRPC).
 */
import type {
  CargoDeliveryReport,
  CargoToDeliver,
  DeliveryOptions,
  DeliverySource,
  ParcelDeliveryReport,
  ParcelToDeliver,
} from './delivery';

/**
 * The receiving side of a delivery, on a server (a message delivered to it) or on a client (a message it
 * collected): store `message` durably, then resolve. The binding acknowledges the message only once this
 * resolves; if it rejects, the message is not acknowledged and its sender keeps it for a later attempt.
 * `context` is binding-specific (the delivery id, the sending gateway's address, …).
 */
export type MessageHandler<Context = void> = (message: Buffer, context: Context) => Promise<void>;

/**
 * The sending side of a parcel binding (PogRPC, PoWebSocket). `deliverParcels` sends in order, with at most the
 * binding's window of unacknowledged parcels in flight, pulling lazily from `parcels`. It never rejects: the
 * report says what was acknowledged and what was not.
 */
export interface ParcelDeliveryClient {
  deliverParcels(parcels: DeliverySource<ParcelToDeliver>, options?: DeliveryOptions): Promise<ParcelDeliveryReport>;
}

/** The sending side of a cargo binding (CoSocket, CogRPC), with the same promises as `ParcelDeliveryClient`. */
export interface CargoDeliveryClient {
  deliverCargo(cargo: DeliverySource<CargoToDeliver>, options?: DeliveryOptions): Promise<CargoDeliveryReport>;
}

/** A running binding server: it hands each delivered message to its `MessageHandler` before acknowledging it. */
export interface BindingServer {
  /** Stop accepting connections, end the open ones and release every resource; resolves once done. */
  close(): Promise<void>;
}
