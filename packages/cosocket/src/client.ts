import { randomBytes, randomUUID } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { type Logger, silentLogger } from '@twitter-relaynet/core';

import type {
  CargoDeliveryClient,
  CargoDeliveryReport,
  CargoToDeliver,
  DeliveryOptions,
  DeliverySource,
} from '@twitter-relaynet/binding';

import {
  DEFAULT_CLIENT_IDLE_TIMEOUT_MS,
  DEFAULT_WINDOW,
  MAX_MESSAGE_LENGTH,
  MAX_VARCHAR_LENGTH,
  NONCE_LENGTH,
  PacketTag,
  QuitReason,
  REFUSAL_REPORTS_OPT_IN,
  RefusalDisposition,
  RegistrationStatus,
} from './constants';
import {
  CoSocketAbortedError,
  CoSocketConnectionClosedError,
  CoSocketError,
  CoSocketHandshakeError,
  CoSocketMessageSizeError,
  CoSocketProtocolError,
  CoSocketRefusalError,
} from './errors';
import type { Packet } from './packets';
import { PacketSocket } from './packetSocket';

export type CoSocketTarget = string | { readonly path: string } | { readonly host?: string; readonly port: number };

export interface CoSocketClientOptions {
  /** Maximum unacknowledged cargo deliveries in flight, and the most the server may push unacked; default 5. */
  readonly window?: number;
  readonly maxMessageLength?: number;
  /**
   * Quit with `timeout` if no octet moves either way for this long (a cargo still draining to the server counts
   * as moving); default 60 s.
   */
  readonly idleTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
  /**
   * Optional RS-004 handshake (only when the CRC spans computers): we send a 32-octet nonce, the gateway
   * answers with signatures and this callback decides whether to accept them.
   */
  readonly handshakeVerifier?: (nonce: Buffer, signatures: readonly Buffer[]) => Promise<boolean>;
  readonly logger?: Logger;
  readonly signal?: AbortSignal;
  /**
   * Ask the gateway to say why it refuses a cargo or a collection (Refusal packets, an extension; a
   * gateway without it ignores the request). Default true.
   */
  readonly refusalReports?: boolean;
}

/** A cargo the gateway refused with a reason (Refusal packet). */
export interface RefusedDelivery {
  readonly id: string;
  readonly cargo: Buffer;
  readonly reason: string;
  readonly disposition: RefusalDisposition;
}

/** CoSocket's delivery report: the binding's, plus the deliveries the gateway refused with a reason. */
export interface CoSocketDeliveryReport extends CargoDeliveryReport {
  /** Deliveries the gateway refused, with its reason (only when it supports refusal reports). */
  readonly refused: readonly RefusedDelivery[];
}

export interface DeliverCargoOptions extends DeliveryOptions {
  /** The gateway refused this delivery (it was not stored); the disposition says whether to try again. */
  readonly onRefusal?: (refusal: RefusedDelivery) => void;
}

export interface CollectedMessage {
  /** `cargo`, or `cca`: a fresh CCA from the gateway for the relayer to carry (extension packet 0x10). */
  readonly kind: 'cargo' | 'cca';
  readonly deliveryId: string;
  readonly message: Buffer;
  /** Acknowledge once you have stored the message durably. The gateway may then delete its copy. */
  ack(): Promise<void>;
}

export interface CollectCargoOptions {
  readonly signal?: AbortSignal;
}

/** The relayer side of a CoSocket CRC. */
export class CoSocketClient implements CargoDeliveryClient {
  private readonly packets: PacketSocket;
  private readonly window: number;
  private readonly maxMessageLength: number;
  private readonly logger: Logger;
  /** Our deliveries awaiting the gateway's ack. */
  private readonly awaitingAck = new Set<string>();
  private ackListener: ((deliveryId: string) => void) | null = null;
  private refusalListener: ((deliveryId: string, reason: string, disposition: RefusalDisposition) => void) | null =
    null;
  private wakeDelivery: (() => void) | null = null;
  private collection: CollectionState | null = null;
  private handshakeWaiter: ((signatures: readonly Buffer[]) => void) | null = null;
  private registrationWaiter: ((result: { status: RegistrationStatus; body: Buffer } | null) => void) | null = null;
  private busy = false;

  private constructor(socket: Socket, options: CoSocketClientOptions) {
    this.window = options.window ?? DEFAULT_WINDOW;
    this.maxMessageLength = options.maxMessageLength ?? MAX_MESSAGE_LENGTH;
    this.logger = options.logger ?? silentLogger;
    this.packets = new PacketSocket(
      socket,
      {
        logger: this.logger,
        idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_CLIENT_IDLE_TIMEOUT_MS,
        maxMessageLength: this.maxMessageLength,
      },
      (packet) => this.handle(packet),
    );
    void this.packets.closed.then(() => {
      this.wakeDelivery?.();
      this.collection?.wake();
      this.handshakeWaiter?.([]);
      this.registrationWaiter?.(null);
    });
  }

  /** Connect to a gateway's CoSocket server (Unix socket path, or TCP), running the handshake if configured. */
  public static async connect(target: CoSocketTarget, options: CoSocketClientOptions = {}): Promise<CoSocketClient> {
    const socket = await openSocket(target, options.connectTimeoutMs ?? 10_000, options.signal);
    const client = new CoSocketClient(socket, options);
    try {
      if (options.handshakeVerifier) await client.runHandshake(options.handshakeVerifier);
      if (options.refusalReports ?? true) {
        await client.packets.send({ tag: PacketTag.CARGO_DELIVERY_COMPLETION, gatewayAddress: REFUSAL_REPORTS_OPT_IN });
      }
    } catch (error) {
      client.packets.destroy();
      throw error;
    }
    return client;
  }

  /** True once the connection is gone. */
  public get isClosed(): boolean {
    return this.packets.isClosed;
  }

  /**
   * Deliver cargo in order with at most `window` unacknowledged deliveries in flight, pulling lazily from
   * `cargoes`. Never rejects: the report says what was acked (delete those) and what was not (keep those).
   */
  public async deliverCargo(
    cargoes: DeliverySource<CargoToDeliver>,
    options: DeliverCargoOptions = {},
  ): Promise<CoSocketDeliveryReport> {
    this.claim();
    const acked: string[] = [];
    const inFlight = new Map<string, Buffer>();
    const unackedPulled: Array<{ id: string; cargo: Buffer }> = [];
    const refused: RefusedDelivery[] = [];
    let error: Error | undefined;
    const onAbort = () => this.wakeDelivery?.();
    options.signal?.addEventListener('abort', onAbort);
    this.ackListener = (deliveryId) => {
      if (!inFlight.has(deliveryId)) throw new CoSocketProtocolError(`Ack for unknown delivery id ${deliveryId}`);
      inFlight.delete(deliveryId);
      acked.push(deliveryId);
      options.onAck?.(deliveryId);
      this.wakeDelivery?.();
    };
    this.refusalListener = (deliveryId, reason, disposition) => {
      const cargo = inFlight.get(deliveryId);
      if (!cargo) throw new CoSocketProtocolError(`Refusal for unknown delivery id ${deliveryId}`);
      inFlight.delete(deliveryId);
      const refusal = { id: deliveryId, cargo, reason, disposition };
      refused.push(refusal);
      options.onRefusal?.(refusal);
      this.wakeDelivery?.();
    };
    const failure = (): Error | undefined => {
      if (options.signal?.aborted) return new CoSocketAbortedError('Delivery aborted');
      if (this.packets.isClosed || this.packets.closeError) {
        return this.packets.closeError ?? new CoSocketConnectionClosedError('Connection closed');
      }
      return undefined;
    };
    const waitFor = async (condition: () => boolean) => {
      while (!condition() && !failure()) {
        await new Promise<void>((resolve) => (this.wakeDelivery = resolve));
        this.wakeDelivery = null;
      }
    };
    try {
      for await (const item of cargoes) {
        const id = item.id ?? randomUUID();
        error = failure();
        if (error) {
          unackedPulled.push({ id, cargo: item.cargo });
          break;
        }
        error = this.checkOutgoing(id, item.cargo);
        if (error || inFlight.has(id)) {
          error ??= new CoSocketError(`Delivery id ${id} is already in flight`);
          unackedPulled.push({ id, cargo: item.cargo });
          break;
        }
        await waitFor(() => inFlight.size < this.window);
        error = failure();
        if (error) {
          unackedPulled.push({ id, cargo: item.cargo });
          break;
        }
        inFlight.set(id, item.cargo);
        try {
          await this.packets.send({ tag: PacketTag.CARGO_DELIVERY, deliveryId: id, cargo: item.cargo });
        } catch (sendError) {
          error = sendError as Error;
          break;
        }
      }
      if (!error) {
        await waitFor(() => inFlight.size === 0);
        error = inFlight.size ? failure() : undefined;
      }
    } catch (iterationError) {
      error = iterationError as Error; // the caller's iterable threw
    } finally {
      this.ackListener = null;
      this.refusalListener = null;
      options.signal?.removeEventListener('abort', onAbort);
      this.busy = false;
    }
    const unacked = [...[...inFlight].map(([id, cargo]) => ({ id, cargo })), ...unackedPulled];
    if (error) this.logger.warn({ err: error.message, unacked: unacked.length }, 'Cargo delivery stopped early');
    return error ? { acked, unacked, refused, error } : { acked, unacked, refused };
  }

  /**
   * Send a Cargo Collection Request (with `cca`, or none) and yield every cargo (and CCA) the gateway sends
   * until its Cargo Delivery Completion. Ack each one after storing it; unacked ones stay with the gateway.
   * Throws if the connection fails before completion, and `CoSocketRefusalError` (after the completion)
   * if the gateway refused the request with a reason.
   */
  public async *collectCargo(
    cca: Buffer | null = null,
    options: CollectCargoOptions = {},
  ): AsyncGenerator<CollectedMessage> {
    this.claim();
    if (cca && cca.length > this.maxMessageLength) {
      this.busy = false;
      throw new CoSocketMessageSizeError(`CCA of ${cca.length} octets exceeds ${this.maxMessageLength}`);
    }
    const state = new CollectionState(this.window);
    this.collection = state;
    const onAbort = () => state.wake();
    options.signal?.addEventListener('abort', onAbort);
    try {
      await this.packets.send({ tag: PacketTag.CARGO_COLLECTION_REQUEST, cca: cca && cca.length ? cca : null });
      while (true) {
        if (options.signal?.aborted) throw new CoSocketAbortedError('Collection aborted');
        const next = state.queue.shift();
        if (next) {
          const deliveryId = next.deliveryId;
          yield {
            kind: next.kind,
            deliveryId,
            message: next.message,
            ack: async () => {
              if (!state.unacked.delete(deliveryId)) return; // acked twice: harmless
              await this.packets.send({ tag: PacketTag.CARGO_COLLECTION, deliveryId });
            },
          };
          continue;
        }
        if (state.completedWith !== null) {
          if (state.refusal) throw new CoSocketRefusalError(state.refusal.reason, state.refusal.disposition);
          return;
        }
        if (this.packets.isClosed || this.packets.closeError) {
          throw this.packets.closeError ?? new CoSocketConnectionClosedError('Connection closed during collection');
        }
        await state.waitForActivity();
      }
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      this.collection = null;
      this.busy = false;
    }
  }

  /**
   * A Registration Exchange (extension): send `body`, resolve to the gateway's answer. Throws
   * `CoSocketRefusalError` (FINAL) if the gateway refused it with a reason, and a connection error if it
   * could not answer (e.g. it does not know the extension: it quits with invalid-packet).
   */
  public async exchangeRegistration(body: Buffer): Promise<Buffer> {
    this.claim();
    try {
      const answer = new Promise<{ status: RegistrationStatus; body: Buffer } | null>(
        (resolve) => (this.registrationWaiter = resolve),
      );
      if (this.packets.isClosed) this.registrationWaiter?.(null);
      else await this.packets.send({ tag: PacketTag.REGISTRATION_EXCHANGE, body });
      const result = await answer;
      if (!result) {
        throw (
          this.packets.closeError ??
          new CoSocketConnectionClosedError('Connection closed before the registration answer')
        );
      }
      if (result.status === RegistrationStatus.REFUSED) {
        throw new CoSocketRefusalError(result.body.toString('utf8'), RefusalDisposition.FINAL);
      }
      return result.body;
    } finally {
      this.registrationWaiter = null;
      this.busy = false;
    }
  }

  /** Say goodbye (Quit OK) and wait for the connection to close. */
  public async close(): Promise<void> {
    if (!this.packets.isClosed) this.packets.quit(QuitReason.OK, 'Client done');
    await this.packets.closed;
  }

  /** Drop the connection abruptly. */
  public destroy(): void {
    this.packets.destroy();
  }

  private claim(): void {
    if (this.busy) throw new CoSocketError('Another delivery or collection is in progress on this connection');
    this.busy = true;
  }

  private checkOutgoing(id: string, cargo: Buffer): Error | undefined {
    if (Buffer.byteLength(id) === 0 || Buffer.byteLength(id) > MAX_VARCHAR_LENGTH) {
      return new CoSocketError(`Delivery id must be 1..${MAX_VARCHAR_LENGTH} octets`);
    }
    if (cargo.length === 0 || cargo.length > this.maxMessageLength) {
      return new CoSocketMessageSizeError(`Cargo of ${cargo.length} octets is outside 1..${this.maxMessageLength}`);
    }
    return undefined;
  }

  private async runHandshake(verify: NonNullable<CoSocketClientOptions['handshakeVerifier']>): Promise<void> {
    const nonce = randomBytes(NONCE_LENGTH);
    const response = new Promise<readonly Buffer[]>((resolve) => (this.handshakeWaiter = resolve));
    await this.packets.send({ tag: PacketTag.HANDSHAKE_CHALLENGE, nonce });
    const signatures = await response;
    this.handshakeWaiter = null;
    if (this.packets.isClosed) {
      throw new CoSocketHandshakeError(`Connection closed during the handshake: ${this.packets.closeError?.message}`);
    }
    if (signatures.length === 0 || !(await verify(nonce, signatures))) {
      this.packets.quit(QuitReason.HANDSHAKE_ERROR, 'Gateway handshake signatures are invalid');
      throw new CoSocketHandshakeError('Gateway handshake signatures are invalid');
    }
    await this.packets.send({ tag: PacketTag.HANDSHAKE_COMPLETE });
  }

  private handle(packet: Packet): void {
    switch (packet.tag) {
      case PacketTag.HANDSHAKE_RESPONSE:
        if (!this.handshakeWaiter) {
          throw new CoSocketProtocolError('Unexpected Handshake Response', QuitReason.HANDSHAKE_ERROR);
        }
        this.handshakeWaiter(packet.signatures);
        return;
      case PacketTag.CARGO_COLLECTION:
        if (!this.ackListener) throw new CoSocketProtocolError(`Unexpected ack for ${packet.deliveryId}`);
        this.ackListener(packet.deliveryId);
        return;
      case PacketTag.CARGO_DELIVERY:
      case PacketTag.CCA_DELIVERY: {
        const collection = this.collection;
        if (!collection || collection.completedWith !== null) {
          throw new CoSocketProtocolError('Cargo pushed without a pending Cargo Collection Request');
        }
        if (collection.unacked.size >= this.window) {
          throw new CoSocketProtocolError(
            `Gateway pushed more than ${this.window} unacknowledged deliveries`,
            QuitReason.QUOTA_REACHED,
          );
        }
        if (collection.unacked.has(packet.deliveryId)) {
          throw new CoSocketProtocolError(`Delivery id ${packet.deliveryId} is already in flight`);
        }
        collection.unacked.add(packet.deliveryId);
        collection.queue.push({
          kind: packet.tag === PacketTag.CARGO_DELIVERY ? 'cargo' : 'cca',
          deliveryId: packet.deliveryId,
          message: packet.tag === PacketTag.CARGO_DELIVERY ? packet.cargo : packet.cca,
        });
        collection.wake();
        return;
      }
      case PacketTag.REFUSAL:
        if (packet.subject === '') {
          if (!this.collection || this.collection.completedWith !== null || this.collection.refusal) {
            throw new CoSocketProtocolError('Unexpected refusal of a collection request');
          }
          this.collection.refusal = { reason: packet.reason, disposition: packet.disposition };
          return;
        }
        if (!this.refusalListener) throw new CoSocketProtocolError(`Unexpected refusal of ${packet.subject}`);
        this.refusalListener(packet.subject, packet.reason, packet.disposition);
        return;
      case PacketTag.REGISTRATION_RESULT: {
        const waiter = this.registrationWaiter;
        if (!waiter) throw new CoSocketProtocolError('Unexpected Registration Result');
        this.registrationWaiter = null;
        waiter({ status: packet.status, body: packet.body });
        return;
      }
      case PacketTag.CARGO_DELIVERY_COMPLETION:
        if (!this.collection) throw new CoSocketProtocolError('Unexpected Cargo Delivery Completion');
        this.collection.completedWith = packet.gatewayAddress;
        this.collection.wake();
        return;
      default:
        throw new CoSocketProtocolError(`Packet 0x${packet.tag.toString(16)} is not valid from a gateway`);
    }
  }
}

class CollectionState {
  public readonly queue: Array<{ kind: 'cargo' | 'cca'; deliveryId: string; message: Buffer }> = [];
  public readonly unacked = new Set<string>();
  public completedWith: string | null = null;
  /** The gateway's reason for refusing this request (Refusal packet), reported after its Completion. */
  public refusal: { reason: string; disposition: RefusalDisposition } | null = null;
  private waiter: (() => void) | null = null;

  public constructor(public readonly window: number) {}

  public wake(): void {
    this.waiter?.();
  }

  public waitForActivity(): Promise<void> {
    return new Promise((resolve) => {
      this.waiter = () => {
        this.waiter = null;
        resolve();
      };
    });
  }
}

async function openSocket(target: CoSocketTarget, timeoutMs: number, signal?: AbortSignal): Promise<Socket> {
  const socket =
    typeof target === 'string'
      ? netConnect({ path: target })
      : 'path' in target
        ? netConnect({ path: target.path })
        : netConnect({ host: target.host ?? '127.0.0.1', port: target.port });
  return new Promise<Socket>((resolve, reject) => {
    const fail = (error: Error) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      reject(new CoSocketConnectionClosedError(`Could not connect: ${error.message}`, { cause: error }));
    };
    const onAbort = () => fail(new CoSocketAbortedError('Connection aborted'));
    const timer = setTimeout(() => fail(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
    signal?.addEventListener('abort', onAbort);
    socket.once('error', fail);
    socket.once('connect', () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.off('error', fail);
      resolve(socket);
    });
  });
}
