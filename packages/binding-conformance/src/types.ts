import type {
  DeliveryInput,
  DeliveryOptions,
  DeliveryReport,
  DeliverySource,
  MessageHandler,
} from '@twitter-relaynet/binding';
import type { Endpoint } from '@twitter-relaynet/test-support';

/**
 * The contract between the shared conformance suite and one binding under test.
 *
 * The suite drives the binding's own client and server through the contracts of `@twitter-relaynet/binding`:
 * messages are opaque octets delivered from a client to a server (CoSocket: relay → gateway cargo; CogRPC:
 * DeliverCargo; PogRPC: DeliverParcels; PoWebSocket: endpoint → gateway parcels), under the field name the
 * binding uses (`cargo`, `parcel`). The adapter only wires the suite to the binding's methods and sockets.
 */

export interface ServerStartOptions {
  /** Store the message durably. The ack for it MUST NOT leave the server before this resolves. */
  readonly onMessage: MessageHandler;
  /**
   * Idle timeout the server must apply to a connection on which no octet moves (e.g. it stalls mid-frame).
   * The suite passes a short value to the tests about idle detection only, a long one to the others.
   */
  readonly idleTimeoutMs: number;
}

export interface TestClient<Field extends string> {
  /**
   * The binding client's delivery method (`deliverParcels` of a `ParcelDeliveryClient`, `deliverCargo` of a
   * `CargoDeliveryClient`): in order, at most `window` messages ahead of the acks, pulling lazily, never
   * rejecting.
   */
  deliver(messages: DeliverySource<DeliveryInput<Field>>, options?: DeliveryOptions): Promise<DeliveryReport<Field>>;
  /** Abruptly destroy the underlying connection (no goodbye), e.g. in the middle of a message. */
  destroy(): void;
  /** Graceful close. Must be safe to call after `destroy()` and more than once. */
  close(): Promise<void>;
}

/** How the server ended a raw connection, as observed from the raw client. */
export interface RawConnectionOutcome {
  /**
   * Binding-specific description of the reason the server gave, e.g. `quit:invalid-packet`,
   * `close:1003`, `goaway`, or `closed` when the server simply closed the connection.
   */
  readonly reason: string;
}

export interface RunningServer<Field extends string> {
  /**
   * Where the server listens, so that a test can put a (throttling) proxy in front of it; required by
   * `describeSlowLink` (a binding with no socket, like the in-memory reference, has none).
   */
  readonly endpoint?: Endpoint;
  /** Open a new well-behaved client connection to the server, or to `via` (a proxy in front of it). */
  connectClient(via?: Endpoint): Promise<TestClient<Field>>;
  /**
   * Open a raw transport connection (no handshake, no framing), write `bytes` and wait until the server
   * ends the connection. Resolves with how it ended. Must reject (or time out) if the server never closes it.
   */
  sendRaw(bytes: Buffer): Promise<RawConnectionOutcome>;
  /**
   * Optional: bytes the server currently holds for messages it has received but not yet acknowledged
   * (frame buffers plus queued messages), across all connections. Used by the bounded-memory test.
   */
  bufferedBytes?(): number;
  /** Stop the server and release every resource (sockets, files, timers). */
  close(): Promise<void>;
}

export interface MalformedInput {
  readonly name: string;
  /** Raw bytes to write on a fresh transport connection. */
  readonly bytes: Buffer;
  /** Expected `RawConnectionOutcome.reason`. */
  readonly expectedReason: string | RegExp;
}

export interface BindingFactory<Field extends string> {
  /** Human-readable binding name, used in test titles. */
  readonly name: string;
  /** The field the binding carries each message in (`parcel`, `cargo`). */
  readonly field: Field;
  /** Largest message (octets) the binding accepts; the suite sends messages of exactly this size. */
  readonly maxMessageSize: number;
  /** Maximum number of unacknowledged messages in flight the client allows (e.g. 5). */
  readonly window: number;
  /** Per-frame overhead the server may buffer on top of the message itself (headers, ids…). */
  readonly frameOverhead: number;
  /**
   * Binding-specific malformed inputs: each is written on its own raw connection and the server must
   * end that connection with the expected reason, while still serving others.
   */
  readonly malformedInputs: readonly MalformedInput[];
  /** Bytes that start a valid frame but never finish it: the server must time out with `stallReason`. */
  readonly stalledInput: Buffer;
  readonly stallReason: string | RegExp;
  /** Reason expected for random garbage (several concurrent clients). */
  readonly garbageReason: string | RegExp;
  /** Start a fresh server. Called once per test. */
  start(options: ServerStartOptions): Promise<RunningServer<Field>>;
}
