import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import type { PeerCertificate } from 'node:tls';

import * as grpc from '@grpc/grpc-js';
import { ProgressWatchdog } from '@twitter-relaynet/core';

import { callProgress } from './callProgress';

import {
  DEFAULT_CLIENT_IDLE_TIMEOUT_MS,
  DEFAULT_WINDOW,
  GATEWAY_METADATA_KEY,
  MAX_DELIVERY_ID_LENGTH,
  MAX_GATEWAY_ADDRESS_LENGTH,
  MAX_GRPC_MESSAGE_LENGTH,
  MAX_PARCEL_LENGTH,
} from './constants';
import {
  PogRPCAbortedError,
  PogRPCCallError,
  PogRPCError,
  PogRPCInvalidParcelError,
  PogRPCProtocolError,
} from './errors';
import { type Logger, silentLogger } from './logger';
import { loadPogRPCService, type ParcelDeliveryAckMessage, type ParcelDeliveryMessage } from './proto';
import { certificateFingerprint } from './tls';

export type ClientTls =
  /** Trust exactly this (self-signed) server certificate, whatever name it was reached by. */
  | { readonly pinnedCertificatePem: string }
  /** Trust certificates issued by this CA (PEM), with the usual host name check. */
  | { readonly caPem: string }
  /** Plaintext: for tests only; logged as a warning. */
  | { readonly insecurePlaintextForTests: true };

export interface PogRPCClientOptions {
  readonly tls: ClientTls;
  /** Our gateway's return address, sent as the `gateway` metadata (relaying gateway → adapter). */
  readonly gatewayAddress?: string;
  /** Maximum unacknowledged parcels in flight; default 5. */
  readonly window?: number;
  /**
   * A DeliverParcels call on which no octet moved, in either direction, for this long is cancelled (its unacked
   * parcels reported for a retry). Progress, not whole parcels or acks: 9 MiB parcels on a slow link keep the call
   * alive as long as they move. Default 20 s.
   */
  readonly idleTimeoutMs?: number;
  /** Optional cap on a whole DeliverParcels call, however it progresses; none by default. */
  readonly deadlineMs?: number;
  readonly maxParcelLength?: number;
  readonly logger?: Logger;
}

export interface ParcelToDeliver {
  /** Per-delivery id (≤ 255 octets); a UUID4 is generated when absent. */
  readonly id?: string;
  readonly parcel: Buffer;
}

export interface ParcelDeliveryReport {
  /** Delivery ids the server acknowledged (stored), in ack order: delete your copies of these. */
  readonly acked: readonly string[];
  /** Pulled from the input but not acknowledged: keep them and retry later. */
  readonly unacked: ReadonlyArray<{ readonly id: string; readonly parcel: Buffer }>;
  /** Why delivery stopped early, if it did (a `PogRPCCallError` carries the gRPC status code). */
  readonly error?: Error;
}

export interface DeliverParcelsOptions {
  readonly signal?: AbortSignal;
  readonly onAck?: (deliveryId: string) => void;
}

/** A PogRPC client: delivers parcels to a server over one `DeliverParcels` call at a time. */
export class PogRPCClient {
  private readonly client: grpc.Client & {
    DeliverParcels(metadata: grpc.Metadata, options: grpc.CallOptions): grpc.ClientDuplexStream<ParcelDeliveryMessage, ParcelDeliveryAckMessage>;
  };
  private readonly window: number;
  private readonly maxParcelLength: number;
  private readonly logger: Logger;
  private readonly activeCalls = new Set<grpc.ClientDuplexStream<ParcelDeliveryMessage, ParcelDeliveryAckMessage>>();

  /** `target`: `host:port` or `unix:///absolute/path.sock`. */
  public constructor(
    public readonly target: string,
    private readonly options: PogRPCClientOptions,
  ) {
    this.window = options.window ?? DEFAULT_WINDOW;
    this.maxParcelLength = options.maxParcelLength ?? MAX_PARCEL_LENGTH;
    this.logger = options.logger ?? silentLogger;
    if (options.gatewayAddress !== undefined && (!options.gatewayAddress || options.gatewayAddress.length > MAX_GATEWAY_ADDRESS_LENGTH)) {
      throw new PogRPCError(`gatewayAddress must be 1..${MAX_GATEWAY_ADDRESS_LENGTH} characters`);
    }
    const { Client } = loadPogRPCService();
    const channelOptions: grpc.ChannelOptions = {
      'grpc.max_send_message_length': MAX_GRPC_MESSAGE_LENGTH,
      'grpc.max_receive_message_length': 4 * 1024,
    };
    if ('pinnedCertificatePem' in options.tls && isIP(hostOf(target))) {
      // The pin, not the name, authenticates the server; avoid sending an IP address as TLS SNI (RFC 6066).
      channelOptions['grpc.ssl_target_name_override'] = 'localhost';
    }
    this.client = new Client(target, makeCredentials(options.tls, this.logger, target), channelOptions) as never;
  }

  /**
   * Deliver parcels in order over one call, with at most `window` unacknowledged parcels in flight, pulling
   * lazily from `parcels`. Never rejects: the report lists what was acked and what was not.
   */
  public async deliverParcels(
    parcels: AsyncIterable<ParcelToDeliver> | Iterable<ParcelToDeliver>,
    options: DeliverParcelsOptions = {},
  ): Promise<ParcelDeliveryReport> {
    const metadata = new grpc.Metadata();
    if (this.options.gatewayAddress) metadata.set(GATEWAY_METADATA_KEY, this.options.gatewayAddress);
    const deadlineMs = this.options.deadlineMs;
    const call = this.client.DeliverParcels(metadata, deadlineMs === undefined ? {} : { deadline: Date.now() + deadlineMs });
    this.activeCalls.add(call);
    const inFlight = new Map<string, Buffer>();
    const unackedPulled: Array<{ id: string; parcel: Buffer }> = [];
    const acked: string[] = [];
    let failure: Error | undefined;
    let status: grpc.StatusObject | null = null;
    let wake: (() => void) | null = null;
    const notify = () => wake?.();
    const fail = (error: Error) => {
      failure ??= error;
      notify();
    };
    const onAbort = () => {
      fail(new PogRPCAbortedError('Delivery aborted'));
      call.cancel();
    };
    options.signal?.addEventListener('abort', onAbort);
    if (options.signal?.aborted) onAbort();
    const idleWatchdog = new ProgressWatchdog({
      idleMs: this.options.idleTimeoutMs ?? DEFAULT_CLIENT_IDLE_TIMEOUT_MS,
      progress: callProgress(call, 'both'),
      onIdle: (idleForMs) => {
        fail(new PogRPCCallError(`DeliverParcels idle: no octet moved on the call for ${idleForMs} ms`, grpc.status.DEADLINE_EXCEEDED));
        call.cancel();
      },
    });

    call.on('data', (ack: ParcelDeliveryAckMessage) => {
      if (!inFlight.delete(ack.id)) {
        fail(new PogRPCProtocolError(`Server acknowledged unknown delivery id "${ack.id}"`));
        call.cancel();
        return;
      }
      acked.push(ack.id);
      options.onAck?.(ack.id);
      notify();
    });
    call.on('error', () => undefined); // the status event below carries the details
    call.on('status', (s: grpc.StatusObject) => {
      status = s;
      if (s.code !== grpc.status.OK) {
        fail(new PogRPCCallError(`DeliverParcels failed: ${grpc.status[s.code]}: ${s.details}`, s.code));
      } else if (inFlight.size > 0) {
        fail(new PogRPCProtocolError(`Server ended the call with ${inFlight.size} parcel(s) unacknowledged`));
      }
      notify();
    });
    call.on('drain', notify);

    const waitUntil = async (condition: () => boolean) => {
      while (!condition() && !failure) {
        await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
      }
    };

    try {
      for await (const item of parcels) {
        const id = item.id ?? randomUUID();
        const invalid = this.validate(id, item.parcel, inFlight);
        if (failure || invalid) {
          if (invalid) fail(invalid);
          unackedPulled.push({ id, parcel: item.parcel });
          break;
        }
        await waitUntil(() => inFlight.size < this.window);
        if (failure) {
          unackedPulled.push({ id, parcel: item.parcel });
          break;
        }
        inFlight.set(id, item.parcel);
        if (!call.write({ id, parcel: item.parcel })) {
          await waitUntil(() => !call.writableNeedDrain);
        }
      }
      if (!failure) {
        call.end(); // half-close: no more parcels
        await waitUntil(() => status !== null);
      }
    } catch (error) {
      fail(error instanceof Error ? error : new PogRPCError(String(error)));
    } finally {
      idleWatchdog.stop();
      options.signal?.removeEventListener('abort', onAbort);
      if (status === null) call.cancel();
      this.activeCalls.delete(call);
    }
    const unacked = [...[...inFlight].map(([id, parcel]) => ({ id, parcel })), ...unackedPulled];
    if (failure) {
      this.logger.warn({ err: failure.message, unacked: unacked.length, target: this.target }, 'Parcel delivery stopped early');
      return { acked, unacked, error: failure };
    }
    return { acked, unacked };
  }

  /** Cancel every active call and close the channel. */
  public close(): void {
    for (const call of this.activeCalls) call.cancel();
    this.client.close();
  }

  private validate(id: string, parcel: Buffer, inFlight: Map<string, Buffer>): Error | undefined {
    const idLength = Buffer.byteLength(id);
    if (idLength === 0 || idLength > MAX_DELIVERY_ID_LENGTH) {
      return new PogRPCInvalidParcelError(`Delivery id must be 1..${MAX_DELIVERY_ID_LENGTH} octets`);
    }
    if (inFlight.has(id)) return new PogRPCInvalidParcelError(`Delivery id ${id} is already in flight`);
    if (parcel.length === 0 || parcel.length > this.maxParcelLength) {
      return new PogRPCInvalidParcelError(`Parcel of ${parcel.length} octets is outside 1..${this.maxParcelLength}`);
    }
    return undefined;
  }
}

function hostOf(target: string): string {
  const match = /^(?:dns:(?:\/\/[^/]*\/)?)?(?:\[([^\]]+)\]|([^:]+))(?::\d+)?$/.exec(target);
  return match ? (match[1] ?? match[2]) : '';
}

function makeCredentials(tls: ClientTls, logger: Logger, target: string): grpc.ChannelCredentials {
  if ('insecurePlaintextForTests' in tls) {
    logger.warn({ target }, 'PogRPC client connecting WITHOUT TLS (plaintext test mode)');
    return grpc.credentials.createInsecure();
  }
  if ('pinnedCertificatePem' in tls) {
    const pinned = certificateFingerprint(tls.pinnedCertificatePem);
    return grpc.credentials.createSsl(Buffer.from(tls.pinnedCertificatePem), null, null, {
      checkServerIdentity: (_hostname: string, certificate: PeerCertificate) =>
        certificateFingerprint(certificate.raw) === pinned
          ? undefined
          : new PogRPCError(`Server certificate does not match the pinned one (sha256 ${pinned})`),
    });
  }
  return grpc.credentials.createSsl(Buffer.from(tls.caPem));
}
