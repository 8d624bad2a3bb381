import * as grpc from '@grpc/grpc-js';
import type {
  CargoDeliveryClient,
  CargoDeliveryReport,
  CargoToDeliver,
  DeliveryOptions,
  DeliverySource,
  MessageHandler,
} from '@twitter-relaynet/binding';
import { type Logger, ProgressWatchdog, silentLogger } from '@twitter-relaynet/core';
import {
  callProgress,
  clientChannel,
  DEFAULT_CLIENT_IDLE_TIMEOUT_MS,
  deliverOverCall,
  MAX_DELIVERY_ID_LENGTH,
  PogRPCAbortedError,
  PogRPCCallError,
  PogRPCProtocolError,
  type GrpcBindingClientOptions,
  type DeliveryAckMessage,
  type DeliveryMessage,
} from '@twitter-relaynet/pogrpc';

import {
  COGRPC_FLOW_CONTROL_WINDOW,
  DEFAULT_CARGO_WINDOW,
  DEFAULT_CLIENT_DEADLINE_MS,
  MAX_CARGO_LENGTH,
  MAX_CARGO_MESSAGE_LENGTH,
} from './constants';
import { loadCogRPCService, type CogRPCDialect } from './proto';

export interface CogRPCClientOptions extends GrpcBindingClientOptions {
  /** Which method paths and CCA scheme to use; default `awala` (RS-008). `relaynet` for the deployed servers. */
  readonly dialect?: CogRPCDialect;
  readonly maxCargoLength?: number;
}

export interface CollectCargoOptions {
  /** Store one collected cargo durably; it is acknowledged only after this resolves. A rejection stops the call. */
  readonly onCargo: MessageHandler<string>;
  readonly signal?: AbortSignal;
}

/** One cargo received by `collectCargoMessages`. */
export interface CollectedCargo {
  readonly deliveryId: string;
  readonly cargo: Buffer;
  /** Acknowledge it once it is durably stored; rejects if the call has already ended. */
  ack(): Promise<void>;
}

export interface CargoCollectionReport {
  /** Cargo stored and acknowledged. */
  readonly collected: number;
  /** Why the collection stopped before the server ended it, if it did. */
  readonly error?: Error;
}

type CargoStream = grpc.ClientDuplexStream<DeliveryMessage<'cargo'>, DeliveryAckMessage>;
type CollectionStream = grpc.ClientDuplexStream<DeliveryAckMessage, DeliveryMessage<'cargo'>>;

/** A CogRPC client: a courier talking to a gateway, or a private gateway talking to a courier. */
export class CogRPCClient implements CargoDeliveryClient {
  private readonly client: grpc.Client & {
    DeliverCargo(metadata: grpc.Metadata, options: grpc.CallOptions): CargoStream;
    CollectCargo(metadata: grpc.Metadata, options: grpc.CallOptions): CollectionStream;
  };
  private readonly dialect: CogRPCDialect;
  private readonly maxCargoLength: number;
  private readonly logger: Logger;
  private readonly activeCalls = new Set<{ cancel(): void }>();

  /** `target`: `host:port` or `unix:///absolute/path.sock`. */
  public constructor(
    public readonly target: string,
    private readonly options: CogRPCClientOptions,
  ) {
    this.dialect = options.dialect ?? 'awala';
    this.maxCargoLength = options.maxCargoLength ?? MAX_CARGO_LENGTH;
    this.logger = options.logger ?? silentLogger;
    const { Client } = loadCogRPCService(this.dialect);
    const channel = clientChannel(options.tls, target, this.logger, 'CogRPC');
    this.client = new Client(target, channel.credentials, {
      ...channel.options,
      'grpc.max_send_message_length': MAX_CARGO_MESSAGE_LENGTH,
      'grpc.max_receive_message_length': MAX_CARGO_MESSAGE_LENGTH,
      'grpc-node.flow_control_window': COGRPC_FLOW_CONTROL_WINDOW,
    }) as never;
  }

  /**
   * Deliver cargo in order over one DeliverCargo call, at most `window` unacknowledged, pulling lazily from
   * `cargo`. Never rejects: the report lists what was acked and what was not.
   */
  public async deliverCargo(
    cargo: DeliverySource<CargoToDeliver>,
    options: DeliveryOptions = {},
  ): Promise<CargoDeliveryReport> {
    const call = this.client.DeliverCargo(new grpc.Metadata(), { deadline: this.deadline() });
    this.activeCalls.add(call);
    try {
      return await deliverOverCall(call, cargo, {
        method: 'DeliverCargo',
        field: 'cargo',
        window: this.options.window ?? DEFAULT_CARGO_WINDOW,
        maxLength: this.maxCargoLength,
        idleTimeoutMs: this.options.idleTimeoutMs ?? DEFAULT_CLIENT_IDLE_TIMEOUT_MS,
        logger: this.logger,
        target: this.target,
        ...options,
      });
    } finally {
      this.activeCalls.delete(call);
    }
  }

  /**
   * Collect the cargo the server holds for the gateway that issued `cca` (its serialization): each is stored
   * through `onCargo`, then acknowledged; the server ends the call when it has nothing more. Never rejects.
   */
  public async collectCargo(cca: Buffer, options: CollectCargoOptions): Promise<CargoCollectionReport> {
    let collected = 0;
    let failure: Error | undefined;
    try {
      for await (const item of this.collectCargoMessages(cca, { signal: options.signal })) {
        try {
          await options.onCargo(item.cargo, item.deliveryId);
        } catch (error) {
          // Leaving the loop half-closes the call: the acks already written reach the server first.
          failure = toError(error);
          break;
        }
        await item.ack();
        collected++;
      }
    } catch (error) {
      failure ??= toError(error);
    }
    if (failure) {
      this.logger.warn({ err: failure.message, collected, target: this.target }, 'Cargo collection stopped early');
      return { collected, error: failure };
    }
    return { collected };
  }

  /**
   * The cargo the server hands out for `cca`, as it arrives: acknowledge each with `ack()` once it is stored
   * (in any order; the server keeps at most its window unacknowledged). Ends when the server ends the call;
   * throws why the call failed (a `PogRPCCallError` with the gRPC status, e.g. UNAUTHENTICATED for a refused
   * CCA). Leaving the loop early half-closes the call, so the acks already given still reach the server.
   *
   * A call on which no octet arrives for `idleTimeoutMs` while every cargo received is acknowledged (the server,
   * not this side, is the one holding things up) fails with DEADLINE_EXCEEDED, however long the call lasts.
   */
  public async *collectCargoMessages(
    cca: Buffer,
    options: { readonly signal?: AbortSignal } = {},
  ): AsyncGenerator<CollectedCargo> {
    const metadata = new grpc.Metadata();
    const scheme = this.dialect === 'awala' ? 'Awala-CCA' : 'Relaynet-CCA';
    metadata.set('authorization', `${scheme} ${cca.toString('base64')}`);
    const call = this.client.CollectCargo(metadata, { deadline: this.deadline() });
    this.activeCalls.add(call);
    let failure: Error | undefined;
    const seen = new Set<string>();
    const queue: Array<DeliveryMessage<'cargo'>> = [];
    let status: grpc.StatusObject | null = null;
    let wake: (() => void) | null = null;
    const notify = () => wake?.();
    const fail = (error: Error) => {
      failure ??= error;
      call.cancel();
      notify();
    };
    const idleMs = this.options.idleTimeoutMs ?? DEFAULT_CLIENT_IDLE_TIMEOUT_MS;
    const watchdog = new ProgressWatchdog({
      idleMs,
      progress: callProgress(call, 'both'),
      onIdle: (idleForMs) =>
        fail(
          new PogRPCCallError(
            `CollectCargo idle: no octet came from the server for ${idleForMs} ms (idle limit ${idleMs} ms)`,
            grpc.status.DEADLINE_EXCEEDED,
          ),
        ),
    });
    // While this side holds cargo it has not acknowledged, the server may be waiting on us: not its silence.
    let unacked = 0;
    let halfClosed = false;
    const onAbort = () => fail(new PogRPCAbortedError('Collection aborted'));
    options.signal?.addEventListener('abort', onAbort);
    if (options.signal?.aborted) onAbort();
    call.on('data', (delivery: DeliveryMessage<'cargo'>) => {
      const idLength = Buffer.byteLength(delivery.id);
      if (idLength === 0 || idLength > MAX_DELIVERY_ID_LENGTH || seen.has(delivery.id)) {
        fail(new PogRPCProtocolError(`Server sent an invalid or repeated delivery id "${delivery.id.slice(0, 64)}"`));
      } else if (delivery.cargo.length === 0 || delivery.cargo.length > this.maxCargoLength) {
        fail(new PogRPCProtocolError(`Server sent a cargo of ${delivery.cargo.length} octets`));
      } else {
        seen.add(delivery.id);
        queue.push(delivery);
        notify();
      }
    });
    call.on('error', () => undefined); // the status event carries the details
    call.on('status', (s: grpc.StatusObject) => {
      status = s;
      if (s.code !== grpc.status.OK) {
        failure ??= new PogRPCCallError(`CollectCargo failed: ${grpc.status[s.code]}: ${s.details}`, s.code);
      }
      notify();
    });
    const ack = (deliveryId: string) => {
      let done = false;
      return async () => {
        if (done) return;
        if (status !== null || failure || halfClosed) {
          throw new PogRPCCallError(
            `CollectCargo ended before cargo ${deliveryId} could be acknowledged`,
            (status as grpc.StatusObject | null)?.code ?? grpc.status.CANCELLED,
          );
        }
        done = true;
        call.write({ id: deliveryId });
        if (--unacked === 0) watchdog.resume();
      };
    };
    try {
      while (!failure) {
        const delivery = queue.shift();
        if (delivery) {
          if (unacked++ === 0) watchdog.pause();
          yield { deliveryId: delivery.id, cargo: delivery.cargo, ack: ack(delivery.id) };
        } else if (status !== null) {
          break;
        } else {
          await new Promise<void>((resolve) => (wake = resolve));
          wake = null;
        }
      }
      if (failure) throw failure;
    } finally {
      if (status === null && !failure) {
        // Left early: half-close rather than cancel, and wait for the server to end the call, so that the acks
        // already written reach it. What is still unacknowledged stays with the server; nothing more is stored.
        halfClosed = true;
        call.end();
        if (unacked > 0) watchdog.resume();
        unacked = 0;
        while (status === null && !failure) {
          await new Promise<void>((resolve) => (wake = resolve));
          wake = null;
        }
      }
      watchdog.stop();
      options.signal?.removeEventListener('abort', onAbort);
      if (status === null) call.cancel();
      this.activeCalls.delete(call);
    }
  }

  /** Cancel every active call and close the channel. */
  public close(): void {
    for (const call of this.activeCalls) call.cancel();
    this.client.close();
  }

  private deadline(): number {
    return Date.now() + (this.options.deadlineMs ?? DEFAULT_CLIENT_DEADLINE_MS);
  }
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
