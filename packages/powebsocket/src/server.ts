/**
 * Gateway side of PoWebSocket: an HTTP server on a Unix socket (mode 0600) upgraded by `ws`.
 */
import { createPublicKey, randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';

import WebSocket, { WebSocketServer } from 'ws';
import type { BindingServer, MessageHandler } from '@twitter-relaynet/binding';
import { type Logger, removeStaleSocket, silentLogger } from '@twitter-relaynet/core';

import { CloseCode, ProtocolError } from './closeCodes';
import { RegistrationRefusedError } from './errors';
import { type ConnectionOptions, PeerConnection } from './peer';
import {
  MAX_PARCEL_SIZE,
  MAX_PRE_HANDSHAKE_MESSAGE_SIZE,
  MAX_WS_PAYLOAD,
  MessageTag,
  type ParcelDeliveryDeauthorization,
  decodeResponse,
  encodeChallenge,
  encodeComplete,
  encodeEndpointCertificateResponse,
  encodeParcelDeliveryComplete,
} from './proto';

/** A parcel the gateway hands to an endpoint. */
export interface OutgoingParcel {
  readonly parcel: Buffer;
  /** Called once the endpoint acknowledged the parcel (it stored it): delete it from the queue. */
  ack(): Promise<void>;
  /** Called when the parcel was taken from the source but not acknowledged (connection ended, too big). */
  nack?(reason: Error): void;
}

export interface ParcelSourceOptions {
  /** The endpoint asked to keep the connection open: keep yielding new parcels as they arrive. */
  readonly keepAlive: boolean;
}

export interface EndpointRegistration {
  /** DER X.509 certificate the gateway issued for the endpoint's public key. */
  readonly endpointCertificate: Buffer;
  /** DER X.509 certificate of the gateway (the issuer). */
  readonly gatewayCertificate: Buffer;
}

export interface PoWebSocketServerOptions extends ConnectionOptions {
  /** Path of the Unix socket to listen on (created with mode 0600; a stale socket file is replaced). */
  readonly socketPath: string;
  /**
   * Verifies the handshake: one signature per identity, over `nonce` (the UTF-8 bytes of the challenge's
   * nonce). Resolves with the endpoint id of each signature, in order; throws if any does not verify.
   */
  verify(nonce: Buffer, signatures: readonly Buffer[]): Promise<string[]>;
  /** Stores a parcel from an authenticated endpoint durably; the ack goes out once this resolves. */
  readonly onParcelDelivered: MessageHandler<readonly string[]>;
  /**
   * Parcels queued for these endpoints, pulled only after the endpoint's ParcelCollectionRequest and only
   * as fast as the window allows. When it ends, ParcelDeliveryComplete follows the last ack.
   * `signal` aborts when the connection closes.
   */
  parcelSource(
    endpointIds: readonly string[],
    signal: AbortSignal,
    options: ParcelSourceOptions,
  ): AsyncIterable<OutgoingParcel>;
  /** Issues a certificate for an endpoint's public key (DER SPKI). Absent: registration is refused (1008). */
  issueEndpointCertificate?(publicKey: Buffer): Promise<EndpointRegistration>;
  /** Stores a PDD durably (the ack goes out once this resolves). Absent: PDDs are logged and refused. */
  onDeauthorization?(pdd: ParcelDeliveryDeauthorization, endpointIds: readonly string[]): Promise<void>;
  /** Where to log (default: nowhere, as every library; the daemon chooses the sink). */
  readonly logger?: Logger;
  /** Most identities (signatures) one handshake may claim (default 16). */
  readonly maxIdentities?: number;
  /** Aborting closes the server (like `close()`). */
  readonly signal?: AbortSignal;
}

const DEFAULT_MAX_CONNECTION_MS = 24 * 60 * 60 * 1000;

type ServerCallbacks = Pick<
  PoWebSocketServerOptions,
  'verify' | 'onParcelDelivered' | 'parcelSource' | 'issueEndpointCertificate' | 'onDeauthorization'
>;

/** One endpoint's connection, as the gateway sees it. */
export class GatewayConnection extends PeerConnection {
  private readonly nonce = randomBytes(32).toString('hex');
  private ids: readonly string[] | undefined;
  private verifying = false;
  private collecting = false;

  constructor(
    ws: WebSocket,
    logger: Logger,
    options: ConnectionOptions,
    private readonly callbacks: ServerCallbacks,
    private readonly maxIdentities: number,
  ) {
    super(ws, logger, { maxConnectionMs: DEFAULT_MAX_CONNECTION_MS, ...options }, 'gateway');
    this.sendRaw(encodeChallenge(this.nonce));
  }

  /** The endpoint ids verified by the handshake (undefined before it completes). */
  get endpointIds(): readonly string[] | undefined {
    return this.ids;
  }

  protected onMessage(data: Buffer): void {
    if (!this.ids) {
      this.onPreHandshakeMessage(data);
      return;
    }
    const op = this.decode(data);
    switch (op.tag) {
      case MessageTag.ParcelDelivery: {
        const { id, parcel } = op.message;
        const ids = this.ids;
        this.receiveWithAck(id, parcel.length, () => this.callbacks.onParcelDelivered(parcel, ids));
        return;
      }
      case MessageTag.ParcelDeliveryAck:
        this.handleAck(op.message.id);
        return;
      case MessageTag.ParcelCollectionRequest:
        if (this.collecting) {
          throw new ProtocolError(CloseCode.PolicyViolation, 'Parcel collection was already requested');
        }
        this.collecting = true;
        void this.pump(op.message.keepAlive);
        return;
      case MessageTag.EndpointCertificateRequest:
        this.register(op.message.publicKey);
        return;
      case MessageTag.ParcelDeliveryDeauthorization: {
        const { id, ...pdd } = op.message;
        if (!this.ids.includes(pdd.endpointAddress)) {
          throw new ProtocolError(
            CloseCode.PolicyViolation,
            'Deauthorization for an endpoint this connection did not authenticate',
          );
        }
        const ids = this.ids;
        const store = async (): Promise<void> => {
          if (this.callbacks.onDeauthorization) {
            await this.callbacks.onDeauthorization(pdd, ids);
          } else {
            this.logger.warn(
              { connectionId: this.id, endpointAddress: pdd.endpointAddress },
              'PDD refused: this gateway does not support deauthorizations',
            );
          }
        };
        if (id === '') {
          this.enqueue(store); // 2019 PDD without an id: nothing to acknowledge
        } else {
          this.receiveWithAck(id, 0, store);
        }
        return;
      }
      default:
        throw new ProtocolError(CloseCode.PolicyViolation, `Message tag 0x0${op.tag} is only sent by gateways`);
    }
  }

  private onPreHandshakeMessage(data: Buffer): void {
    if (data.length > MAX_PRE_HANDSHAKE_MESSAGE_SIZE) {
      throw new ProtocolError(CloseCode.MessageTooBig, `Handshake-phase message of ${data.length} octets is too big`);
    }
    if (this.verifying) {
      throw new ProtocolError(CloseCode.PolicyViolation, 'Message sent before the handshake completed');
    }
    // A handshake Response never starts with 0x04 (that would be protobuf field 0), so a first octet of
    // 0x04 is an EndpointCertificateRequest (registration before the handshake).
    if (data[0] === MessageTag.EndpointCertificateRequest) {
      const op = this.decode(data);
      if (op.tag === MessageTag.EndpointCertificateRequest) this.register(op.message.publicKey);
      return;
    }
    const signatures = decodeResponse(data);
    if (signatures.length === 0) {
      throw new ProtocolError(CloseCode.UnsupportedData, 'Handshake response has no signatures');
    }
    if (signatures.length > this.maxIdentities) {
      throw new ProtocolError(
        CloseCode.PolicyViolation,
        `Handshake response claims more than ${this.maxIdentities} identities`,
      );
    }
    this.verifying = true;
    this.enqueue(async () => {
      let ids: string[];
      try {
        ids = await this.callbacks.verify(Buffer.from(this.nonce, 'utf8'), signatures);
      } catch (err) {
        throw new ProtocolError(
          CloseCode.UnsupportedData,
          `Handshake signature invalid: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
      if (
        !Array.isArray(ids) ||
        ids.length !== signatures.length ||
        ids.some((id) => typeof id !== 'string' || id === '')
      ) {
        throw new ProtocolError(
          CloseCode.UnsupportedData,
          'Handshake signature invalid: not every signature was verified',
        );
      }
      this.ids = Object.freeze([...ids]);
      this.verifying = false;
      this.markHandshakeComplete();
      this.sendRaw(encodeComplete(true));
      this.logger.info({ connectionId: this.id, endpointIds: this.ids }, 'Endpoint authenticated');
    });
  }

  private register(publicKey: Buffer): void {
    this.enqueue(async () => {
      const issue = this.callbacks.issueEndpointCertificate;
      if (!issue) {
        throw new ProtocolError(CloseCode.PolicyViolation, 'This gateway does not register endpoints');
      }
      try {
        createPublicKey({ key: publicKey, format: 'der', type: 'spki' });
      } catch {
        throw new ProtocolError(
          CloseCode.UnsupportedData,
          'EndpointCertificateRequest.public_key is not a DER SubjectPublicKeyInfo',
        );
      }
      let registration: EndpointRegistration;
      try {
        registration = await issue(publicKey);
      } catch (err) {
        if (err instanceof RegistrationRefusedError) {
          throw new ProtocolError(CloseCode.PolicyViolation, `Registration refused: ${err.message}`);
        }
        throw err;
      }
      this.sendRaw(
        encodeEndpointCertificateResponse(registration.endpointCertificate, registration.gatewayCertificate),
      );
      this.logger.info({ connectionId: this.id }, 'Endpoint certificate issued');
    });
  }

  /**
   * Pushes the endpoint's parcels, then ParcelDeliveryComplete. A window slot is taken before each pull
   * and given back only once the parcel's `ack()` has resolved, so at most `window` parcels are ever
   * taken from the source and not yet removed from the queue.
   */
  private async pump(keepAlive: boolean): Promise<void> {
    const ids = this.ids!;
    const pending = new Set<Promise<void>>();
    const iterator = this.callbacks.parcelSource(ids, this.signal, { keepAlive })[Symbol.asyncIterator]();
    try {
      for (;;) {
        try {
          await this.acquireSlot(this.signal);
        } catch {
          break; // closing
        }
        const next = await iterator.next();
        if (next.done || this.isClosed) {
          this.releaseSlot();
          if (!next.done) next.value.nack?.(this.closingError);
          break;
        }
        const item = next.value;
        if (!Buffer.isBuffer(item.parcel) || item.parcel.length > MAX_PARCEL_SIZE) {
          this.releaseSlot();
          const err = new RangeError(
            `Parcel of ${item.parcel?.length} octets cannot be delivered (maximum ${MAX_PARCEL_SIZE})`,
          );
          this.logger.error(
            { connectionId: this.id, err: err.message },
            'Parcel source yielded an undeliverable parcel',
          );
          item.nack?.(err);
          continue;
        }
        const delivered = this.sendParcel(randomUUID(), item.parcel, false).then(
          async () => {
            try {
              await item.ack();
            } catch (err) {
              this.logger.error(
                { connectionId: this.id, err: (err as Error).message },
                'Could not remove acknowledged parcel from the queue',
              );
            } finally {
              this.releaseSlot();
            }
          },
          (err: Error) => item.nack?.(err),
        );
        pending.add(delivered);
        void delivered.finally(() => pending.delete(delivered));
      }
    } catch (err) {
      if (!this.isClosed) this.fail(CloseCode.InternalError, 'Parcel source failed', err);
      return;
    } finally {
      await Promise.all(pending);
      await iterator.return?.().catch(() => undefined);
    }
    if (!this.isClosed) {
      this.sendRaw(encodeParcelDeliveryComplete());
    }
  }
}

/** A PoWebSocket gateway server on a Unix socket. */
export class PoWebSocketServer implements BindingServer {
  private readonly connections = new Set<GatewayConnection>();
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly options: PoWebSocketServerOptions,
    private readonly httpServer: http.Server,
    private readonly wss: WebSocketServer,
    private readonly logger: Logger,
  ) {}

  /** Starts listening on `options.socketPath`. */
  static async listen(options: PoWebSocketServerOptions): Promise<PoWebSocketServer> {
    const logger = options.logger ?? silentLogger;
    const handshakeTimeoutMs = options.handshakeTimeoutMs ?? 10_000;
    await removeStaleSocket(options.socketPath, (problem) =>
      problem === 'in use'
        ? new Error(`${options.socketPath} is in use by another server`)
        : new Error(`${options.socketPath} exists and is not a socket`),
    );

    const httpServer = http.createServer((_req, res) => {
      res.writeHead(426, { 'Content-Type': 'text/plain', Connection: 'close' });
      res.end('PoWebSocket: WebSocket upgrade required\n');
    });
    // Clients that never complete the HTTP upgrade are dropped: a silent one by the idle timeout (ws clears it on
    // upgrade), and one that drips its request an octet at a time (which resets an idle timeout forever: found by
    // test/server.flood.spec.ts) by a deadline counted from the connection.
    const upgradeDeadlines = new WeakMap<net.Socket, NodeJS.Timeout>();
    httpServer.on('connection', (socket: net.Socket) => {
      socket.setTimeout(handshakeTimeoutMs, () => socket.destroy());
      const deadline = setTimeout(() => socket.destroy(), handshakeTimeoutMs);
      deadline.unref();
      upgradeDeadlines.set(socket, deadline);
      socket.once('close', () => clearTimeout(deadline));
    });
    httpServer.on('upgrade', (_request: http.IncomingMessage, socket: net.Socket) => {
      clearTimeout(upgradeDeadlines.get(socket));
    });
    const wss = new WebSocketServer({ server: httpServer, maxPayload: MAX_WS_PAYLOAD, perMessageDeflate: false });
    const server = new PoWebSocketServer(options, httpServer, wss, logger);
    wss.on('connection', (ws, request) => server.accept(ws, request.socket));
    wss.on('error', (err) => logger.error({ err: err.message }, 'WebSocket server error'));

    await listenOwnerOnly(httpServer, options.socketPath);
    logger.info({ socketPath: options.socketPath }, 'PoWebSocket server listening');
    if (options.signal) {
      if (options.signal.aborted) await server.close();
      else options.signal.addEventListener('abort', () => void server.close(), { once: true });
    }
    return server;
  }

  get socketPath(): string {
    return this.options.socketPath;
  }

  /** Octets of received parcels not yet stored and acknowledged, across connections. */
  get pendingIncomingBytes(): number {
    let total = 0;
    for (const connection of this.connections) total += connection.pendingIncomingBytes;
    return total;
  }

  /** Open connections (including those still in the handshake). */
  get connectionCount(): number {
    return this.connections.size;
  }

  private accept(ws: WebSocket, socket: net.Socket): void {
    if (this.closing) {
      ws.close(CloseCode.GoingAway, 'Server shutting down');
      return;
    }
    let connection: GatewayConnection;
    try {
      connection = new GatewayConnection(ws, this.logger, this.options, this.options, this.options.maxIdentities ?? 16);
    } catch (err) {
      this.logger.error({ err: (err as Error).message }, 'Could not set up connection');
      ws.terminate();
      return;
    }
    connection.attachTransport(socket);
    this.connections.add(connection);
    this.logger.info({ connectionId: connection.id }, 'Endpoint connected');
    void connection.closed.then(() => this.connections.delete(connection));
  }

  /** Stops accepting connections, closes open ones with 1001 and removes the socket file. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const stopped = new Promise<void>((resolve) => this.httpServer.close(() => resolve()));
      for (const connection of this.connections) {
        connection.fail(CloseCode.GoingAway, 'Server shutting down', undefined, 'info');
      }
      await Promise.all([...this.connections].map((c) => c.closed));
      this.wss.close();
      await stopped;
      this.logger.info({ socketPath: this.options.socketPath }, 'PoWebSocket server closed');
    })();
    return this.closing;
  }
}

/** Listens with the socket file created owner-only (umask around the synchronous bind, then chmod 0600). */
async function listenOwnerOnly(server: http.Server, socketPath: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    let previousUmask: number | undefined;
    try {
      previousUmask = process.umask(0o177);
    } catch {
      // Worker threads cannot change the umask; chmod below still applies.
    }
    try {
      server.listen(socketPath, () => {
        server.removeListener('error', onError);
        resolve();
      });
    } finally {
      if (previousUmask !== undefined) process.umask(previousUmask);
    }
  });
  await fs.promises.chmod(socketPath, 0o600);
}
