/**
 * The relaying gateway across the network: CogRPC (gRPC, over TLS unless told otherwise), as Awala couriers
 * reach it. The server is trusted by a pinned certificate, by the SHA-256 fingerprint of its certificate, or by
 * the system's certificate authorities.
 *
 * Before the first call the relay looks at the certificate the server presents, on a TLS connection of its own:
 * a wrong one is then refused with both fingerprints named, before anything on the flashdrive is touched. That
 * look decides nothing by itself: the gRPC channel checks the certificate again on every connection it makes.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

import * as grpc from '@grpc/grpc-js';
import { type Logger } from '@twitter-relaynet/core';
import {
  certificateFingerprint,
  type ClientTls,
  CogRPCClient,
  type CollectedCargo,
  CourierRegistrationClient,
  GrpcCallError,
} from '@twitter-relaynet/cogrpc';

import { describeError } from './flashdrive';
import { type RegistrationExchange, registrationExchangeOf } from './registration';
import {
  type CollectedMessage,
  CollectionRefusedError,
  type GatewayConnection,
  type GatewayConnector,
  RefusalDisposition,
} from './gateway';
import { RelayError } from './errors';

/** How the relay trusts the server. */
export type GatewayTrust =
  | { readonly kind: 'certificate'; readonly pem: string; readonly file: string }
  | { readonly kind: 'fingerprint'; readonly sha256: string }
  | { readonly kind: 'system' }
  | { readonly kind: 'plaintext' };

/** The server presented a certificate the relay does not trust: nothing is sent to it. */
export class GatewayCertificateError extends RelayError {}

/** Time the look at the server's certificate has to complete its TLS handshake. */
const PROBE_TIMEOUT_MS = 30_000;

/** `HOST:PORT`, `[IPv6]:PORT`, `https://host[:port]`, or (plaintext only) `http://host[:port]`; throws why not. */
export function parseGatewayAddress(value: string, plaintext: boolean): { host: string; port: number; target: string } {
  let rest = value.trim();
  let defaultPort: number | null = null;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(rest);
  if (scheme) {
    const name = scheme[1].toLowerCase();
    if (name === 'https') {
      if (plaintext) throw new Error(`--gateway ${value} is https:// but --gateway-plaintext asks for no TLS`);
      defaultPort = 443;
    } else if (name === 'http') {
      if (!plaintext) throw new Error(`--gateway ${value} is http:// (no TLS): add --gateway-plaintext if you mean it`);
      defaultPort = 80;
    } else {
      throw new Error(`--gateway ${value}: expected HOST:PORT or an https:// URL`);
    }
    rest = rest.slice(scheme[0].length).replace(/\/$/, '');
  }
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:/[\]\s]+))(?::(\d{1,5}))?$/.exec(rest);
  const port = match?.[3] !== undefined ? Number(match[3]) : defaultPort;
  if (!match || port === null || port < 1 || port > 65_535) {
    throw new Error(`--gateway ${value}: expected HOST:PORT (e.g. gateway.example:443) or an https:// URL`);
  }
  const host = match[1] ?? match[2];
  return { host, port, target: isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}` };
}

/** A SHA-256 fingerprint as hex, colons optional, any case; throws why not. */
export function parseFingerprint(value: string): string {
  const hex = value.trim().replace(/:/g, '').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw new Error(
      `--gateway-fingerprint must be the SHA-256 of the certificate: 64 hex digits, colons optional (got "${value}")`,
    );
  }
  return hex;
}

/** The certificate in `file` (PEM) for --gateway-certificate; throws why it cannot be used. */
export async function loadPinnedCertificate(file: string): Promise<GatewayTrust> {
  const pem = await readFile(file, 'utf8');
  try {
    certificateFingerprint(pem);
  } catch (error) {
    throw new Error(`--gateway-certificate ${file} is not a PEM certificate: ${describeError(error)}`);
  }
  return { kind: 'certificate', pem, file };
}

export class CogRPCConnector implements GatewayConnector {
  private verified: ClientTls | null = null;

  public constructor(
    private readonly server: { readonly host: string; readonly port: number; readonly target: string },
    private readonly trust: GatewayTrust,
    private readonly options: { readonly logger?: Logger; readonly idleTimeoutMs?: number } = {},
  ) {}

  public get address(): string {
    return this.server.target;
  }

  /**
   * Look at the server's certificate and decide whether to trust it: `GatewayCertificateError` if not, another
   * error if the server could not be reached. Remembered once trusted.
   */
  public async verifyServer(signal?: AbortSignal): Promise<ClientTls> {
    if (this.verified) return this.verified;
    const trust = this.trust;
    if (trust.kind === 'plaintext') return (this.verified = { insecurePlaintextForTests: true });
    const presented = await presentedCertificate(this.server.host, this.server.port, signal);
    const fingerprint = certificateFingerprint(presented.der);
    const at = `the gateway at ${this.server.target}`;
    if (trust.kind === 'system') {
      if (!presented.authorized) {
        throw new GatewayCertificateError(
          `${at} presented a TLS certificate this system does not trust (${presented.authorizationError}); ` +
            `its SHA-256 fingerprint is ${fingerprint}: if it is the gateway's, give --gateway-certificate or --gateway-fingerprint`,
        );
      }
      return (this.verified = { systemCas: true });
    }
    const expected = trust.kind === 'certificate' ? certificateFingerprint(trust.pem) : trust.sha256;
    if (fingerprint !== expected) {
      const source = trust.kind === 'certificate' ? `the certificate in ${trust.file}` : '--gateway-fingerprint';
      throw new GatewayCertificateError(
        `${at} presented a TLS certificate with SHA-256 fingerprint ${fingerprint}, but ${source} has ${expected}: ` +
          'refusing to talk to it (a different server, or the gateway changed its certificate)',
      );
    }
    const pem = trust.kind === 'certificate' ? trust.pem : new X509Certificate(presented.der).toString();
    return (this.verified = { pinnedCertificatePem: pem });
  }

  public async distrust(signal?: AbortSignal): Promise<string | null> {
    try {
      await this.verifyServer(signal);
      return null;
    } catch (error) {
      return error instanceof GatewayCertificateError ? error.message : null;
    }
  }

  public async connect(signal?: AbortSignal): Promise<GatewayConnection> {
    const tls = await this.verifyServer(signal);
    const client = new CogRPCClient(this.server.target, {
      tls,
      logger: this.options.logger,
      idleTimeoutMs: this.options.idleTimeoutMs,
    });
    return {
      deliverCargo: (cargo, { signal: callSignal, onAck }) => client.deliverCargo(cargo, { signal: callSignal, onAck }),
      collect: (cca, options) => collected(cca ? client.collectCargoMessages(cca, options) : null),
      // A collection that ends has had every ack it needed reach the server; a delivery waits for the server's end.
      close: async () => client.close(),
    };
  }

  /** CourierRegistration, the service beside CargoRelay on the same server (same trust). */
  public async registration(signal?: AbortSignal): Promise<{ exchange: RegistrationExchange; close(): Promise<void> }> {
    // Connected at the first exchange, as over CoSocket: a server that cannot be reached is the leg's to report.
    let client: CourierRegistrationClient | null = null;
    return {
      exchange: async (body) => {
        client ??= new CourierRegistrationClient(this.server.target, {
          tls: await this.verifyServer(signal),
          logger: this.options.logger,
        });
        return registrationExchangeOf(client, signal)(body);
      },
      close: async () => client?.close(),
    };
  }

  public connectionHint(error: unknown): string {
    if (error instanceof GatewayCertificateError) return '';
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH'
      ? ' (is the gateway running there? is --gateway right?)'
      : '';
  }

  public describeDeliveryError(error: Error): string {
    return describeError(error);
  }
}

/** CogRPC cargo as the relay's collected messages; a refused CCA as a refusal. */
async function* collected(cargo: AsyncIterable<CollectedCargo> | null): AsyncGenerator<CollectedMessage> {
  if (!cargo) {
    // The CogRPC server hands out cargo only against a CCA; asking it without one would only be refused.
    throw new CollectionRefusedError(
      'over CogRPC, cargo is handed out only against a pickup authorization',
      RefusalDisposition.FINAL,
    );
  }
  try {
    for await (const item of cargo) {
      yield { kind: 'cargo', deliveryId: item.deliveryId, message: item.cargo, ack: item.ack };
    }
  } catch (error) {
    // UNAUTHENTICATED: a CCA that is malformed, invalid, expired or from an unknown gateway; PERMISSION_DENIED: reused.
    if (
      error instanceof GrpcCallError &&
      (error.code === grpc.status.UNAUTHENTICATED || error.code === grpc.status.PERMISSION_DENIED)
    ) {
      throw new CollectionRefusedError(
        error.message.replace(/^CollectCargo failed: [A-Z_]+: /, ''),
        RefusalDisposition.FINAL,
      );
    }
    throw error;
  }
}

interface PresentedCertificate {
  readonly der: Buffer;
  /** Whether the system's CAs vouch for it, for this host name. */
  readonly authorized: boolean;
  readonly authorizationError?: string;
}

/** The certificate the server at host:port presents, trusted or not, on a TLS connection closed at once. */
function presentedCertificate(host: string, port: number, signal?: AbortSignal): Promise<PresentedCertificate> {
  return new Promise((resolve, reject) => {
    // The name is sent (SNI) and checked only when it is one: an IP address is neither (RFC 6066).
    const socket = tlsConnect({
      host,
      port,
      servername: isIP(host) ? undefined : host,
      rejectUnauthorized: false,
      ALPNProtocols: ['h2'],
    });
    const finish = (error: Error | null, result?: PresentedCertificate) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      if (error) reject(error);
      else resolve(result!);
    };
    const timer = setTimeout(
      () =>
        finish(
          new Error(
            `no TLS handshake within ${PROBE_TIMEOUT_MS / 1000} s (is it a TLS server? plaintext needs --gateway-plaintext)`,
          ),
        ),
      PROBE_TIMEOUT_MS,
    );
    const onAbort = () => finish(new Error('interrupted'));
    signal?.addEventListener('abort', onAbort);
    socket.once('error', (error) => finish(error));
    socket.once('secureConnect', () => {
      const certificate = socket.getPeerCertificate();
      if (!certificate?.raw) {
        finish(new Error('the server presented no TLS certificate'));
        return;
      }
      const authorizationError = socket.authorizationError ? String(socket.authorizationError) : undefined;
      finish(null, { der: certificate.raw, authorized: socket.authorized, authorizationError });
    });
  });
}
