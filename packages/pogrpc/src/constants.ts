/** Largest parcel accepted or sent: 9 MiB, the reference implementation's RAMF limit. */
export const MAX_PARCEL_LENGTH = 9_437_184;
/** Room for the protobuf framing around a parcel (tags, lengths, the delivery id). */
export const MESSAGE_OVERHEAD = 1_024;
/** gRPC max send/receive message length set on both sides. */
export const MAX_GRPC_MESSAGE_LENGTH = MAX_PARCEL_LENGTH + MESSAGE_OVERHEAD;
/** Longest delivery id accepted. */
export const MAX_DELIVERY_ID_LENGTH = 255;
/** Longest `gateway` metadata value accepted. */
export const MAX_GATEWAY_ADDRESS_LENGTH = 1_024;
/** Default number of unacknowledged parcels in flight (RS-000 [HEAD]). */
export const DEFAULT_WINDOW = 5;
/** Default client idle timeout: a call on which no octet moved, either way, for this long is cancelled. */
export const DEFAULT_CLIENT_IDLE_TIMEOUT_MS = 20_000;
/** Default server idle timeout: no octet on a call (or, before a call, on the connection) for this long. */
export const DEFAULT_SERVER_IDLE_TIMEOUT_MS = 20_000;
/** Default server cap on one call's duration. */
export const DEFAULT_SERVER_CALL_TIMEOUT_MS = 10 * 60_000;
/** Metadata key carrying the sender gateway's return address. */
export const GATEWAY_METADATA_KEY = 'gateway';
/**
 * HTTP/2 streams (calls) one connection may have open at once. A peer needs one DeliverParcels call at a time;
 * without a cap (Node's default is 2^32-1) one connection could make the server buffer a message on each of
 * thousands of streams.
 */
export const MAX_CONCURRENT_STREAMS = 16;
/**
 * Default cap on simultaneous connections. At the cap a new connection takes the slot of the quietest connection
 * that has not started a call yet, and is refused only when every slot is held by a call (see admission.ts).
 */
export const DEFAULT_MAX_CONNECTIONS = 256;
/**
 * Default time a connection has, from its accept, to complete its TLS handshake and start a call. A real peer
 * needs milliseconds; a connection that only holds a slot is closed.
 */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
