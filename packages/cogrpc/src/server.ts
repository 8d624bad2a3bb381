import { randomUUID } from 'node:crypto';

import * as grpc from '@grpc/grpc-js';
import {
  DEFAULT_SERVER_CALL_TIMEOUT_MS,
  DEFAULT_SERVER_IDLE_TIMEOUT_MS,
  grpcServerOptions,
  InboundDeliveryCall,
  listenGrpc,
  silentLogger,
  type DeliveryAckMessage,
  type DeliveryMessage,
  type Logger,
  type ServerTls,
} from '@twitter-relaynet/pogrpc';

import {
  CARGO_MESSAGE_OVERHEAD,
  DEFAULT_CARGO_WINDOW,
  MAX_AUTHORIZATION_LENGTH,
  MAX_CARGO_LENGTH,
  MAX_CARGO_MESSAGE_LENGTH,
} from './constants';
import { CcaRefusedError } from './errors';
import { COGRPC_DIALECTS, loadCogRPCService } from './proto';

export interface CargoContext {
  readonly deliveryId: string;
  /** Aborted if the call ends (client cancelled, timeout) while the cargo is being stored. */
  readonly signal: AbortSignal;
}

/** One cargo the gateway hands out for collection. */
export interface CollectableCargo {
  readonly cargo: Buffer;
  /** Called once the courier has acknowledged (stored) it: the gateway may now forget it. */
  acknowledged(): Promise<void>;
}

export interface CollectionContext {
  /** Aborted when the call ends, however it ends. */
  readonly signal: AbortSignal;
  readonly peer: string;
}

export interface CogRPCServerOptions {
  /** `host:port` (port 0 = any), `[::1]:port`, or `unix:///absolute/path.sock` (created 0600). */
  readonly address: string;
  readonly tls: ServerTls;
  /**
   * Store a delivered cargo durably (or refuse it permanently, logging why); its ack leaves only after this
   * resolves. A rejection means "not stored": the call ends with UNAVAILABLE and the courier keeps the cargo.
   */
  storeCargo(cargo: Buffer, context: CargoContext): Promise<void>;
  /**
   * Check a CCA (the serialized RAMF message from the `Authorization` metadata) and return the cargo to hand out
   * for it. Throw `CcaRefusedError` to refuse the CCA: `reused` answers PERMISSION_DENIED, any other reason
   * UNAUTHENTICATED. Any other error answers UNAVAILABLE (the courier may retry).
   */
  collectCargo(cca: Buffer, context: CollectionContext): Promise<AsyncIterable<CollectableCargo> | Iterable<CollectableCargo>>;
  /** Unacknowledged cargo per call, each way; default 5. */
  readonly window?: number;
  readonly maxCargoLength?: number;
  /**
   * A DeliverCargo call whose stream brings no octet for this long (while no cargo is being stored) ends with
   * DEADLINE_EXCEEDED; a connection silent this long is dropped (a live peer answers the server's pings).
   * Default 20 s.
   */
  readonly idleTimeoutMs?: number;
  /** Cap on one call's duration; default 10 min. */
  readonly callTimeoutMs?: number;
  /** Simultaneous connections accepted; more are closed at once. Default 256. */
  readonly maxConnections?: number;
  readonly logger?: Logger;
}

export interface CogRPCServer {
  readonly address: string;
  /** The server's TLS certificate (PEM), for clients to pin; null in plaintext mode. */
  readonly certificatePem: string | null;
  readonly port: number | undefined;
  readonly activeCalls: number;
  /** Octets of delivered cargo received and not yet acknowledged, across calls. */
  bufferedBytes(): number;
  close(): Promise<void>;
}

interface ServerCall {
  readonly done: Promise<void>;
  bufferedBytes(): number;
  abortForShutdown(): void;
}

/** Start a CogRPC server offering `DeliverCargo` and `CollectCargo` under both the `awala` and `relaynet` names. */
export async function createCogRPCServer(options: CogRPCServerOptions): Promise<CogRPCServer> {
  const logger = options.logger ?? silentLogger;
  const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_SERVER_IDLE_TIMEOUT_MS;
  const maxCargoLength = options.maxCargoLength ?? MAX_CARGO_LENGTH;
  const grpcServer = new grpc.Server(
    grpcServerOptions(idleTimeoutMs, maxCargoLength + CARGO_MESSAGE_OVERHEAD, MAX_CARGO_MESSAGE_LENGTH),
  );
  const calls = new Set<ServerCall>();
  const track = (call: ServerCall) => {
    calls.add(call);
    void call.done.then(() => calls.delete(call));
  };
  const handlers = {
    DeliverCargo: (call: grpc.ServerDuplexStream<DeliveryMessage<'cargo'>, DeliveryAckMessage>) =>
      track(
        new InboundDeliveryCall(call, {
          method: 'DeliverCargo',
          field: 'cargo',
          window: options.window,
          maxLength: maxCargoLength,
          idleTimeoutMs,
          callTimeoutMs: options.callTimeoutMs,
          logger,
          store: (cargo, deliveryId, signal) => options.storeCargo(cargo, { deliveryId, signal }),
        }),
      ),
    CollectCargo: (call: grpc.ServerDuplexStream<DeliveryAckMessage, DeliveryMessage<'cargo'>>) =>
      track(new CollectionCall(call, options, logger, maxCargoLength)),
  };
  for (const dialect of COGRPC_DIALECTS) grpcServer.addService(loadCogRPCService(dialect).service, handlers);
  const listener = await listenGrpc(grpcServer, {
    address: options.address,
    tls: options.tls,
    idleTimeoutMs,
    maxConnections: options.maxConnections,
    logger,
    label: 'CogRPC',
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

const AUTHORIZATION = /^(Awala|Relaynet)-CCA ([A-Za-z0-9+/]+={0,2})$/;

/** The CCA in the `Authorization` metadata, or why it cannot be read. */
export function parseCcaAuthorization(metadata: grpc.Metadata): Buffer | string {
  const values = metadata.get('authorization');
  if (values.length === 0) return 'Authorization metadata is missing';
  if (values.length > 1) return `Expected one Authorization metadata value; got ${values.length}`;
  const value = values[0].toString();
  if (value.length > MAX_AUTHORIZATION_LENGTH) return `Authorization metadata exceeds ${MAX_AUTHORIZATION_LENGTH} characters`;
  const match = AUTHORIZATION.exec(value);
  if (!match || match[2].length % 4 !== 0) return 'Authorization must be "Awala-CCA <base64>" or "Relaynet-CCA <base64>"';
  return Buffer.from(match[2], 'base64');
}

/**
 * The server side of CollectCargo: hands out the cargo for the caller's CCA with at most `window` unacknowledged,
 * and ends the call (OK) once everything it had is acknowledged. Clients need not half-close: the reference one
 * never does.
 */
class CollectionCall implements ServerCall {
  public readonly done: Promise<void>;
  private readonly callId = randomUUID();
  private readonly abort = new AbortController();
  private readonly window: number;
  private readonly inFlight = new Map<string, CollectableCargo>();
  private readonly callTimer: NodeJS.Timeout;
  private finished = false;
  private exhausted = false;
  private sent = 0;
  private acked = 0;
  private wake: (() => void) | null = null;
  private resolveDone!: () => void;

  public constructor(
    private readonly call: grpc.ServerDuplexStream<DeliveryAckMessage, DeliveryMessage<'cargo'>>,
    private readonly options: CogRPCServerOptions,
    private readonly logger: Logger,
    private readonly maxCargoLength: number,
  ) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    this.window = options.window ?? DEFAULT_CARGO_WINDOW;
    const callTimeoutMs = options.callTimeoutMs ?? DEFAULT_SERVER_CALL_TIMEOUT_MS;
    this.callTimer = setTimeout(
      () => this.fail(grpc.status.DEADLINE_EXCEEDED, `Call exceeded the server's limit of ${callTimeoutMs} ms`),
      callTimeoutMs,
    );
    call.on('cancelled', () => {
      if (this.finished) return;
      this.log('warn', { unacked: this.inFlight.size }, 'CollectCargo cancelled by the client');
      this.finish();
    });
    call.on('error', (error) => {
      if (!this.finished) this.log('warn', { err: error.message }, 'CollectCargo stream error');
    });
    call.on('data', (ack: DeliveryAckMessage) => void this.receiveAck(ack));
    call.on('end', () => {
      // The client will acknowledge nothing more: what is still in flight stays with the gateway for next time.
      if (this.finished) return;
      this.log('info', { sent: this.sent, acked: this.acked, unacked: this.inFlight.size }, 'CollectCargo client half-closed');
      this.complete();
    });
    void this.run();
  }

  public bufferedBytes(): number {
    return 0; // acks are a few octets; cargo sent stays in the gateway's store, not here
  }

  public abortForShutdown(): void {
    this.fail(grpc.status.UNAVAILABLE, 'Server shutting down');
  }

  private async run(): Promise<void> {
    const cca = parseCcaAuthorization(this.call.metadata);
    if (typeof cca === 'string') {
      this.fail(grpc.status.UNAUTHENTICATED, cca);
      return;
    }
    let source: AsyncIterable<CollectableCargo> | Iterable<CollectableCargo>;
    try {
      source = await this.options.collectCargo(cca, { signal: this.abort.signal, peer: this.call.getPeer() });
    } catch (error) {
      this.refuse(error);
      return;
    }
    this.log('info', {}, 'CollectCargo call started');
    try {
      for await (const item of source) {
        if (this.finished) return;
        if (!item.cargo.length || item.cargo.length > this.maxCargoLength) {
          this.log('error', { length: item.cargo.length }, `Skipped a cargo outside 1..${this.maxCargoLength} octets`);
          continue;
        }
        await this.until(() => this.inFlight.size < this.window);
        if (this.finished) return;
        const id = randomUUID();
        this.inFlight.set(id, item);
        this.sent++;
        if (!this.call.write({ id, cargo: item.cargo })) {
          await new Promise<void>((resolve) => {
            this.call.once('drain', resolve);
            void this.done.then(resolve);
          });
        }
      }
    } catch (error) {
      this.fail(grpc.status.UNAVAILABLE, `Could not read the cargo to collect: ${(error as Error).message}`);
      return;
    }
    this.exhausted = true;
    await this.until(() => this.inFlight.size === 0);
    this.complete();
  }

  private async receiveAck(ack: DeliveryAckMessage): Promise<void> {
    if (this.finished) return;
    const item = this.inFlight.get(ack.id);
    if (!item) {
      this.fail(grpc.status.INVALID_ARGUMENT, `Acknowledgement for unknown delivery id "${ack.id.slice(0, 64)}"`);
      return;
    }
    this.inFlight.delete(ack.id);
    this.acked++;
    try {
      await item.acknowledged();
    } catch (error) {
      // The courier holds the cargo; at worst the gateway hands it out again and the target gateway drops the copy.
      this.log('error', { err: (error as Error).message, deliveryId: ack.id }, 'Could not record a collected cargo');
    }
    this.wake?.();
  }

  private async until(condition: () => boolean): Promise<void> {
    while (!condition() && !this.finished) {
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = null;
    }
  }

  private refuse(error: unknown): void {
    if (error instanceof CcaRefusedError) {
      const code = error.reason === 'reused' ? grpc.status.PERMISSION_DENIED : grpc.status.UNAUTHENTICATED;
      this.fail(code, `CCA refused (${error.reason}): ${error.message}`);
    } else {
      this.fail(grpc.status.UNAVAILABLE, `Could not check the CCA: ${(error as Error).message}`);
    }
  }

  private complete(): void {
    if (this.finished) return;
    this.log('info', { sent: this.sent, acked: this.acked, exhausted: this.exhausted }, 'CollectCargo call completed');
    this.finish();
    this.call.end();
  }

  private fail(code: grpc.status, details: string): void {
    if (this.finished) return;
    this.log(code === grpc.status.UNAVAILABLE ? 'error' : 'warn', { code: grpc.status[code] }, `Ending CollectCargo: ${details}`);
    this.finish();
    this.call.emit('error', { code, details });
  }

  private finish(): void {
    this.finished = true;
    this.abort.abort();
    clearTimeout(this.callTimer);
    this.wake?.();
    this.resolveDone();
  }

  private log(level: 'info' | 'warn' | 'error', fields: Record<string, unknown>, message: string): void {
    this.logger[level]({ callId: this.callId, peer: this.call.getPeer(), ...fields }, message);
  }
}
