import type { Endpoint } from '@twitter-relaynet/test-support';

/**
 * The contract between the shared conformance suite and one binding under test.
 *
 * The suite only ever sees opaque messages (`Buffer`s) travelling from a client to a server: every
 * binding has such a direction (CoSocket: relay → gateway cargo; PogRPC: DeliverParcels; PoWebSocket:
 * endpoint → gateway parcels). The adapter maps them onto the binding's own types (delivery ids, etc.).
 */

/** What the server side does with each message; the binding acknowledges only after it resolves. */
export type MessageHandler = (message: Buffer) => Promise<void>;

export interface ServerStartOptions {
  /** Store the message durably. The ack for it MUST NOT leave the server before this resolves. */
  readonly onMessage: MessageHandler;
  /**
   * Idle timeout the server must apply to a connection on which no octet moves (e.g. it stalls mid-frame).
   * The suite passes a short value to the tests about idle detection only, a long one to the others.
   */
  readonly idleTimeoutMs: number;
}

export interface DeliverOptions {
  readonly signal?: AbortSignal;
  /** Called as soon as the ack for the message at this index arrives (before `deliver` resolves). */
  readonly onAck?: (index: number) => void;
}

/**
 * Outcome of one `deliver()` call. Indices refer to the position of each message in the input
 * iterable. `acked ∪ unacked` MUST equal every message the client pulled from the iterable; the two
 * MUST be disjoint. `acked` is in ack order.
 */
export interface DeliveryReport {
  readonly acked: readonly number[];
  readonly unacked: readonly number[];
  /** Why the delivery stopped early (connection lost, aborted, refused…), if it did. */
  readonly error?: unknown;
}

export interface TestClient {
  /**
   * Send the messages in order, honouring the binding's window of unacknowledged messages. The
   * iterable MUST be pulled lazily: never more than `window` messages ahead of the acks.
   * Never rejects: failures are reported through `DeliveryReport.error` and `unacked`.
   */
  deliver(messages: AsyncIterable<Buffer> | Iterable<Buffer>, options?: DeliverOptions): Promise<DeliveryReport>;
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

export interface RunningServer {
  /**
   * Where the server listens, so that a test can put a (throttling) proxy in front of it; required by
   * `describeSlowLink` (a binding with no socket, like the in-memory reference, has none).
   */
  readonly endpoint?: Endpoint;
  /** Open a new well-behaved client connection to the server, or to `via` (a proxy in front of it). */
  connectClient(via?: Endpoint): Promise<TestClient>;
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

export interface BindingFactory {
  /** Human-readable binding name, used in test titles. */
  readonly name: string;
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
  start(options: ServerStartOptions): Promise<RunningServer>;
}
