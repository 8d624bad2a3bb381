import { DEFAULT_WINDOW, MAX_GRPC_MESSAGE_LENGTH, MAX_PARCEL_LENGTH, MESSAGE_OVERHEAD } from '@twitter-relaynet/pogrpc';

/** Largest cargo accepted or sent: 9 MiB, the RAMF limit, as for parcels on the other bindings. */
export const MAX_CARGO_LENGTH = MAX_PARCEL_LENGTH;
/** Room for the protobuf framing around a cargo (tags, lengths, the delivery id). */
export const CARGO_MESSAGE_OVERHEAD = MESSAGE_OVERHEAD;
/** gRPC max send/receive message length for cargo. */
export const MAX_CARGO_MESSAGE_LENGTH = MAX_GRPC_MESSAGE_LENGTH;
/** Unacknowledged cargo in flight on a call, each way (RS-000 [HEAD]). */
export const DEFAULT_CARGO_WINDOW = DEFAULT_WINDOW;
/**
 * Default client cap on one call. The reference client gives a whole call 3 s; ours allows a large cargo on a
 * slow link: a DeliverCargo call on which nothing moves ends sooner, by the shared client idle rule (20 s), and
 * the server's idle detection ends collections on which nothing moves.
 */
export const DEFAULT_CLIENT_DEADLINE_MS = 10 * 60_000;
/** Longest Authorization metadata value accepted (grpc-js refuses headers above 8 KiB anyway). */
export const MAX_AUTHORIZATION_LENGTH = 8_000;
/**
 * HTTP/2 receive window (per stream and per connection) of both ends of a CogRPC connection, instead of HTTP/2's
 * 64 KiB. Cargo is megabytes long: with 64 KiB, the sender waits for the receiver's WINDOW_UPDATE every 64 KiB (see
 * `widenReceiveWindow` in the pogrpc package). Bounded memory: at most this much is buffered per call beyond
 * the window of unacknowledged cargo.
 */
export const COGRPC_FLOW_CONTROL_WINDOW = 4 * 1024 * 1024;
