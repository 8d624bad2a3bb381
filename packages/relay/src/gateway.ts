/**
 * What a relay run needs from a gateway, whatever the binding: deliver cargo (each one acknowledged once stored,
 * or refused with a reason), collect what the gateway holds (acknowledging each message once it is saved), and
 * say goodbye. relay.ts holds the trip's logic once against this contract; CoSocket (a Unix socket on this
 * computer) and CogRPC (gRPC over TLS, across the network) each implement it.
 */
import { type Logger } from '@twitter-relaynet/core';
import {
  CoSocketClient,
  CoSocketQuitError,
  CoSocketRefusalError,
  type CollectedMessage,
  QuitReason,
  type RefusedDelivery,
  RefusalDisposition,
} from '@twitter-relaynet/cosocket';

import { describeError } from './flashdrive';
import { coSocketRegistrationExchange, type RegistrationExchange } from './registration';
import { RelayError } from './errors';

export { type CollectedMessage, type RefusedDelivery, RefusalDisposition };

export interface DeliveryCallbacks {
  readonly signal?: AbortSignal;
  /** The gateway stored this delivery: the file may go. */
  readonly onAck: (deliveryId: string) => void;
  /** The gateway said why it will not store this delivery (bindings without refusal reports never call it). */
  readonly onRefusal: (refusal: RefusedDelivery) => void;
}

/** The gateway refused a collection, saying why; `disposition` says whether the CCA may be presented again. */
export class CollectionRefusedError extends RelayError {
  public constructor(
    public readonly reason: string,
    public readonly disposition: RefusalDisposition,
  ) {
    super(reason);
  }
}

export interface GatewayConnection {
  /** Deliver in order, pulling lazily; resolves once the gateway is done with them, with why it stopped early. */
  deliverCargo(
    cargo: AsyncIterable<{ readonly id: string; readonly cargo: Buffer }>,
    callbacks: DeliveryCallbacks,
  ): Promise<{ readonly error?: Error }>;
  /**
   * What the gateway hands out for `cca` (or without one), as it arrives; ends when the gateway has nothing more.
   * Throws `CollectionRefusedError` when the gateway refused the collection, another error when it failed.
   */
  collect(cca: Buffer | null, options: { readonly signal?: AbortSignal }): AsyncIterable<CollectedMessage>;
  /** End the conversation: `graceful` says goodbye (acks already given reach the gateway); otherwise drop it. */
  close(graceful: boolean): Promise<void>;
}

export interface GatewayConnector {
  /** Where the gateway is, as the user gave it. */
  readonly address: string;
  connect(signal?: AbortSignal): Promise<GatewayConnection>;
  /** A hint for a failed connection, e.g. " (is the gateway running?)", or ''. */
  connectionHint(error: unknown): string;
  /** Why a delivery stopped, for the user. */
  describeDeliveryError(error: Error): string;
  /**
   * Why this is not the server to talk to (e.g. its TLS certificate is not the trusted one), checked before the
   * flashdrive is touched; null if nothing says so (a server that cannot be reached is the run's to report).
   */
  distrust?(signal?: AbortSignal): Promise<string | null>;
  /** The registration exchange with this gateway (registration.ts): present a request or response, get the answer. */
  registration(signal?: AbortSignal): Promise<{ readonly exchange: RegistrationExchange; close(): Promise<void> }>;
}

/** The gateway on this computer, through its CoSocket Unix socket. */
export class CoSocketConnector implements GatewayConnector {
  public constructor(
    public readonly address: string,
    private readonly options: {
      readonly logger?: Logger;
      readonly connectTimeoutMs?: number;
      readonly idleTimeoutMs?: number;
    } = {},
  ) {}

  public async connect(signal?: AbortSignal): Promise<GatewayConnection> {
    const client = await CoSocketClient.connect(this.address, { ...this.options, signal });
    return {
      deliverCargo: (cargo, callbacks) => client.deliverCargo(cargo, callbacks),
      collect: (cca, options) => refusalsMapped(client.collectCargo(cca, options)),
      close: async (graceful) => {
        if (graceful && !client.isClosed) await client.close();
        else client.destroy();
      },
    };
  }

  public async registration(signal?: AbortSignal): Promise<{ exchange: RegistrationExchange; close(): Promise<void> }> {
    return coSocketRegistrationExchange(this.address, {
      signal,
      logger: this.options.logger,
      connectTimeoutMs: this.options.connectTimeoutMs,
    });
  }

  public connectionHint(error: unknown): string {
    const code = ((error as Error).cause as NodeJS.ErrnoException | undefined)?.code;
    return code === 'ENOENT' || code === 'ECONNREFUSED' ? ' (is the gateway running?)' : '';
  }

  /**
   * CoSocket's Quit carries a reason code but no text: when a gateway that does not report refusals (the
   * extension) could not take a cargo, the courier is pointed at the gateway's log, where the reason is,
   * keyed by the cargo's delivery.
   */
  public describeDeliveryError(error: Error): string {
    if (error instanceof CoSocketQuitError && error.quitReason === QuitReason.INTERNAL_ERROR) {
      return 'the gateway could not take it (it quit with internal-error); its log says why';
    }
    return describeError(error);
  }
}

async function* refusalsMapped(messages: AsyncIterable<CollectedMessage>): AsyncGenerator<CollectedMessage> {
  try {
    yield* messages;
  } catch (error) {
    if (error instanceof CoSocketRefusalError) throw new CollectionRefusedError(error.reason, error.disposition);
    throw error;
  }
}
