/**
 * Delivering messages with acknowledgements, as every binding does it: the sender keeps each message until the
 * receiver acknowledges it, and the receiver acknowledges only what it has stored durably. The messages are
 * opaque octets (parcels or cargo); each binding names the field after what it carries.
 */

/** Where a client pulls the messages to deliver from, lazily (never more than its window ahead of the acks). */
export type DeliverySource<T> = AsyncIterable<T> | Iterable<T>;

/** A message to deliver: `{ id?, parcel }` or `{ id?, cargo }`. */
export type DeliveryInput<Field extends string> = {
  /** Delivery id (at most 255 octets); the binding generates a UUID4 when absent. */
  readonly id?: string;
} & { readonly [K in Field]: Buffer };

/** A message the client took from its input, under the delivery id it was sent with. */
export type PulledDelivery<Field extends string> = { readonly id: string } & { readonly [K in Field]: Buffer };

/**
 * The outcome of one delivery call. `acked` and the ids in `unacked` are disjoint and together cover every
 * message the client pulled from its input (but for any a binding reports apart, such as CoSocket's refusals).
 */
export interface DeliveryReport<Field extends string> {
  /** Delivery ids the receiver acknowledged (stored durably), in ack order: delete your copies of these. */
  readonly acked: readonly string[];
  /** Pulled from the input but not acknowledged: keep them and deliver them again later. */
  readonly unacked: ReadonlyArray<PulledDelivery<Field>>;
  /** Why the delivery stopped early (connection lost, aborted, refused, idle), if it did. */
  readonly error?: Error;
}

export interface DeliveryOptions {
  /** Aborting stops the delivery; what was not acknowledged yet is reported in `unacked`. */
  readonly signal?: AbortSignal;
  /** Called as soon as each acknowledgement arrives, before the delivery call resolves. */
  readonly onAck?: (deliveryId: string) => void;
}

export type ParcelToDeliver = DeliveryInput<'parcel'>;
export type ParcelDeliveryReport = DeliveryReport<'parcel'>;
export type CargoToDeliver = DeliveryInput<'cargo'>;
export type CargoDeliveryReport = DeliveryReport<'cargo'>;
