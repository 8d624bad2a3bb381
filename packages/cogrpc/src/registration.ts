/**
 * Courier registration over CogRPC: the `CourierRegistration` service of proto/cogrpc.proto, beside (never
 * inside) `CargoRelay`. One unary call per request: the courier sends the user gateway's signed request as
 * found on the flashdrive and gets the relaying gateway's signed response. The bodies are opaque here
 * (packages/gateway courierRegistration.ts reads them).
 */
import * as grpc from '@grpc/grpc-js';
import { type Logger, silentLogger } from '@twitter-relaynet/core';
import { ServiceUnavailableError } from '@twitter-relaynet/binding';
import { clientChannel, loadGrpcPackage, type ClientTls } from '@twitter-relaynet/pogrpc';

import { CogRPCError } from './errors';
import { COGRPC_PROTO_PATH } from './proto';

/** Largest request or response: a few certificates; anything near this is not one. */
export const MAX_REGISTRATION_MESSAGE_LENGTH = 65_536;
/** Default cap on one registration call (the gateway signs once: well under a second). */
const DEFAULT_REGISTRATION_DEADLINE_MS = 30_000;

/** The gateway refused the request for good (tampered, too old): keep it off the next trips. */
export class GatewayRegistrationRefusedError extends CogRPCError {}

interface RegistrationMessage {
  readonly message: Buffer;
}

let cached: grpc.ServiceClientConstructor | null = null;

export function loadCourierRegistrationService(): grpc.ServiceClientConstructor {
  if (!cached) {
    const pkg = loadGrpcPackage(COGRPC_PROTO_PATH) as unknown as {
      awala: { cogrpc: { CourierRegistration: grpc.ServiceClientConstructor } };
    };
    cached = pkg.awala.cogrpc.CourierRegistration;
  }
  return cached;
}

/**
 * The server's `RegisterGateway` handler. `register` throws `GatewayRegistrationRefusedError` to refuse
 * (INVALID_ARGUMENT with its reason); any other error answers UNAVAILABLE (the courier keeps the request).
 */
export function registerGatewayHandler(
  register: (request: Buffer, context: { readonly peer: string }) => Promise<Buffer>,
  logger: Logger,
): grpc.handleUnaryCall<RegistrationMessage, RegistrationMessage> {
  return (call, callback) => {
    const request = call.request.message;
    const peer = call.getPeer();
    if (!request?.length || request.length > MAX_REGISTRATION_MESSAGE_LENGTH) {
      logger.warn({ peer, length: request?.length ?? 0 }, 'CogRPC registration request refused: bad length');
      callback({
        code: grpc.status.INVALID_ARGUMENT,
        details: `Registration request must be 1..${MAX_REGISTRATION_MESSAGE_LENGTH} octets`,
      });
      return;
    }
    register(request, { peer }).then(
      (response) => callback(null, { message: response }),
      (error: Error) => {
        const refused = error instanceof GatewayRegistrationRefusedError;
        // An outage its owner reports once (ServiceUnavailableError) is not logged again for each request.
        if (!(error instanceof ServiceUnavailableError)) {
          logger.warn({ peer, err: error.message, refused }, 'CogRPC registration request not answered');
        }
        callback({ code: refused ? grpc.status.INVALID_ARGUMENT : grpc.status.UNAVAILABLE, details: error.message });
      },
    );
  };
}

/** A courier's client of `CourierRegistration` (same target and TLS as its CargoRelay client). */
export class CourierRegistrationClient {
  private readonly client: grpc.Client & {
    RegisterGateway(
      request: RegistrationMessage,
      options: grpc.CallOptions,
      callback: (error: grpc.ServiceError | null, response?: RegistrationMessage) => void,
    ): grpc.ClientUnaryCall;
  };

  public constructor(
    public readonly target: string,
    options: { readonly tls: ClientTls; readonly logger?: Logger },
  ) {
    const Client = loadCourierRegistrationService();
    const channel = clientChannel(options.tls, target, options.logger ?? silentLogger, 'CogRPC');
    this.client = new Client(target, channel.credentials, {
      ...channel.options,
      'grpc.max_send_message_length': MAX_REGISTRATION_MESSAGE_LENGTH + 64,
      'grpc.max_receive_message_length': MAX_REGISTRATION_MESSAGE_LENGTH + 64,
    }) as never;
  }

  /**
   * Present a request; resolves to the gateway's response. Throws `GatewayRegistrationRefusedError` if the
   * gateway refused it for good, any other error if it could not answer now (keep the request).
   */
  public register(
    request: Buffer,
    options: { readonly signal?: AbortSignal; readonly deadlineMs?: number } = {},
  ): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const deadline = Date.now() + (options.deadlineMs ?? DEFAULT_REGISTRATION_DEADLINE_MS);
      const call = this.client.RegisterGateway({ message: request }, { deadline }, (error, response) => {
        options.signal?.removeEventListener('abort', onAbort);
        if (error) {
          reject(
            error.code === grpc.status.INVALID_ARGUMENT
              ? new GatewayRegistrationRefusedError(error.details || error.message)
              : new CogRPCError(`Registration call failed: ${error.details || error.message}`, { cause: error }),
          );
        } else if (!response?.message?.length) {
          reject(new CogRPCError('The gateway answered the registration request with an empty response'));
        } else {
          resolve(response.message);
        }
      });
      const onAbort = () => call.cancel();
      options.signal?.addEventListener('abort', onAbort);
    });
  }

  public close(): void {
    this.client.close();
  }
}
