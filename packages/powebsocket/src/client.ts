/**
 * Endpoint side of PoWebSocket: connects to the gateway's Unix socket, registers (optionally), completes
 * the handshake, delivers parcels and collects the parcels addressed to it.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';

import type {
  DeliveryOptions,
  DeliverySource,
  MessageHandler,
  ParcelDeliveryClient,
  ParcelDeliveryReport,
  ParcelToDeliver,
  PulledDelivery,
} from '@twitter-relaynet/binding';
import WebSocket from 'ws';
import { type Logger, silentLogger } from '@twitter-relaynet/core';

import { CloseCode, ProtocolError } from './closeCodes';
import { ConnectionClosedError, HandshakeError, PoWebSocketError, UntrustedSocketError } from './errors';
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
  readonly onParcel: MessageHandler;
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
export class PoWebSocketConnection extends PeerConnection implements ParcelDeliveryClient {
  private readonly preHandshake: Buffer[] = [];
  private preHandshakeWaiter: { resolve: (data: Buffer) => void; reject: (err: Error) => void } | undefined;
  private ready = false;
  private collection:
    | {
        onParcel: MessageHandler;
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
   * Delivers parcels in order, taking each from `parcels` only when the window has room. Never rejects: the
   * report lists the delivery ids the gateway acknowledged (it stored those parcels) and the parcels taken but
   * not acknowledged, in the order they were taken, with why the delivery stopped early (the connection ended,
   * `signal` aborted, a parcel was too large). Parcels the source has not yielded yet were never taken.
   */
  async deliverParcels(
    parcels: DeliverySource<ParcelToDeliver>,
    options: DeliveryOptions = {},
  ): Promise<ParcelDeliveryReport> {
    const pending = new Map<string, Buffer>(); // taken and not acknowledged, in the order taken
    const notSent: PulledDelivery<'parcel'>[] = [];
    const acked: string[] = [];
    let failure: Error | undefined;
    let finished = false;
    let wake: (() => void) | undefined;
    const notify = (): void => {
      wake?.();
      wake = undefined;
    };
    const fail = (err: Error): void => {
      failure ??= err;
      notify();
    };
    const onAbort = (): void => fail(abortError(options.signal!));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) onAbort();
    const waitUntil = async (condition: () => boolean): Promise<void> => {
      while (!condition() && !failure) await new Promise<void>((resolve) => (wake = resolve));
    };
    const iterator =
      Symbol.asyncIterator in parcels
        ? (parcels as AsyncIterable<ParcelToDeliver>)[Symbol.asyncIterator]()
        : (parcels as Iterable<ParcelToDeliver>)[Symbol.iterator]();
    try {
      for (;;) {
        // Pull lazily: at most `window` parcels taken and not yet acknowledged.
        await waitUntil(() => pending.size < this.window);
        if (failure) break;
        const next = await iterator.next();
        if (next.done) break;
        const { id = randomUUID(), parcel } = next.value;
        if (pending.has(id)) {
          notSent.push({ id, parcel });
          throw new RangeError(`Delivery id ${id} is already in flight`);
        }
        // Taken from the source: from now on it is reported, acknowledged or not.
        pending.set(id, parcel);
        assertParcelSize(parcel);
        await this.acquireSlot(options.signal);
        this.sendParcel(id, parcel).then(() => {
          if (finished) return;
          pending.delete(id);
          acked.push(id);
          options.onAck?.(id);
          notify();
        }, fail);
      }
      await waitUntil(() => pending.size === 0);
    } catch (err) {
      fail(err instanceof Error ? err : new PoWebSocketError(String(err)));
    } finally {
      finished = true;
      options.signal?.removeEventListener('abort', onAbort);
      await Promise.resolve(iterator.return?.()).catch(() => undefined);
    }
    const unacked = [...[...pending].map(([id, parcel]) => ({ id, parcel })), ...notSent];
    return failure ? { acked, unacked, error: failure } : { acked, unacked };
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
