import { randomUUID } from 'node:crypto';

import * as grpc from '@grpc/grpc-js';
import type { MessageHandler } from '@twitter-relaynet/binding';
import { type Logger } from '@twitter-relaynet/core';
import {
  InboundDeliveryCall,
  ServerCall,
  startGrpcBindingServer,
  type DeliveryAckMessage,
  type DeliveryMessage,
  type GrpcBindingServer,
  type GrpcBindingServerOptions,
} from '@twitter-relaynet/pogrpc';

import {
  CARGO_MESSAGE_OVERHEAD,
  COGRPC_FLOW_CONTROL_WINDOW,
  DEFAULT_CARGO_WINDOW,
  MAX_AUTHORIZATION_LENGTH,
  MAX_CARGO_LENGTH,
  MAX_CARGO_MESSAGE_LENGTH,
} from './constants';
import { CcaRefusedError } from './errors';
import { COGRPC_DIALECTS, loadCogRPCService } from './proto';
import { loadCourierRegistrationService, registerGatewayHandler } from './registration';

export interface CargoContext {
  readonly deliveryId: string;
  /** Aborted if the call ends (client cancelled, timeout) while the cargo is being stored. */
  readonly signal: AbortSignal;
}

/** One cargo the gateway hands out for collection. */
export interface CollectableCargo {
  readonly cargo: Buffer;
  /**
   * Called once the courier has acknowledged (stored) it: the gateway may now forget it. Called on its own, not
   * as a method (the server keeps only this function while the cargo is unacknowledged, not the cargo).
   */
  readonly acknowledged: () => Promise<void>;
}

export interface CollectionContext {
  /** Aborted when the call ends, however it ends. */
  readonly signal: AbortSignal;
  readonly peer: string;
}

export interface CogRPCServerOptions extends GrpcBindingServerOptions {
  /**
   * Store a delivered cargo durably (or refuse it permanently, logging why); its ack leaves only after this
   * resolves. A rejection means "not stored": the call ends with UNAVAILABLE and the courier keeps the cargo.
   */
  readonly storeCargo: MessageHandler<CargoContext>;
  /**
   * Check a CCA (the serialized RAMF message from the `Authorization` metadata) and return the cargo to hand out
   * for it. Throw `CcaRefusedError` to refuse the CCA: `reused` answers PERMISSION_DENIED, any other reason
   * UNAUTHENTICATED. Any other error answers UNAVAILABLE (the courier may retry).
   */
  collectCargo(
    cca: Buffer,
    context: CollectionContext,
  ): Promise<AsyncIterable<CollectableCargo> | Iterable<CollectableCargo>>;
  readonly maxCargoLength?: number;
  /**
   * Answer a courier registration request (the `CourierRegistration` service, offered only when this is set).
   * Throw `GatewayRegistrationRefusedError` to refuse it for good; any other error answers UNAVAILABLE.
   */
  registerGateway?(request: Buffer, context: { readonly peer: string }): Promise<Buffer>;
}

export type CogRPCServer = GrpcBindingServer;

/** Start a CogRPC server offering `DeliverCargo` and `CollectCargo` under both the `awala` and `relaynet` names. */
export async function createCogRPCServer(options: CogRPCServerOptions): Promise<CogRPCServer> {
  const maxCargoLength = options.maxCargoLength ?? MAX_CARGO_LENGTH;
  const settings = {
    label: 'CogRPC',
    maxReceiveLength: maxCargoLength + CARGO_MESSAGE_OVERHEAD,
    maxSendLength: MAX_CARGO_MESSAGE_LENGTH,
    flowControlWindow: COGRPC_FLOW_CONTROL_WINDOW,
  };
  return startGrpcBindingServer(options, settings, ({ addService, calls, logger, idleTimeoutMs }) => {
    const handlers = {
      DeliverCargo: (call: grpc.ServerDuplexStream<DeliveryMessage<'cargo'>, DeliveryAckMessage>) =>
        calls.add(
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
        calls.add(new CollectionCall(call, options, logger, maxCargoLength)),
    };
    for (const dialect of COGRPC_DIALECTS) addService(loadCogRPCService(dialect).service, handlers);
    if (options.registerGateway) {
      const register = options.registerGateway.bind(options);
      addService(loadCourierRegistrationService().service, {
        RegisterGateway: registerGatewayHandler(register, logger),
      });
    }
  });
}

const AUTHORIZATION = /^(Awala|Relaynet)-CCA ([A-Za-z0-9+/]+={0,2})$/;

/** The CCA in the `Authorization` metadata, or why it cannot be read. */
export function parseCcaAuthorization(metadata: grpc.Metadata): Buffer | string {
  const values = metadata.get('authorization');
  if (values.length === 0) return 'Authorization metadata is missing';
  if (values.length > 1) return `Expected one Authorization metadata value; got ${values.length}`;
  const value = values[0].toString();
  if (value.length > MAX_AUTHORIZATION_LENGTH)
    return `Authorization metadata exceeds ${MAX_AUTHORIZATION_LENGTH} characters`;
  const match = AUTHORIZATION.exec(value);
  if (!match || match[2].length % 4 !== 0)
    return 'Authorization must be "Awala-CCA <base64>" or "Relaynet-CCA <base64>"';
  return Buffer.from(match[2], 'base64');
}

/**
 * The server side of CollectCargo: hands out the cargo for the caller's CCA with at most `window` unacknowledged,
 * and ends the call (OK) once everything it had is acknowledged. Clients need not half-close: the reference one
 * never does.
 */
class CollectionCall extends ServerCall {
  private readonly window: number;
  /**
   * Only each cargo's acknowledgement callback: not the cargo itself, so that up to `window` ~9 MiB
   * cargoes are not kept alive once grpc-js has written them (the gateway has them in its store).
   */
  private readonly inFlight = new Map<string, CollectableCargo['acknowledged']>();
  private exhausted = false;
  private sent = 0;
  private acked = 0;
  private wake: (() => void) | null = null;

  public constructor(
    private readonly collection: grpc.ServerDuplexStream<DeliveryAckMessage, DeliveryMessage<'cargo'>>,
    private readonly options: CogRPCServerOptions,
    logger: Logger,
    private readonly maxCargoLength: number,
  ) {
    super(collection as grpc.ServerDuplexStream<unknown, unknown>, {
      method: 'CollectCargo',
      callTimeoutMs: options.callTimeoutMs,
      logger,
      logFields: { peer: collection.getPeer() },
    });
    this.window = options.window ?? DEFAULT_CARGO_WINDOW;
    collection.on('data', (ack: DeliveryAckMessage) => void this.receiveAck(ack));
    collection.on('end', () => {
      // The client will acknowledge nothing more: what is still in flight stays with the gateway for next time.
      this.succeed({ sent: this.sent, acked: this.acked, unacked: this.inFlight.size, clientHalfClosed: true });
    });
    void this.run();
  }

  public bufferedBytes(): number {
    return 0; // acks are a few octets; cargo sent stays in the gateway's store, not here
  }

  protected unacknowledged(): number {
    return this.inFlight.size;
  }

  private async run(): Promise<void> {
    const cca = parseCcaAuthorization(this.collection.metadata);
    if (typeof cca === 'string') {
      this.fail(grpc.status.UNAUTHENTICATED, cca);
      return;
    }
    let source: AsyncIterable<CollectableCargo> | Iterable<CollectableCargo>;
    try {
      source = await this.options.collectCargo(cca, { signal: this.abort.signal, peer: this.collection.getPeer() });
    } catch (error) {
      this.refuse(error);
      return;
    }
    this.log('info', {}, 'CollectCargo call started');
    // grpc-js takes up to 16 messages before write() asks to wait: the window's 5 cargoes (~45 MiB) would all
    // sit in its queue while HTTP/2 sends the first. Instead a cargo is written once the previous one has gone
    // out to HTTP/2, the next being made meanwhile: two cargoes in memory, not the window's worth.
    let previousWritten: Promise<void> = Promise.resolve();
    // Not for-await: that would hold the last cargo while the next one is made (beside the frame it was copied into).
    const iterator =
      Symbol.asyncIterator in source
        ? source[Symbol.asyncIterator]()
        : (source as Iterable<CollectableCargo>)[Symbol.iterator]();
    let exhausted = false;
    try {
      for (;;) {
        let next: IteratorResult<CollectableCargo> | null = await iterator.next();
        if (next.done) {
          exhausted = true;
          break;
        }
        if (this.finished) return;
        if (!next.value.cargo.length || next.value.cargo.length > this.maxCargoLength) {
          this.log(
            'error',
            { length: next.value.cargo.length },
            `Skipped a cargo outside 1..${this.maxCargoLength} octets`,
          );
          continue;
        }
        await this.until(() => this.inFlight.size < this.window);
        await previousWritten;
        if (this.finished) return;
        previousWritten = this.writeCargo(next.value);
        next = null;
      }
    } catch (error) {
      this.fail(grpc.status.UNAVAILABLE, `Could not read the cargo to collect: ${(error as Error).message}`, error);
      return;
    } finally {
      // As for-await would: a call that ends early stops the gateway's generation too.
      if (!exhausted) await iterator.return?.();
    }
    this.exhausted = true;
    await this.until(() => this.inFlight.size === 0);
    this.succeed({ sent: this.sent, acked: this.acked, exhausted: this.exhausted });
  }

  /** Hand a cargo to grpc-js (which copies it into a frame); resolves once written. */
  private writeCargo(item: CollectableCargo): Promise<void> {
    const id = randomUUID();
    this.inFlight.set(id, item.acknowledged);
    this.sent++;
    return writeMessage(this.collection, { id, cargo: item.cargo }, this.done);
  }

  private async receiveAck(ack: DeliveryAckMessage): Promise<void> {
    if (this.finished) return;
    const acknowledged = this.inFlight.get(ack.id);
    if (!acknowledged) {
      this.fail(grpc.status.INVALID_ARGUMENT, `Acknowledgement for unknown delivery id "${ack.id.slice(0, 64)}"`);
      return;
    }
    this.inFlight.delete(ack.id);
    this.acked++;
    try {
      await acknowledged();
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
      this.fail(grpc.status.UNAVAILABLE, `Could not check the CCA: ${(error as Error).message}`, error);
    }
  }

  protected override onFinish(): void {
    this.wake?.();
  }
}

/**
 * Write `message`; resolves once the stream is done with it, or once the call is (`done`): an error while writing
 * ends the call, which `done` reports, so there is nothing to handle but the wait. No closure here refers to the
 * message, so that the cargo in it is not kept alive beside the frame grpc-js copied it into until that frame is
 * sent (a ~9 MiB Buffer more at the relaying gateway's peak).
 */
function writeMessage<T>(
  stream: { write(message: T, callback: () => void): unknown },
  message: T,
  done: Promise<unknown>,
): Promise<void> {
  let resolve!: () => void;
  const written = new Promise<void>((settle) => (resolve = settle));
  stream.write(message, () => resolve());
  void done.then(() => resolve());
  return written;
}
