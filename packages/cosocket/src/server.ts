import { randomUUID } from 'node:crypto';
import { chmod } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';

import type { BindingServer, MessageHandler } from '@twitter-relaynet/binding';
import { type Logger, removeStaleSocket, silentLogger } from '@twitter-relaynet/core';
import {
  DEFAULT_SERVER_CONNECTION_TIMEOUT_MS,
  DEFAULT_SERVER_IDLE_TIMEOUT_MS,
  DEFAULT_WINDOW,
  MAX_MESSAGE_LENGTH,
  PacketTag,
  QuitReason,
  REFUSAL_REPORTS_OPT_IN,
  RefusalDisposition,
  RegistrationStatus,
} from './constants';
import { CoSocketError, CoSocketProtocolError, CoSocketRefusalError } from './errors';
import type { Packet } from './packets';
import { PacketSocket } from './packetSocket';

/** One message the gateway hands the relayer during a collection. */
export type CollectionItem =
  | { readonly cargo: Buffer; readonly cca?: undefined; onAck?(): Promise<void> | void }
  /** A fresh CCA for the relayer to carry to the peer gateway (sent as the CCA Delivery extension packet). */
  | { readonly cca: Buffer; readonly cargo?: undefined; onAck?(): Promise<void> | void };

export interface CollectionResponse {
  /** Sent in the Cargo Delivery Completion packet: the gateway whose cargo is now exhausted. */
  readonly gatewayAddress?: string;
  readonly items: AsyncIterable<CollectionItem> | Iterable<CollectionItem>;
  /**
   * Why there is nothing to collect, when the request was refused but must still be answered with a
   * Completion (e.g. a spent CCA, so that the relayer drops it). A relayer that opted in to refusal
   * reports gets it in a Refusal packet before the Completion; others get the Completion alone.
   */
  readonly refusal?: { readonly reason: string; readonly disposition: RefusalDisposition };
}

export interface CoSocketServerOptions {
  /** Unix socket path (created 0600). Mutually exclusive with `port`. */
  readonly socketPath?: string;
  /** TCP (optional): port and host (default 127.0.0.1). */
  readonly port?: number;
  readonly host?: string;
  /**
   * Store the cargo durably. The Cargo Collection ack is sent only after this resolves (so resolve once it is
   * fsynced, or once it was permanently refused and logged). A rejection means "not stored, try again later":
   * no ack is sent and the connection is quit with `internal-error`, so the relayer keeps the cargo.
   * A `CoSocketRefusalError` refuses it with a reason: a relayer that opted in to refusal reports gets
   * a Refusal packet instead of the ack, and the connection goes on; to any other relayer a FINAL
   * refusal is acknowledged (it must not carry the cargo forever) and a LATER one quits with
   * `internal-error` (it keeps the cargo), as RS-004 allows.
   */
  readonly onCargoDelivered: MessageHandler<string>;
  /**
   * The relayer asks for cargo (`cca` is null when it sent none, e.g. at the user gateway). Throw a
   * `CoSocketProtocolError` to refuse the request with its Quit reason, or a `CoSocketRefusalError` to
   * refuse it with a reason: a relayer that opted in to refusal reports gets a Refusal packet then the
   * Completion; any other one a Quit with `invalid-packet`.
   */
  onCargoCollectionRequest?(cca: Buffer | null, signal: AbortSignal): Promise<CollectionResponse> | CollectionResponse;
  /**
   * A Registration Exchange (extension): resolve to the answer's body. Throw a `CoSocketRefusalError` to
   * refuse it for good (the relayer gets the reason); any other error quits with `internal-error` (the
   * relayer keeps what it presented and tries again). Absent: the packet is refused as invalid.
   */
  onRegistrationExchange?(body: Buffer): Promise<Buffer>;
  /** Unacknowledged deliveries accepted from (and sent to) the peer; default 5. */
  readonly window?: number;
  /**
   * Stop reading from a connection while the deliveries received and not yet stored (the one being
   * stored included) hold at least this many octets; reading resumes once stores catch up. The relayer
   * then waits on the socket (backpressure) instead of the gateway holding up to `window` whole cargoes
   * in memory. Default: MAX_MESSAGE_LENGTH, i.e. one largest cargo being stored and one waiting.
   */
  readonly maxBufferedBytes?: number;
  readonly maxMessageLength?: number;
  /** A peer silent this long while we wait on it is quit with `timeout`; default 10 s. */
  readonly idleTimeoutMs?: number;
  /** Overall connection lifetime; default 30 min. */
  readonly connectionTimeoutMs?: number;
  /**
   * Optional RS-004 handshake (needed only when the CRC spans computers). When set, the server requires the
   * relayer's Handshake Challenge first and answers with these signatures over the 32-octet nonce.
   */
  readonly handshakeSigner?: (nonce: Buffer) => Promise<readonly Buffer[]>;
  readonly logger?: Logger;
}

export interface CoSocketServer extends BindingServer {
  /** The socket path or `host:port` listened on. */
  readonly address: string | { host: string; port: number };
  /** Open connections. */
  readonly connectionCount: number;
  /** Octets held for deliveries received but not yet acknowledged, across connections. */
  bufferedBytes(): number;
  /** Stop accepting, quit every connection (reason OK), and remove the socket file. */
  close(): Promise<void>;
}

/** Start a CoSocket server (the gateway side of a CRC). */
export async function createCoSocketServer(options: CoSocketServerOptions): Promise<CoSocketServer> {
  if (!options.socketPath === (options.port === undefined)) {
    throw new CoSocketError('Set exactly one of socketPath or port');
  }
  const logger = options.logger ?? silentLogger;
  const connections = new Set<ServerConnection>();
  const server = createServer({ allowHalfOpen: false, pauseOnConnect: false }, (socket) => {
    const connection = new ServerConnection(socket, options, logger);
    connections.add(connection);
    void connection.packets.closed.then(() => connections.delete(connection));
  });
  server.on('error', (error) => logger.error({ err: error.message }, 'CoSocket server error'));

  let address: CoSocketServer['address'];
  if (options.socketPath) {
    await removeStaleSocket(options.socketPath, (problem) =>
      problem === 'in use'
        ? new CoSocketError(`Another server is listening on ${options.socketPath}`)
        : new CoSocketError(`Refusing to replace ${options.socketPath}: it exists and is not a socket`),
    );
    await listenOwnerOnly(server, options.socketPath);
    address = options.socketPath;
  } else {
    const host = options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const bound = server.address();
    address = { host, port: typeof bound === 'object' && bound ? bound.port : options.port! };
  }
  logger.info({ address }, 'CoSocket server listening');

  return {
    address,
    get connectionCount() {
      return connections.size;
    },
    bufferedBytes: () => [...connections].reduce((sum, c) => sum + c.bufferedBytes(), 0),
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const connection of connections) connection.packets.quit(QuitReason.OK, 'Server shutting down');
      await Promise.all([...connections].map((c) => c.packets.closed));
      await closed;
      logger.info({ address }, 'CoSocket server closed');
    },
  };
}

/** Listen with umask 0177 so the socket is never, even briefly, accessible to others; then chmod 0600. */
async function listenOwnerOnly(server: Server, socketPath: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    let previousUmask: number | null = null;
    try {
      previousUmask = process.umask(0o177);
    } catch {
      // process.umask() cannot be changed in worker threads; the chmod below still applies.
    }
    try {
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    } finally {
      if (previousUmask !== null) process.umask(previousUmask);
    }
  });
  await chmod(socketPath, 0o600);
}

interface PendingDelivery {
  readonly deliveryId: string;
  readonly cargo: Buffer;
}

class ServerConnection {
  public readonly packets: PacketSocket;
  private readonly window: number;
  private readonly connectionId = randomUUID();
  private handshake: 'required' | 'awaiting-complete' | 'done';
  /** Deliveries received, not yet acknowledged (the one being stored included). */
  private readonly incoming: PendingDelivery[] = [];
  private storing = false;
  private readonly maxBufferedBytes: number;
  /** Deliveries we sent during a collection, awaiting the relayer's ack: only their onAck is kept (not
   * the message, which can be megabytes, and is the socket's business once written). */
  private readonly outgoing = new Map<string, CollectionItem['onAck']>();
  private outgoingWaiter: (() => void) | null = null;
  private collections: Promise<void> = Promise.resolve();
  private readonly abort = new AbortController();
  /** The relayer opted in to Refusal packets (REFUSAL_REPORTS_OPT_IN). */
  private refusalReports = false;

  public constructor(
    socket: Socket,
    private readonly options: CoSocketServerOptions,
    private readonly logger: Logger,
  ) {
    this.window = options.window ?? DEFAULT_WINDOW;
    this.maxBufferedBytes = options.maxBufferedBytes ?? MAX_MESSAGE_LENGTH;
    this.handshake = options.handshakeSigner ? 'required' : 'done';
    this.packets = new PacketSocket(
      socket,
      {
        logger,
        idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_SERVER_IDLE_TIMEOUT_MS,
        connectionTimeoutMs: options.connectionTimeoutMs ?? DEFAULT_SERVER_CONNECTION_TIMEOUT_MS,
        maxMessageLength: options.maxMessageLength ?? MAX_MESSAGE_LENGTH,
        logFields: { connectionId: this.connectionId },
      },
      (packet) => this.handle(packet),
    );
    logger.info({ connectionId: this.connectionId }, 'CoSocket connection accepted');
    void this.packets.closed.then(() => {
      this.abort.abort();
      this.outgoingWaiter?.();
      logger.info(
        { connectionId: this.connectionId, reason: this.packets.closeError?.message ?? 'ok' },
        'CoSocket connection closed',
      );
    });
  }

  public bufferedBytes(): number {
    return this.packets.decoderBufferedBytes + this.incomingBytes();
  }

  private incomingBytes(): number {
    return this.incoming.reduce((sum, d) => sum + d.cargo.length, 0);
  }

  /** Pause or resume reading so that received, unstored deliveries stay under `maxBufferedBytes`. */
  private applyBackpressure(): void {
    const socket = this.packets.socket;
    if (this.incomingBytes() >= this.maxBufferedBytes) {
      if (!socket.isPaused()) socket.pause();
    } else if (socket.isPaused()) {
      socket.resume();
    }
  }

  private handle(packet: Packet): void {
    if (this.handshake !== 'done') {
      this.handleHandshake(packet);
      return;
    }
    switch (packet.tag) {
      case PacketTag.CARGO_DELIVERY:
        if (this.incoming.length >= this.window) {
          throw new CoSocketProtocolError(
            `More than ${this.window} unacknowledged deliveries in flight`,
            QuitReason.QUOTA_REACHED,
          );
        }
        if (this.incoming.some((d) => d.deliveryId === packet.deliveryId)) {
          throw new CoSocketProtocolError(`Delivery id ${packet.deliveryId} is already in flight`);
        }
        this.incoming.push({ deliveryId: packet.deliveryId, cargo: packet.cargo });
        this.applyBackpressure();
        void this.storeNext();
        return;
      case PacketTag.CARGO_COLLECTION_REQUEST:
        this.collections = this.collections.then(() => this.collect(packet.cca));
        return;
      case PacketTag.CARGO_COLLECTION: {
        if (!this.outgoing.has(packet.deliveryId)) {
          throw new CoSocketProtocolError(`Ack for unknown delivery id ${packet.deliveryId}`);
        }
        const onAck = this.outgoing.get(packet.deliveryId);
        this.outgoing.delete(packet.deliveryId);
        this.outgoingWaiter?.();
        if (onAck) {
          void this.packets
            .whileBusy(async () => onAck())
            .catch((error: Error) =>
              this.logger.error({ connectionId: this.connectionId, err: error.message }, 'Collection onAck failed'),
            );
        }
        return;
      }
      case PacketTag.REGISTRATION_EXCHANGE:
        this.collections = this.collections.then(() => this.exchangeRegistration(packet.body));
        return;
      case PacketTag.CARGO_DELIVERY_COMPLETION:
        if (packet.gatewayAddress === REFUSAL_REPORTS_OPT_IN) {
          this.refusalReports = true;
          this.logger.info({ connectionId: this.connectionId }, 'Relayer takes refusal reports');
          return;
        }
        this.logger.info(
          { connectionId: this.connectionId, gatewayAddress: packet.gatewayAddress },
          'Relayer has no more cargo for this gateway',
        );
        return;
      case PacketTag.HANDSHAKE_CHALLENGE:
      case PacketTag.HANDSHAKE_COMPLETE:
        throw new CoSocketProtocolError('Unexpected handshake packet', QuitReason.HANDSHAKE_ERROR);
      default:
        throw new CoSocketProtocolError(`Packet 0x${packet.tag.toString(16)} is not valid from a relayer`);
    }
  }

  private handleHandshake(packet: Packet): void {
    if (this.handshake === 'required' && packet.tag === PacketTag.HANDSHAKE_CHALLENGE) {
      this.handshake = 'awaiting-complete';
      void this.packets
        .whileBusy(() => this.options.handshakeSigner!(packet.nonce))
        .then((signatures) => this.packets.send({ tag: PacketTag.HANDSHAKE_RESPONSE, signatures }))
        .catch((error: Error) =>
          this.packets.quit(QuitReason.INTERNAL_ERROR, `Could not sign the handshake nonce: ${error.message}`),
        );
      return;
    }
    if (this.handshake === 'awaiting-complete' && packet.tag === PacketTag.HANDSHAKE_COMPLETE) {
      this.handshake = 'done';
      this.logger.info({ connectionId: this.connectionId }, 'CoSocket handshake complete');
      return;
    }
    throw new CoSocketProtocolError(
      `Expected ${this.handshake === 'required' ? 'Handshake Challenge' : 'Handshake Complete'}, got packet 0x${packet.tag.toString(16)}`,
      QuitReason.HANDSHAKE_ERROR,
    );
  }

  /** Store queued deliveries one at a time, in arrival order; ack each only after its store resolved. */
  private async storeNext(): Promise<void> {
    if (this.storing) return;
    this.storing = true;
    try {
      while (this.incoming.length > 0) {
        if (this.packets.ending) {
          // Nobody will receive the ack: leave the cargo with the relayer, which will deliver it again.
          this.logger.warn(
            { connectionId: this.connectionId, discarded: this.incoming.length },
            'Connection ending; unstored deliveries discarded (never acked)',
          );
          this.incoming.length = 0;
          return;
        }
        const { deliveryId, cargo } = this.incoming[0];
        let refusal: CoSocketRefusalError | null = null;
        try {
          await this.packets.whileBusy(() => this.options.onCargoDelivered(cargo, deliveryId));
        } catch (error) {
          if (!(error instanceof CoSocketRefusalError)) {
            const err = error instanceof Error ? error : new Error(String(error));
            this.packets.quit(QuitReason.INTERNAL_ERROR, `Could not store cargo ${deliveryId}: ${err.message}`, err);
            return;
          }
          refusal = error;
          this.logger.warn(
            { connectionId: this.connectionId, deliveryId, reason: refusal.reason, reported: this.refusalReports },
            'Delivery refused',
          );
          if (!this.refusalReports && refusal.disposition === RefusalDisposition.LATER) {
            // What RS-004 offers to say "not now": no ack, so the relayer keeps it.
            this.packets.quit(
              QuitReason.INTERNAL_ERROR,
              `Could not store cargo ${deliveryId}: ${refusal.reason}`,
              refusal,
            );
            return;
          }
        }
        this.incoming.shift();
        this.applyBackpressure();
        if (this.packets.ending) {
          this.logger.warn(
            { connectionId: this.connectionId, deliveryId },
            refusal
              ? 'Cargo refused but the connection closed before saying so'
              : 'Cargo stored but the connection closed before the ack could be sent',
          );
          return;
        }
        await this.packets
          .send(
            refusal && this.refusalReports
              ? {
                  tag: PacketTag.REFUSAL,
                  subject: deliveryId,
                  disposition: refusal.disposition,
                  reason: refusal.reason,
                }
              : { tag: PacketTag.CARGO_COLLECTION, deliveryId },
          )
          .catch(() => undefined);
      }
    } finally {
      this.storing = false;
    }
  }

  private async collect(cca: Buffer | null): Promise<void> {
    if (this.packets.isClosed) return;
    const handler = this.options.onCargoCollectionRequest;
    if (!handler) {
      this.packets.quit(QuitReason.INVALID_PACKET, 'This server does not offer cargo collection');
      return;
    }
    let gatewayAddress = '';
    try {
      const response = await this.packets.whileBusy(async () => handler(cca, this.abort.signal));
      gatewayAddress = response.gatewayAddress ?? '';
      const iterator = (
        Symbol.asyncIterator in response.items
          ? (response.items as AsyncIterable<CollectionItem>)[Symbol.asyncIterator]()
          : (response.items as Iterable<CollectionItem>)[Symbol.iterator]()
      ) as AsyncIterator<CollectionItem> | Iterator<CollectionItem>;
      while (!this.packets.isClosed) {
        let next: IteratorResult<CollectionItem> | null = await this.packets.whileBusy(async () => iterator.next());
        if (next.done) break;
        while (this.outgoing.size >= this.window && !this.packets.isClosed) {
          await new Promise<void>((resolve) => (this.outgoingWaiter = resolve));
          this.outgoingWaiter = null;
        }
        if (this.packets.isClosed) {
          await iterator.return?.();
          return;
        }
        await this.sendItem(next.value);
        // Written: let go of the cargo, which this loop would otherwise hold while the next one is made.
        next = null;
      }
      if (!this.packets.isClosed) {
        if (response.refusal) await this.sendCollectionRefusal(response.refusal);
        await this.packets.send({ tag: PacketTag.CARGO_DELIVERY_COMPLETION, gatewayAddress });
      }
    } catch (error) {
      if (this.packets.isClosed) return;
      if (error instanceof CoSocketRefusalError && this.refusalReports) {
        await this.sendCollectionRefusal(error)
          .then(() => this.packets.send({ tag: PacketTag.CARGO_DELIVERY_COMPLETION, gatewayAddress }))
          .catch(() => undefined);
      } else if (error instanceof CoSocketRefusalError) {
        this.packets.quit(QuitReason.INVALID_PACKET, `Collection refused: ${error.reason}`, error);
      } else if (error instanceof CoSocketProtocolError) {
        this.packets.quit(error.quitReason, `Collection refused: ${error.message}`, error);
      } else {
        const err = error instanceof Error ? error : new Error(String(error));
        this.packets.quit(QuitReason.INTERNAL_ERROR, `Collection failed: ${err.message}`, err);
      }
    }
  }

  /** Send a collection item; resolves once the socket can take more. (No frame of an async function holds it then.) */
  private sendItem(item: CollectionItem): Promise<void> {
    const deliveryId = randomUUID();
    this.outgoing.set(deliveryId, item.onAck?.bind(item));
    return this.packets.send(
      item.cca
        ? { tag: PacketTag.CCA_DELIVERY, deliveryId, cca: item.cca }
        : { tag: PacketTag.CARGO_DELIVERY, deliveryId, cargo: item.cargo! },
    );
  }

  /** Answer a Registration Exchange, in turn with collections (one thing at a time from a relayer). */
  private async exchangeRegistration(body: Buffer): Promise<void> {
    if (this.packets.isClosed) return;
    const handler = this.options.onRegistrationExchange;
    if (!handler) {
      this.packets.quit(QuitReason.INVALID_PACKET, 'This server does not offer registration exchanges');
      return;
    }
    let result: { status: RegistrationStatus; body: Buffer };
    try {
      result = { status: RegistrationStatus.ANSWERED, body: await this.packets.whileBusy(() => handler(body)) };
    } catch (error) {
      if (!(error instanceof CoSocketRefusalError)) {
        const err = error instanceof Error ? error : new Error(String(error));
        this.packets.quit(QuitReason.INTERNAL_ERROR, `Registration exchange failed: ${err.message}`, err);
        return;
      }
      this.logger.warn({ connectionId: this.connectionId, reason: error.reason }, 'Registration exchange refused');
      result = { status: RegistrationStatus.REFUSED, body: Buffer.from(error.reason, 'utf8') };
    }
    if (this.packets.isClosed) return;
    await this.packets.send({ tag: PacketTag.REGISTRATION_RESULT, ...result }).catch(() => undefined);
  }

  /** Tell a relayer that opted in why its collection request was refused (then the caller completes it). */
  private async sendCollectionRefusal(refusal: { reason: string; disposition: RefusalDisposition }): Promise<void> {
    this.logger.warn(
      { connectionId: this.connectionId, reason: refusal.reason, reported: this.refusalReports },
      'Collection request refused',
    );
    if (!this.refusalReports) return;
    await this.packets.send({
      tag: PacketTag.REFUSAL,
      subject: '',
      disposition: refusal.disposition,
      reason: refusal.reason,
    });
  }
}
