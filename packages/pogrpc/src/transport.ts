/**
 * The gRPC transport shared by the gRPC bindings (PogRPC, CogRPC): TLS or plaintext credentials, a listener we
 * own (TCP or a 0600 Unix socket) with connection admission (admission.ts) and a guard against silent peers, and the client's
 * channel credentials with certificate pinning.
 */
import { chmod } from 'node:fs/promises';
import type { Http2Server, ServerHttp2Session } from 'node:http2';
import { createServer, isIP, type Server as NetServer, type Socket } from 'node:net';
import type { PeerCertificate } from 'node:tls';

import * as grpc from '@grpc/grpc-js';
import { type Logger, removeStaleSocket } from '@twitter-relaynet/core';

import { ConnectionAdmission } from './admission';
import { DEFAULT_HANDSHAKE_TIMEOUT_MS, DEFAULT_MAX_CONNECTIONS, MAX_CONCURRENT_STREAMS } from './constants';
import { PogRPCError } from './errors';
import { certificateFingerprint, loadOrCreateServerTlsIdentity } from './tls';

export type ServerTls =
  | { readonly keyPem: string; readonly certificatePem: string }
  /** Load the identity from the node's state directory, generating it on first start (see tls.ts). */
  | { readonly stateDir: string; readonly hostnames?: readonly string[] }
  /** Plaintext: for tests only; logged as a warning on start. */
  | { readonly insecurePlaintextForTests: true };

export type ClientTls =
  /** Trust exactly this (self-signed) server certificate, whatever name it was reached by. */
  | { readonly pinnedCertificatePem: string }
  /** Trust certificates issued by this CA (PEM), with the usual host name check. */
  | { readonly caPem: string }
  /** Trust the certificate authorities this system (Node.js) trusts, with the usual host name check. */
  | { readonly systemCas: true }
  /** Plaintext: for tests only; logged as a warning. */
  | { readonly insecurePlaintextForTests: true };

export interface GrpcListenerOptions {
  /** `host:port` (port 0 = any), `[::1]:port`, or `unix:///absolute/path.sock` (created 0600). */
  readonly address: string;
  readonly tls: ServerTls;
  /** A connection that brings no octet for this long is dropped (see `grpcServerOptions` for the pings). */
  readonly idleTimeoutMs: number;
  /** Decides which connections are kept; made by the caller, which reports calls started (`callStarted`). */
  readonly admission: ConnectionAdmission;
  readonly logger: Logger;
  /** Binding name used in log lines, e.g. `PogRPC`. */
  readonly label: string;
  /**
   * HTTP/2 receive window (per stream and per connection), in octets, when larger than HTTP/2's 64 KiB: see
   * `withHttp2Sessions`. Default: HTTP/2's.
   */
  readonly flowControlWindow?: number;
}

export interface GrpcListener {
  /** The address actually listened on (`127.0.0.1:54321` or `unix:///…`). */
  readonly address: string;
  /** TCP port (undefined for Unix sockets). */
  readonly port: number | undefined;
  /** The server's TLS certificate (PEM), for clients to pin; null in plaintext mode. */
  readonly certificatePem: string | null;
  /** Stop accepting, shut the gRPC server down and drop every connection. */
  close(): Promise<void>;
}

/** How long a server waits for the answer to its keepalive ping (the silence guard drops silent peers sooner). */
const PING_ANSWER_TIMEOUT_MS = 5 * 60_000;

/** Options for a `grpc.Server` whose listener is `listenGrpc`'s: keepalive pings make a live peer answer. */
export function grpcServerOptions(
  idleTimeoutMs: number,
  maxReceiveLength: number,
  maxSendLength: number,
): grpc.ServerOptions {
  return {
    'grpc.max_receive_message_length': maxReceiveLength,
    'grpc.max_send_message_length': maxSendLength,
    // Server pings make a live but quiet peer send octets (its answer), which the silence guard below counts.
    // The guard, not the ping's own timeout, drops dead peers: on a slow link the answer queues behind up to a flow-
    // control window of the peer's data (4 MiB at 256 KiB/s is 16 s), and octets arriving meanwhile prove the peer
    // is alive, so waiting for the answer itself must not end the connection.
    'grpc.keepalive_time_ms': Math.max(50, Math.floor(idleTimeoutMs / 2)),
    'grpc.keepalive_timeout_ms': Math.max(idleTimeoutMs, PING_ANSWER_TIMEOUT_MS),
    // Longer than the silence guard below, so that a peer stalled before its session is up is dropped by the guard.
    'grpc.max_connection_idle_ms': 2 * idleTimeoutMs,
    // A peer needs one call per direction at a time; without a cap (Node's default is 2^32-1) one connection
    // could make the server buffer a message on each of thousands of streams.
    'grpc.max_concurrent_streams': MAX_CONCURRENT_STREAMS,
  };
}

/** Accept connections for `grpcServer` on `options.address`, with TLS unless told otherwise. */
export async function listenGrpc(grpcServer: grpc.Server, options: GrpcListenerOptions): Promise<GrpcListener> {
  const { logger, label, idleTimeoutMs } = options;
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
    logger.warn({ address: options.address }, `${label} server running WITHOUT TLS (plaintext test mode)`);
    credentials = grpc.ServerCredentials.createInsecure();
  }
  // We accept connections ourselves (TCP or a 0600 Unix socket) and hand them to grpc-js.
  const injector = grpcServer.createConnectionInjector(credentials);
  const window = options.flowControlWindow;
  if (window !== undefined) {
    withHttp2Sessions(grpcServer, (session) => widenReceiveWindow(session, window), logger, label);
  }

  const sockets = new Set<Socket>();
  // A healthy peer always sends something within the idle timeout: its answers to our keepalive pings (sent every
  // idleTimeoutMs / 2) if nothing else. `bytesRead` counts even when TLS/HTTP/2 consume the socket natively.
  const socketActivity = new WeakMap<Socket, { bytesRead: number; since: number }>();
  const silenceGuard = setInterval(
    () => {
      const now = Date.now();
      for (const socket of sockets) {
        const state = socketActivity.get(socket)!;
        if (socket.bytesRead !== state.bytesRead) {
          state.bytesRead = socket.bytesRead;
          state.since = now;
        } else if (now - state.since >= idleTimeoutMs) {
          logger.warn(
            { remote: socket.remoteAddress ?? 'unix', bytesRead: socket.bytesRead },
            `${label} peer sent nothing for ${idleTimeoutMs} ms (stalled handshake or dead peer); connection dropped`,
          );
          socket.destroy();
          sockets.delete(socket);
        }
      }
    },
    Math.max(25, Math.floor(idleTimeoutMs / 4)),
  );
  silenceGuard.unref();
  const { admission } = options;
  const netServer = createServer((socket) => {
    if (!admission.admit(socket)) return;
    sockets.add(socket);
    socketActivity.set(socket, { bytesRead: 0, since: Date.now() });
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', (error) => logger.warn({ err: error.message }, `${label} connection error`));
    injector.injectConnection(socket);
  });
  netServer.on('error', (error) => logger.error({ err: error.message }, `${label} server error`));

  const target = parseAddress(options.address);
  let address: string;
  let port: number | undefined;
  if (target.path) {
    await removeStaleSocket(target.path, (problem) =>
      problem === 'in use'
        ? new PogRPCError(`Another server is listening on ${target.path}`)
        : new PogRPCError(`Refusing to replace ${target.path}: it exists and is not a socket`),
    );
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
  logger.info({ address, tls: !plaintext }, `${label} server listening`);

  return {
    address,
    port,
    certificatePem,
    async close() {
      clearInterval(silenceGuard);
      admission.close();
      const netClosed = new Promise<void>((resolve) => netServer.close(() => resolve()));
      injector.destroy();
      grpcServer.forceShutdown();
      for (const socket of sockets) socket.destroy();
      await netClosed;
      logger.info({ address }, `${label} server closed`);
    },
  };
}

/**
 * Run `onSession` on every HTTP/2 session the gRPC server starts from now on. grpc-js offers no option for the
 * server's flow-control window, so its HTTP/2 servers are reached through its (untyped) `http2Servers` map; if a
 * grpc-js release renames it, the sessions keep HTTP/2's defaults and a warning says so.
 */
function withHttp2Sessions(
  grpcServer: grpc.Server,
  onSession: (session: ServerHttp2Session) => void,
  logger: Logger,
  label: string,
): void {
  const servers = (grpcServer as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(servers instanceof Map) || servers.size === 0) {
    logger.warn({}, `${label}: cannot reach grpc-js's HTTP/2 server; the default 64 KiB flow-control window stays`);
    return;
  }
  for (const server of servers.keys() as IterableIterator<Http2Server>) server.on('session', onSession);
}

/**
 * Let the peer send up to `window` octets, per stream and on the connection, before it waits for our
 * WINDOW_UPDATE. With HTTP/2's 64 KiB, a sender of megabyte messages stops every 64 KiB until this process has read
 * the data and answered, a round trip between two processes for every 64 KiB: on a busy machine, the transfer
 * moves only while both are scheduled at once. What is not read yet stays bounded by `window` per stream (a
 * delivery call that pauses reading at its window of unacknowledged messages holds at most that much more).
 */
export function widenReceiveWindow(
  session: { setLocalWindowSize(size: number): void; settings(s: object): void },
  window: number,
): void {
  session.setLocalWindowSize(window);
  session.settings({ initialWindowSize: window });
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
export function parseAddress(
  address: string,
): { path: string; host: string; port: number } | { path: null; host: string; port: number } {
  if (address.startsWith('unix:')) {
    const path = address.replace(/^unix:(\/\/)?/, '');
    if (!path.startsWith('/')) throw new PogRPCError(`Unix socket path must be absolute: ${address}`);
    return { path, host: '', port: 0 };
  }
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(address);
  if (!match) throw new PogRPCError(`Invalid address ${address}; expected host:port or unix:///path`);
  return { path: null, host: match[1] ?? match[2], port: Number(match[3]) };
}

/** Channel credentials and options for a client of `target`. */
export function clientChannel(
  tls: ClientTls,
  target: string,
  logger: Logger,
  label: string,
): { credentials: grpc.ChannelCredentials; options: grpc.ChannelOptions } {
  const options: grpc.ChannelOptions = {};
  if ('insecurePlaintextForTests' in tls) {
    logger.warn({ target }, `${label} client connecting WITHOUT TLS (plaintext test mode)`);
    return { credentials: grpc.credentials.createInsecure(), options };
  }
  if ('pinnedCertificatePem' in tls) {
    if (isIP(hostOf(target))) {
      // The pin, not the name, authenticates the server; avoid sending an IP address as TLS SNI (RFC 6066).
      options['grpc.ssl_target_name_override'] = 'localhost';
    }
    const pinned = certificateFingerprint(tls.pinnedCertificatePem);
    const credentials = grpc.credentials.createSsl(Buffer.from(tls.pinnedCertificatePem), null, null, {
      checkServerIdentity: (_hostname: string, certificate: PeerCertificate) =>
        certificateFingerprint(certificate.raw) === pinned
          ? undefined
          : new PogRPCError(`Server certificate does not match the pinned one (sha256 ${pinned})`),
    });
    return { credentials, options };
  }
  if ('systemCas' in tls) return { credentials: grpc.credentials.createSsl(), options };
  return { credentials: grpc.credentials.createSsl(Buffer.from(tls.caPem)), options };
}

function hostOf(target: string): string {
  const match = /^(?:dns:(?:\/\/[^/]*\/)?)?(?:\[([^\]]+)\]|([^:]+))(?::\d+)?$/.exec(target);
  return match ? (match[1] ?? match[2]) : '';
}

/** Options every gRPC binding server takes. */
export interface GrpcBindingServerOptions {
  /** `host:port` (port 0 = any), `[::1]:port`, or `unix:///absolute/path.sock` (created 0600). */
  readonly address: string;
  readonly tls: ServerTls;
  /** Unacknowledged messages per call (buffered before the server stops reading, or sent); default 5. */
  readonly window?: number;
  /**
   * A delivery call whose stream brings no octet for this long while the server is not busy storing ends with
   * DEADLINE_EXCEEDED (a message of megabytes on a slow link keeps it alive as long as it moves); a connection
   * that stays silent this long (e.g. a stalled TLS or HTTP/2 handshake, a dead peer that no longer answers the
   * server's pings) is dropped. Default 20 s.
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

/** The admission of a binding server's connections, from its options (Unix-socket connections are trusted). */
export function connectionAdmission(
  options: GrpcBindingServerOptions,
  logger: Logger,
  label: string,
): ConnectionAdmission {
  return new ConnectionAdmission({
    maxConnections: options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
    logger,
    label,
    trustEveryConnection: parseAddress(options.address).path !== null,
  });
}

/** Options every gRPC binding client takes. */
export interface GrpcBindingClientOptions {
  readonly tls: ClientTls;
  /** Maximum unacknowledged messages in flight when delivering; default 5. */
  readonly window?: number;
  /**
   * A delivery call on which no octet moved, in either direction, for this long is cancelled (its unacked
   * messages reported for a retry). Default 20 s.
   */
  readonly idleTimeoutMs?: number;
  /** Optional cap on a whole call, however it progresses. */
  readonly deadlineMs?: number;
  readonly logger?: Logger;
}
