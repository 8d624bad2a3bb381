import { randomUUID } from 'node:crypto';
import { chmod, lstat, unlink } from 'node:fs/promises';
import { createConnection, createServer, type Server as NetServer, type Socket } from 'node:net';

import * as grpc from '@grpc/grpc-js';
import { ProgressWatchdog } from '@twitter-relaynet/core';

import { ConnectionAdmission } from './admission';
import { callProgress } from './callProgress';
import {
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_SERVER_CALL_TIMEOUT_MS,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_SERVER_IDLE_TIMEOUT_MS,
  DEFAULT_WINDOW,
  GATEWAY_METADATA_KEY,
  MAX_CONCURRENT_STREAMS,
  MAX_DELIVERY_ID_LENGTH,
  MAX_GATEWAY_ADDRESS_LENGTH,
  MAX_GRPC_MESSAGE_LENGTH,
  MAX_PARCEL_LENGTH,
} from './constants';
import { PogRPCError } from './errors';
import { type Logger, silentLogger } from './logger';
import { loadOrCreateServerTlsIdentity } from './tls';
import { loadPogRPCService, type ParcelDeliveryAckMessage, type ParcelDeliveryMessage } from './proto';

export type ServerTls =
  | { readonly keyPem: string; readonly certificatePem: string }
  /** Load the identity from the node's state directory, generating it on first start (see tls.ts). */
  | { readonly stateDir: string; readonly hostnames?: readonly string[] }
  /** Plaintext: for tests only; logged as a warning on start. */
  | { readonly insecurePlaintextForTests: true };

export interface ParcelContext {
  readonly deliveryId: string;
  /** The sender gateway's return address from the `gateway` metadata, if any. */
  readonly gatewayAddress: string | null;
  /** Aborted if the call ends (client cancelled, timeout) while the parcel is being stored. */
  readonly signal: AbortSignal;
}

export interface PogRPCServerOptions {
  /** `host:port` (port 0 = any), `[::1]:port`, or `unix:///absolute/path.sock` (created 0600). */
  readonly address: string;
  readonly tls: ServerTls;
  /**
   * Store the parcel durably (or refuse it permanently, logging why). Its ack is sent only after this resolves.
   * A rejection means "not stored": the call ends with UNAVAILABLE and the sender keeps the parcel.
   */
  onParcel(parcel: Buffer, context: ParcelContext): Promise<void>;
  /** Unacknowledged parcels buffered per call before the server stops reading (backpressure); default 5. */
  readonly window?: number;
  readonly maxParcelLength?: number;
  /**
   * A call whose stream brings no octet for this long while the server is not busy storing a parcel ends with
   * DEADLINE_EXCEEDED (a parcel of megabytes on a slow link keeps it alive as long as it moves); a connection
   * that stays silent this long (e.g. a stalled TLS or HTTP/2 handshake) is dropped. Default 20 s.
   */
  readonly idleTimeoutMs?: number;
  /** Cap on one call's duration; default 10 min. */
  readonly callTimeoutMs?: number;
  /**
   * Simultaneous connections. At the cap a new connection replaces the quietest one that has not started a call
   * yet; it is refused only when every slot is held by a call. Default 256.
   */
  readonly maxConnections?: number;
  /** Time a TCP connection has, from its accept, to complete the TLS handshake and start a call. Default 10 s. */
  readonly handshakeTimeoutMs?: number;
  readonly logger?: Logger;
}

export interface PogRPCServer {
  /** The address actually listened on (`127.0.0.1:54321` or `unix:///…`). */
  readonly address: string;
  /** The server's TLS certificate (PEM), for clients to pin; null in plaintext mode. */
  readonly certificatePem: string | null;
  /** TCP port (undefined for Unix sockets). */
  readonly port: number | undefined;
  readonly activeCalls: number;
  /** Octets of parcels received and not yet acknowledged, across calls. */
  bufferedBytes(): number;
  close(): Promise<void>;
}

/** Start a PogRPC server offering `DeliverParcels` (and refusing `CollectParcels`). */
export async function createPogRPCServer(options: PogRPCServerOptions): Promise<PogRPCServer> {
  const logger = options.logger ?? silentLogger;
  const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_SERVER_IDLE_TIMEOUT_MS;
  const keepaliveMs = Math.max(50, Math.floor(idleTimeoutMs / 2));
  const maxParcelLength = options.maxParcelLength ?? MAX_PARCEL_LENGTH;
  const grpcServer = new grpc.Server({
    'grpc.max_receive_message_length': maxParcelLength + (MAX_GRPC_MESSAGE_LENGTH - MAX_PARCEL_LENGTH),
    'grpc.max_send_message_length': 1024,
    // Server pings detect dead peers once the HTTP/2 session is up.
    'grpc.keepalive_time_ms': keepaliveMs,
    'grpc.keepalive_timeout_ms': idleTimeoutMs,
    // Longer than the silence guard below, so that a peer stalled before its session is up is dropped by the guard.
    'grpc.max_connection_idle_ms': 2 * idleTimeoutMs,
    'grpc.max_concurrent_streams': MAX_CONCURRENT_STREAMS,
  });
  const calls = new Set<DeliveryCall>();
  const target = parseAddress(options.address);
  const admission = new ConnectionAdmission({
    maxConnections: options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
    logger,
    trustEveryConnection: target.path !== null,
  });
  const { service } = loadPogRPCService();
  grpcServer.addService(service, {
    DeliverParcels: (call: grpc.ServerDuplexStream<ParcelDeliveryMessage, ParcelDeliveryAckMessage>) => {
      admission.callStarted(call.getPeer());
      const delivery = new DeliveryCall(call, options, logger, idleTimeoutMs, maxParcelLength);
      calls.add(delivery);
      delivery.done.then(() => calls.delete(delivery));
    },
    CollectParcels: (call: grpc.ServerDuplexStream<unknown, unknown>) => {
      logger.warn({ peer: call.getPeer() }, 'Refused CollectParcels on an external PDC');
      call.emit('error', {
        code: grpc.status.UNIMPLEMENTED,
        details: 'CollectParcels is not offered on an external parcel delivery connection (RS-000): deliver only',
      });
    },
  });

  const plaintext = 'insecurePlaintextForTests' in options.tls;
  let credentials: grpc.ServerCredentials;
  let certificatePem: string | null = null;
  if (!plaintext) {
    const identity =
      'stateDir' in options.tls
        ? await loadOrCreateServerTlsIdentity(options.tls.stateDir, { hostnames: options.tls.hostnames })
        : (options.tls as { keyPem: string; certificatePem: string });
    certificatePem = identity.certificatePem;
    credentials = grpc.ServerCredentials.createSsl(
      null,
      [{ private_key: Buffer.from(identity.keyPem), cert_chain: Buffer.from(identity.certificatePem) }],
      false,
    );
  } else {
    logger.warn({ address: options.address }, 'PogRPC server running WITHOUT TLS (plaintext test mode)');
    credentials = grpc.ServerCredentials.createInsecure();
  }
  // We accept connections ourselves (TCP or a 0600 Unix socket) and hand them to grpc-js.
  const injector = grpcServer.createConnectionInjector(credentials);

  const sockets = new Set<Socket>();
  const checkEveryMs = Math.max(25, Math.floor(idleTimeoutMs / 4));
  const silenceGuard = setInterval(() => {
    const now = Date.now();
    for (const socket of sockets) {
      const state = socketActivity.get(socket)!;
      if (socket.bytesRead !== state.bytesRead) {
        state.bytesRead = socket.bytesRead;
        state.since = now;
      } else if (now - state.since >= idleTimeoutMs) {
        logger.warn(
          { remote: socket.remoteAddress ?? 'unix', bytesRead: socket.bytesRead },
          `PogRPC peer sent nothing for ${idleTimeoutMs} ms (stalled handshake or dead peer); connection dropped`,
        );
        socket.destroy();
        sockets.delete(socket);
      }
    }
  }, checkEveryMs);
  silenceGuard.unref();
  // A healthy peer always sends something within the idle timeout: its answers to our keepalive pings (sent every
  // idleTimeoutMs / 2) if nothing else. `bytesRead` counts even when TLS/HTTP/2 consume the socket natively.
  const socketActivity = new WeakMap<Socket, { bytesRead: number; since: number }>();
  const netServer = createServer((socket) => {
    if (!admission.admit(socket)) return;
    sockets.add(socket);
    socketActivity.set(socket, { bytesRead: 0, since: Date.now() });
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', (error) => logger.warn({ err: error.message }, 'PogRPC connection error'));
    injector.injectConnection(socket);
  });
  netServer.on('error', (error) => logger.error({ err: error.message }, 'PogRPC server error'));

  let address: string;
  let port: number | undefined;
  if (target.path) {
    await removeStaleSocket(target.path);
    await listen(netServer, () => {
      const previous = safeUmask(0o177);
      try {
        netServer.listen(target.path);
      } finally {
        if (previous !== null) process.umask(previous);
      }
    });
    await chmod(target.path, 0o600);
    address = `unix://${target.path}`;
  } else {
    await listen(netServer, () => netServer.listen(target.port, target.host));
    const bound = netServer.address();
    port = typeof bound === 'object' && bound ? bound.port : target.port;
    address = `${target.host.includes(':') ? `[${target.host}]` : target.host}:${port}`;
  }
  logger.info({ address, tls: !plaintext }, 'PogRPC server listening');

  return {
    address,
    certificatePem,
    port,
    get activeCalls() {
      return calls.size;
    },
    bufferedBytes: () => [...calls].reduce((sum, call) => sum + call.bufferedBytes(), 0),
    async close() {
      clearInterval(silenceGuard);
      admission.close();
      const netClosed = new Promise<void>((resolve) => netServer.close(() => resolve()));
      for (const call of calls) call.abortForShutdown();
      injector.destroy();
      grpcServer.forceShutdown();
      for (const socket of sockets) socket.destroy();
      await netClosed;
      logger.info({ address }, 'PogRPC server closed');
    },
  };
}

function safeUmask(mask: number): number | null {
  try {
    return process.umask(mask);
  } catch {
    return null; // worker threads cannot change the umask; the chmod still applies
  }
}

function listen(server: NetServer, start: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.once('listening', () => {
      server.off('error', reject);
      resolve();
    });
    start();
  });
}

/** Parse `unix:///abs/path`, `unix:/abs/path`, `host:port` or `[v6]:port`. */
export function parseAddress(address: string): { path: string; host: string; port: number } | { path: null; host: string; port: number } {
  if (address.startsWith('unix:')) {
    const path = address.replace(/^unix:(\/\/)?/, '');
    if (!path.startsWith('/')) throw new PogRPCError(`Unix socket path must be absolute: ${address}`);
    return { path, host: '', port: 0 };
  }
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(address);
  if (!match) throw new PogRPCError(`Invalid address ${address}; expected host:port or unix:///path`);
  return { path: null, host: match[1] ?? match[2], port: Number(match[3]) };
}

async function removeStaleSocket(socketPath: string): Promise<void> {
  let stats;
  try {
    stats = await lstat(socketPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (!stats.isSocket()) throw new PogRPCError(`Refusing to replace ${socketPath}: it exists and is not a socket`);
  const live = await new Promise<boolean>((resolve) => {
    const probe = createConnection(socketPath);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (live) throw new PogRPCError(`Another server is listening on ${socketPath}`);
  await unlink(socketPath);
}

class DeliveryCall {
  public readonly done: Promise<void>;
  private readonly callId = randomUUID();
  private readonly queue: ParcelDeliveryMessage[] = [];
  private readonly abort = new AbortController();
  private readonly window: number;
  private readonly gatewayAddress: string | null = null;
  private finished = false;
  /** Parcels handed to onParcel and not yet stored. */
  private storing = 0;
  private peerEnded = false;
  /** Idle = no octet of this call's stream arrived, not "no whole parcel": see `callProgress`. */
  private readonly idleWatchdog: ProgressWatchdog;
  private readonly callTimer: NodeJS.Timeout;
  private resolveDone!: () => void;
  private received = 0;

  public constructor(
    private readonly call: grpc.ServerDuplexStream<ParcelDeliveryMessage, ParcelDeliveryAckMessage>,
    private readonly options: PogRPCServerOptions,
    private readonly logger: Logger,
    private readonly idleTimeoutMs: number,
    private readonly maxParcelLength: number,
  ) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    this.window = options.window ?? DEFAULT_WINDOW;
    const progress = callProgress(call);
    this.idleWatchdog = new ProgressWatchdog({
      idleMs: idleTimeoutMs,
      progress: () => progress() + this.received,
      onIdle: (idleForMs) => this.fail(grpc.status.DEADLINE_EXCEEDED, `Nothing received on the call for ${idleForMs} ms`),
    });
    const callTimeoutMs = options.callTimeoutMs ?? DEFAULT_SERVER_CALL_TIMEOUT_MS;
    this.callTimer = setTimeout(
      () => this.fail(grpc.status.DEADLINE_EXCEEDED, `Call exceeded the server's limit of ${callTimeoutMs} ms`),
      callTimeoutMs,
    );
    call.on('cancelled', () => {
      if (this.finished) return;
      this.log('warn', { unacked: this.queue.length }, 'DeliverParcels cancelled by the client');
      this.finish();
    });
    call.on('error', (error) => {
      if (!this.finished) this.log('warn', { err: error.message }, 'DeliverParcels stream error');
    });

    // Repeated headers may arrive joined with ", " (HTTP semantics): each comma-separated part counts as a value.
    const gateway = call.metadata
      .get(GATEWAY_METADATA_KEY)
      .flatMap((value) => value.toString().split(','))
      .map((value) => value.trim());
    if (gateway.length > 1) {
      this.fail(grpc.status.INVALID_ARGUMENT, `At most one "${GATEWAY_METADATA_KEY}" metadata value is allowed; got ${gateway.length}`);
      return;
    }
    if (gateway.length === 1) {
      const value = gateway[0];
      if (!value || value.length > MAX_GATEWAY_ADDRESS_LENGTH) {
        this.fail(grpc.status.INVALID_ARGUMENT, `"${GATEWAY_METADATA_KEY}" metadata must be 1..${MAX_GATEWAY_ADDRESS_LENGTH} characters`);
        return;
      }
      this.gatewayAddress = value;
    }
    this.log('info', { gatewayAddress: this.gatewayAddress }, 'DeliverParcels call started');
    call.on('data', (message: ParcelDeliveryMessage) => this.receive(message));
    call.on('end', () => {
      this.peerEnded = true;
      this.maybeComplete();
    });
  }

  public bufferedBytes(): number {
    return this.queue.reduce((sum, m) => sum + m.parcel.length, 0);
  }

  public abortForShutdown(): void {
    this.fail(grpc.status.UNAVAILABLE, 'Server shutting down');
  }

  private receive(message: ParcelDeliveryMessage): void {
    if (this.finished) return;
    this.received++;
    const id = message.id;
    if (!id || Buffer.byteLength(id) > MAX_DELIVERY_ID_LENGTH) {
      this.fail(grpc.status.INVALID_ARGUMENT, `Delivery id must be 1..${MAX_DELIVERY_ID_LENGTH} octets`);
      return;
    }
    if (!message.parcel || message.parcel.length === 0) {
      this.fail(grpc.status.INVALID_ARGUMENT, `Parcel ${id} is empty`);
      return;
    }
    if (message.parcel.length > this.maxParcelLength) {
      this.fail(grpc.status.RESOURCE_EXHAUSTED, `Parcel ${id} exceeds ${this.maxParcelLength} octets`);
      return;
    }
    if (this.queue.some((m) => m.id === id)) {
      this.fail(grpc.status.INVALID_ARGUMENT, `Delivery id ${id} is already in flight`);
      return;
    }
    const entry = { id, parcel: message.parcel };
    this.queue.push(entry);
    if (this.queue.length >= this.window) this.call.pause(); // backpressure: stop reading until acks go out
    void this.store(entry);
  }

  /**
   * Every parcel of the window is handed to `onParcel` as it arrives, without waiting for the previous
   * one: a gateway that commits in groups can then store a window's parcels in one transaction. Each ack
   * goes out as soon as its own parcel is stored, in whatever order that happens (acks carry the id).
   */
  private async store(entry: ParcelDeliveryMessage): Promise<void> {
    this.storing += 1;
    this.idleWatchdog.pause();
    try {
      try {
        await this.options.onParcel(entry.parcel, {
          deliveryId: entry.id,
          gatewayAddress: this.gatewayAddress,
          signal: this.abort.signal,
        });
      } catch (error) {
        this.fail(grpc.status.UNAVAILABLE, `Could not store parcel ${entry.id}: ${(error as Error).message}`);
        return;
      }
      if (this.finished) {
        this.log('warn', { deliveryId: entry.id }, 'Parcel stored but the call ended before its ack could be sent');
        return;
      }
      this.queue.splice(this.queue.indexOf(entry), 1);
      this.call.write({ id: entry.id });
      if (this.queue.length < this.window && this.call.isPaused()) this.call.resume();
    } finally {
      this.storing -= 1;
      this.idleWatchdog.resume();
      this.maybeComplete();
    }
  }

  private maybeComplete(): void {
    if (this.finished || !this.peerEnded || this.storing > 0 || this.queue.length > 0) return;
    this.log('info', { parcels: this.received }, 'DeliverParcels call completed');
    this.finish();
    this.call.end();
  }

  private fail(code: grpc.status, details: string): void {
    if (this.finished) return;
    this.log(code === grpc.status.UNAVAILABLE ? 'error' : 'warn', { code: grpc.status[code] }, `Ending DeliverParcels: ${details}`);
    this.finish();
    this.call.emit('error', { code, details });
  }

  private finish(): void {
    this.finished = true;
    this.abort.abort();
    this.idleWatchdog.stop();
    clearTimeout(this.callTimer);
    if (this.queue.length) this.log('warn', { discarded: this.queue.length }, 'Unstored parcels discarded (never acked)');
    this.queue.length = 0;
    this.resolveDone();
  }

  private log(level: 'info' | 'warn' | 'error', fields: Record<string, unknown>, message: string): void {
    this.logger[level]({ callId: this.callId, ...fields }, message);
  }
}
