import * as grpc from '@grpc/grpc-js';
import {
  clientChannel,
  DEFAULT_CLIENT_IDLE_TIMEOUT_MS,
  deliverOverCall,
  MAX_DELIVERY_ID_LENGTH,
  PogRPCAbortedError,
  PogRPCCallError,
  PogRPCProtocolError,
  silentLogger,
  type GrpcBindingClientOptions,
  type DeliveryCallOptions,
  type OutboundItem,
  type OutboundReport,
  type DeliveryAckMessage,
  type DeliveryMessage,
  type Logger,
} from '@twitter-relaynet/pogrpc';

import { DEFAULT_CARGO_WINDOW, DEFAULT_CLIENT_DEADLINE_MS, MAX_CARGO_LENGTH, MAX_CARGO_MESSAGE_LENGTH } from './constants';
import { loadCogRPCService, type CogRPCDialect } from './proto';

export interface CogRPCClientOptions extends GrpcBindingClientOptions {
  /** Which method paths and CCA scheme to use; default `awala` (RS-008). `relaynet` for the deployed servers. */
  readonly dialect?: CogRPCDialect;
  readonly maxCargoLength?: number;
}

export type CargoToDeliver = OutboundItem<'cargo'>;
export type CargoDeliveryReport = OutboundReport<'cargo'>;

export interface CollectCargoOptions {
  /** Store one collected cargo durably; it is acknowledged only after this resolves. A rejection stops the call. */
  onCargo(cargo: Buffer, deliveryId: string): Promise<void>;
  readonly signal?: AbortSignal;
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
export class CogRPCClient {
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
    }) as never;
  }

  /**
   * Deliver cargo in order over one DeliverCargo call, at most `window` unacknowledged, pulling lazily from
   * `cargo`. Never rejects: the report lists what was acked and what was not.
   */
  public async deliverCargo(
    cargo: AsyncIterable<CargoToDeliver> | Iterable<CargoToDeliver>,
    options: DeliveryCallOptions = {},
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
    const metadata = new grpc.Metadata();
    const scheme = this.dialect === 'awala' ? 'Awala-CCA' : 'Relaynet-CCA';
    metadata.set('authorization', `${scheme} ${cca.toString('base64')}`);
    const call = this.client.CollectCargo(metadata, { deadline: this.deadline() });
    this.activeCalls.add(call);
    let collected = 0;
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
    const waitForStatus = async () => {
      while (status === null) {
        await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
      }
    };
    try {
      while (!failure) {
        const delivery = queue.shift();
        if (delivery) {
          try {
            await options.onCargo(delivery.cargo, delivery.id);
          } catch (error) {
            failure = error instanceof Error ? error : new Error(String(error));
            // Half-close rather than cancel, so that the acks already written reach the server before the call ends.
            call.end();
            await waitForStatus();
            break;
          }
          collected++;
          call.write({ id: delivery.id });
        } else if (status !== null) {
          break;
        } else {
          await new Promise<void>((resolve) => (wake = resolve));
          wake = null;
        }
      }
    } catch (error) {
      fail(error instanceof Error ? error : new Error(String(error)));
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      if (status === null) call.cancel();
      else call.end();
      this.activeCalls.delete(call);
    }
    if (failure) {
      this.logger.warn({ err: failure.message, collected, target: this.target }, 'Cargo collection stopped early');
      return { collected, error: failure };
    }
    return { collected };
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
