/**
 * Endpoint side of PoWebSocket: connects to the gateway's Unix socket, registers (optionally), completes
 * the handshake, delivers parcels and collects the parcels addressed to it.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';

import WebSocket from 'ws';
import { type Logger, silentLogger } from '@twitter-relaynet/core';

import { CloseCode, ProtocolError } from './closeCodes';
import { ConnectionClosedError, DeliveryInterruptedError, HandshakeError, UntrustedSocketError } from './errors';
import { type CloseInfo, type ConnectionOptions, DEFAULTS, PeerConnection, abortError, assertParcelSize } from './peer';
import {
  MAX_PRE_HANDSHAKE_MESSAGE_SIZE,
  MAX_WS_PAYLOAD,
  MessageTag,
  type ParcelDeliveryDeauthorization,
  decodeChallenge,
  decodeComplete,
  encodeEndpointCertificateRequest,
  encodeParcelCollectionRequest,
  encodeParcelDeliveryDeauthorization,
  encodeResponse,
} from './proto';
import type { EndpointRegistration } from './server';

export interface PoWebSocketClientOptions extends ConnectionOptions {
  /** Absolute path of the gateway's Unix socket. */
  readonly socketPath: string;
  /** HTTP path of the WebSocket endpoint (default "/"). */
  readonly path?: string;
  /**
   * Signs the handshake nonce (its UTF-8 bytes) with every identity the endpoint claims: one detached CMS
   * SignedData per identity, signer certificate attached.
   */
  sign(nonce: Buffer): Promise<Buffer[]>;
  /**
   * Register before the handshake: the gateway issues a certificate for `publicKey` (DER SPKI);
   * `onRegistered` persists it and must resolve before `sign` is called.
   */
  readonly registration?: {
    readonly publicKey: Buffer;
    onRegistered(registration: EndpointRegistration): Promise<void>;
  };
  /** Where to log (default: nowhere, as every library; the daemon chooses the sink). */
  readonly logger?: Logger;
  /** Aborting before the connection is ready rejects `connect()`; afterwards it closes with 1000. */
  readonly signal?: AbortSignal;
  /**
   * Owners allowed for the socket file (default: this process's uid and root). Anything else is refused
   * before connecting.
   */
  readonly trustedSocketOwners?: readonly number[];
}

export interface CollectOptions {
  /** Store the parcel durably; its ack goes out once this resolves. A rejection closes with 1011. */
  onParcel(parcel: Buffer): Promise<void>;
  /** Ask the gateway to keep pushing parcels as they arrive instead of finishing with ParcelDeliveryComplete. */
  readonly keepAlive?: boolean;
  /** Aborting ends the collection by closing the connection (1000); unacknowledged parcels stay queued. */
  readonly signal?: AbortSignal;
}

export interface DeliverOptions {
  readonly signal?: AbortSignal;
}

/** Refuses a socket that is not a socket, or that another user (other than root) owns. */
export async function checkSocketOwnership(socketPath: string, trustedOwners?: readonly number[]): Promise<void> {
  let stat: fs.Stats;
  try {
    stat = await fs.promises.stat(socketPath);
  } catch (err) {
    throw new UntrustedSocketError(`Cannot stat gateway socket ${socketPath}: ${(err as Error).message}`);
  }
  if (!stat.isSocket()) {
    throw new UntrustedSocketError(`${socketPath} is not a socket`);
  }
  const owners = trustedOwners ?? [process.getuid?.() ?? 0, 0];
  if (!owners.includes(stat.uid)) {
    throw new UntrustedSocketError(
      `Refusing gateway socket ${socketPath}: owned by uid ${stat.uid}, not by this user or root`,
    );
  }
}

/** An endpoint's authenticated connection to its gateway. */
export class PoWebSocketConnection extends PeerConnection {
  private readonly preHandshake: Buffer[] = [];
  private preHandshakeWaiter: { resolve: (data: Buffer) => void; reject: (err: Error) => void } | undefined;
  private ready = false;
  private collection:
    | {
        onParcel: (parcel: Buffer) => Promise<void>;
        keepAlive: boolean;
        resolve: () => void;
        reject: (err: Error) => void;
      }
    | undefined;
  private collectionRequested = false;

  private constructor(ws: WebSocket, logger: Logger, options: ConnectionOptions) {
    super(ws, logger, options, 'endpoint');
  }

  /** Connects, registers if asked to, and completes the handshake. */
  static async connect(options: PoWebSocketClientOptions): Promise<PoWebSocketConnection> {
    const logger = options.logger ?? silentLogger;
    if (options.signal?.aborted) throw abortError(options.signal);
    await checkSocketOwnership(options.socketPath, options.trustedSocketOwners);
    const path = options.path ?? '/';
    const ws = new WebSocket(`ws+unix://${options.socketPath}:${path}`, {
      maxPayload: MAX_WS_PAYLOAD,
      perMessageDeflate: false,
      handshakeTimeout: options.handshakeTimeoutMs ?? DEFAULTS.handshakeTimeoutMs,
    });
    const connection = new PoWebSocketConnection(ws, logger, options);
    const onAbort = (): void => connection.fail(CloseCode.Normal, 'Aborted by the endpoint', undefined, 'info');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await connection.handshake(options);
    } catch (err) {
      options.signal?.removeEventListener('abort', onAbort);
      if (!connection.isClosed) connection.failFromError(err);
      const info = await connection.closed;
      if (options.signal?.aborted) throw abortError(options.signal);
      throw new HandshakeError(`PoWebSocket handshake failed: ${(err as Error).message}`, info.code);
    }
    return connection;
  }

  private async handshake(options: PoWebSocketClientOptions): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      if (this.ws.readyState === WebSocket.OPEN) resolve();
      this.ws.once('open', () => resolve());
      void this.closed.then((info) => reject(new ConnectionClosedError(info.code, info.reason)));
    });
    const nonce = decodeChallenge(await this.nextPreHandshakeMessage());
    if (options.registration) {
      this.sendRaw(encodeEndpointCertificateRequest(options.registration.publicKey));
      const response = this.decode(await this.nextPreHandshakeMessage());
      if (response.tag !== MessageTag.EndpointCertificateResponse) {
        throw new ProtocolError(CloseCode.UnsupportedData, 'Expected EndpointCertificateResponse');
      }
      await options.registration.onRegistered({
        endpointCertificate: response.message.certificate,
        gatewayCertificate: response.message.gatewayCertificate,
      });
    }
    const signatures = await options.sign(Buffer.from(nonce, 'utf8'));
    if (signatures.length === 0) throw new HandshakeError('sign() returned no signatures');
    this.sendRaw(encodeResponse(signatures));
    const success = decodeComplete(await this.nextPreHandshakeMessage());
    if (!success) {
      throw new ProtocolError(CloseCode.UnsupportedData, 'Gateway reported handshake failure');
    }
    this.ready = true;
    this.markHandshakeComplete();
    // Anything the gateway sent right after Complete (which it should not) is judged like any later message.
    for (const data of this.preHandshake.splice(0)) this.handleMessage(data);
    this.logger.info({ connectionId: this.id, identities: signatures.length }, 'Connected to gateway');
  }

  /** Registers without authenticating: connect, request a certificate, close with 1000. */
  static async register(
    options: Omit<PoWebSocketClientOptions, 'sign' | 'registration'> & { readonly publicKey: Buffer },
  ): Promise<EndpointRegistration> {
    const logger = options.logger ?? silentLogger;
    await checkSocketOwnership(options.socketPath, options.trustedSocketOwners);
    const ws = new WebSocket(`ws+unix://${options.socketPath}:${options.path ?? '/'}`, {
      maxPayload: MAX_WS_PAYLOAD,
      perMessageDeflate: false,
      handshakeTimeout: options.handshakeTimeoutMs ?? DEFAULTS.handshakeTimeoutMs,
    });
    const connection = new PoWebSocketConnection(ws, logger, options);
    let result: EndpointRegistration | undefined;
    try {
      await connection.handshake({
        ...options,
        registration: {
          publicKey: options.publicKey,
          onRegistered: async (registration) => {
            result = registration;
            throw new RegistrationDone();
          },
        },
        sign: () => Promise.reject(new Error('unreachable')),
      });
    } catch (err) {
      if (!(err instanceof RegistrationDone)) {
        if (!connection.isClosed) connection.failFromError(err);
        const info = await connection.closed;
        throw new HandshakeError(`Registration failed: ${(err as Error).message}`, info.code);
      }
    }
    connection.fail(CloseCode.Normal, 'Registration complete', undefined, 'info');
    await connection.closed;
    return result!;
  }

  private nextPreHandshakeMessage(): Promise<Buffer> {
    const queued = this.preHandshake.shift();
    if (queued) return Promise.resolve(queued);
    if (this.isClosed) return Promise.reject(this.closingError);
    return new Promise((resolve, reject) => {
      this.preHandshakeWaiter = { resolve, reject };
    });
  }

  protected override onClosing(err: Error): void {
    this.preHandshakeWaiter?.reject(err);
    this.preHandshakeWaiter = undefined;
    this.collection?.reject(err);
    this.collection = undefined;
  }

  protected onMessage(data: Buffer): void {
    if (!this.ready) {
      if (data.length > MAX_PRE_HANDSHAKE_MESSAGE_SIZE) {
        throw new ProtocolError(CloseCode.MessageTooBig, `Handshake-phase message of ${data.length} octets is too big`);
      }
      if (this.preHandshakeWaiter) {
        const waiter = this.preHandshakeWaiter;
        this.preHandshakeWaiter = undefined;
        waiter.resolve(data);
      } else if (this.preHandshake.length < 4) {
        this.preHandshake.push(data);
      } else {
        throw new ProtocolError(CloseCode.PolicyViolation, 'Unexpected messages during the handshake');
      }
      return;
    }
    const op = this.decode(data);
    switch (op.tag) {
      case MessageTag.ParcelDelivery: {
        const collection = this.collection;
        if (!collection) {
          throw new ProtocolError(CloseCode.PolicyViolation, 'Parcel pushed before ParcelCollectionRequest');
        }
        const { id, parcel } = op.message;
        this.receiveWithAck(id, parcel.length, () => collection.onParcel(parcel));
        return;
      }
      case MessageTag.ParcelDeliveryAck:
        this.handleAck(op.message.id);
        return;
      case MessageTag.ParcelDeliveryComplete: {
        const collection = this.collection;
        if (!collection) {
          throw new ProtocolError(CloseCode.PolicyViolation, 'ParcelDeliveryComplete without ParcelCollectionRequest');
        }
        this.enqueue(async () => {
          this.collection = undefined;
          collection.resolve();
        });
        return;
      }
      default:
        throw new ProtocolError(
          CloseCode.PolicyViolation,
          `Message tag 0x0${op.tag} is not expected from the gateway at this point`,
        );
    }
  }

  /**
   * Delivers one parcel; resolves once the gateway acknowledged it (it stored it durably). Waits while
   * `window` deliveries are unacknowledged. Rejects if the connection ends first: the parcel is then not
   * known to be stored and must be delivered again.
   */
  async deliverParcel(parcel: Buffer, options: DeliverOptions = {}): Promise<void> {
    assertParcelSize(parcel);
    await this.acquireSlot(options.signal);
    return this.sendParcel(randomUUID(), parcel);
  }

  /**
   * Delivers parcels from `parcels`, taking each only when the window has room, and yields each parcel
   * once the gateway has acknowledged it. If the connection ends or `signal` aborts first, throws
   * DeliveryInterruptedError listing every parcel taken from the source but not acknowledged.
   */
  async *deliverParcels(
    parcels: AsyncIterable<Buffer> | Iterable<Buffer>,
    options: DeliverOptions = {},
  ): AsyncGenerator<Buffer, void, undefined> {
    const unacknowledged = new Set<Buffer>(); // insertion order = the order parcels were taken
    const acked: Buffer[] = [];
    let failure: Error | undefined;
    let producerDone = false;
    let wake: (() => void) | undefined;
    let consumerWake: (() => void) | undefined;
    const notify = (): void => {
      wake?.();
      wake = undefined;
    };
    const stop = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;

    const onAbort = (): void => {
      failure ??= abortError(options.signal!);
      notify();
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });

    const producer = (async () => {
      const iterator =
        Symbol.asyncIterator in parcels
          ? (parcels as AsyncIterable<Buffer>)[Symbol.asyncIterator]()
          : (parcels as Iterable<Buffer>)[Symbol.iterator]();
      try {
        for (;;) {
          // Pull lazily: at most `window` parcels taken and not yet handed back to our consumer.
          while (unacknowledged.size + acked.length >= this.window) {
            await new Promise<void>((resolve) => {
              consumerWake = resolve;
            });
            if (signal.aborted) throw abortError(signal);
          }
          if (signal.aborted) throw abortError(signal);
          const next = await iterator.next();
          if (next.done) break;
          const parcel = next.value;
          // Taken from the source: from now on it is reported, acknowledged or not.
          unacknowledged.add(parcel);
          assertParcelSize(parcel);
          await this.acquireSlot(signal);
          this.sendParcel(randomUUID(), parcel).then(
            () => {
              unacknowledged.delete(parcel);
              acked.push(parcel);
              notify();
            },
            (err: Error) => {
              failure ??= err;
              notify();
            },
          );
        }
      } finally {
        await iterator.return?.();
      }
    })().then(
      () => {
        producerDone = true;
        notify();
      },
      (err: Error) => {
        failure ??= err;
        producerDone = true;
        notify();
      },
    );

    try {
      for (;;) {
        const next = acked.shift();
        if (next) {
          const resume = consumerWake;
          consumerWake = undefined;
          resume?.();
          yield next;
          continue;
        }
        if (failure) {
          const lost = [...unacknowledged];
          throw lost.length > 0 ? new DeliveryInterruptedError(lost, failure) : failure;
        }
        if (producerDone && unacknowledged.size === 0) return;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      stop.abort();
      consumerWake?.();
      void producer;
    }
  }

  /**
   * Sends ParcelCollectionRequest and hands each parcel pushed by the gateway to `onParcel`, in order,
   * acknowledging it once `onParcel` resolves. Resolves on ParcelDeliveryComplete (after the last ack);
   * with `keepAlive`, runs until `signal` aborts (then resolves, closing the connection with 1000).
   */
  collectParcels(options: CollectOptions): Promise<void> {
    if (this.collectionRequested)
      return Promise.reject(new Error('Parcel collection was already requested on this connection'));
    if (this.isClosed) return Promise.reject(this.closingError);
    if (options.signal?.aborted) return Promise.reject(abortError(options.signal));
    this.collectionRequested = true;
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.collection = undefined;
        this.fail(CloseCode.Normal, 'Collection aborted by the endpoint', undefined, 'info');
        void this.closed.then(() => resolve());
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.collection = {
        onParcel: options.onParcel,
        keepAlive: options.keepAlive ?? false,
        resolve: () => {
          options.signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: (err) => {
          options.signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      this.sendRaw(encodeParcelCollectionRequest(options.keepAlive ?? false));
    });
  }

  /** Sends a Parcel Delivery Deauthorization; resolves once the gateway acknowledged it. */
  async deauthorize(pdd: ParcelDeliveryDeauthorization, options: DeliverOptions = {}): Promise<void> {
    await this.acquireSlot(options.signal);
    const id = randomUUID();
    return this.sendAwaitingAck(id, (onSent) =>
      this.sendRaw(encodeParcelDeliveryDeauthorization({ ...pdd, id }), onSent),
    );
  }

  /** Closes the connection normally (1000) and resolves once it is closed. */
  async close(reason = 'Endpoint done'): Promise<CloseInfo> {
    this.fail(CloseCode.Normal, reason, undefined, 'info');
    return this.closed;
  }
}

class RegistrationDone extends Error {}
