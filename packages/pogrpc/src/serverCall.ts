import { randomUUID } from 'node:crypto';

import * as grpc from '@grpc/grpc-js';
import type { BindingServer } from '@twitter-relaynet/binding';
import { type Logger, silentLogger } from '@twitter-relaynet/core';

import { DEFAULT_SERVER_CALL_TIMEOUT_MS, DEFAULT_SERVER_IDLE_TIMEOUT_MS } from './constants';
import { ServiceUnavailableError } from '@twitter-relaynet/binding';
import {
  connectionAdmission,
  grpcServerOptions,
  listenGrpc,
  type GrpcBindingServerOptions,
  type GrpcListener,
} from './transport';

export interface ServerCallOptions {
  /** Method name for log lines, e.g. `DeliverParcels`. */
  readonly method: string;
  /** Cap on the call's duration; default 10 min. */
  readonly callTimeoutMs?: number;
  readonly logger: Logger;
  /** Extra fields for every log line of the call. */
  readonly logFields?: Record<string, unknown>;
}

/**
 * What every streaming call on a binding server has: a duration cap, an id in every log line, one way to end it
 * with a status (logged), and `done` once it has ended however it ended.
 */
export abstract class ServerCall {
  public readonly done: Promise<void>;
  protected finished = false;
  /** The call ended for an outage reported elsewhere (see `fail`): its own lines about it are left out. */
  protected quiet = false;
  /** Aborted when the call ends: work started for it (storing, reading a queue) can stop. */
  protected readonly abort = new AbortController();
  private readonly callId = randomUUID();
  private readonly callTimer: NodeJS.Timeout;
  private resolveDone!: () => void;

  protected constructor(
    protected readonly call: grpc.ServerDuplexStream<unknown, unknown>,
    protected readonly callOptions: ServerCallOptions,
  ) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    const callTimeoutMs = callOptions.callTimeoutMs ?? DEFAULT_SERVER_CALL_TIMEOUT_MS;
    this.callTimer = setTimeout(
      () => this.fail(grpc.status.DEADLINE_EXCEEDED, `Call exceeded the server's limit of ${callTimeoutMs} ms`),
      callTimeoutMs,
    );
    call.on('cancelled', () => {
      if (this.finished) return;
      this.log('warn', { unacked: this.unacknowledged() }, `${callOptions.method} cancelled by the client`);
      this.finish();
    });
    call.on('error', (error) => {
      if (!this.finished) this.log('warn', { err: error.message }, `${callOptions.method} stream error`);
    });
  }

  /** Octets received and not yet acknowledged. */
  public abstract bufferedBytes(): number;

  public abortForShutdown(): void {
    this.fail(grpc.status.UNAVAILABLE, 'Server shutting down');
  }

  /** Messages sent or received on the call and not acknowledged yet (for log lines). */
  protected abstract unacknowledged(): number;

  /** Called once when the call ends, however it ends. */
  protected onFinish(): void {}

  /** End the call with OK. */
  protected succeed(fields: Record<string, unknown>): void {
    if (this.finished) return;
    this.log('info', fields, `${this.callOptions.method} call completed`);
    this.finish();
    this.call.end();
  }

  /**
   * End the call with `code`, logged, unless `cause` is a ServiceUnavailableError: its owner reports that outage
   * once, and the call ends (UNAVAILABLE) without a line of its own.
   */
  protected fail(code: grpc.status, details: string, cause?: unknown): void {
    if (this.finished) return;
    this.quiet = cause instanceof ServiceUnavailableError;
    if (!this.quiet) {
      this.log(
        code === grpc.status.UNAVAILABLE ? 'error' : 'warn',
        { code: grpc.status[code] },
        `Ending ${this.callOptions.method}: ${details}`,
      );
    }
    this.finish();
    this.call.emit('error', { code, details });
  }

  protected log(level: 'info' | 'warn' | 'error', fields: Record<string, unknown>, message: string): void {
    this.callOptions.logger[level]({ callId: this.callId, ...this.callOptions.logFields, ...fields }, message);
  }

  private finish(): void {
    this.finished = true;
    this.abort.abort();
    clearTimeout(this.callTimer);
    this.onFinish();
    this.resolveDone();
  }
}

/** The calls in progress on a binding server. */
export class ServerCalls {
  private readonly calls = new Set<ServerCall>();

  public add(call: ServerCall): void {
    this.calls.add(call);
    void call.done.then(() => this.calls.delete(call));
  }

  public get size(): number {
    return this.calls.size;
  }

  public bufferedBytes(): number {
    return [...this.calls].reduce((sum, call) => sum + call.bufferedBytes(), 0);
  }

  public abortAll(): void {
    for (const call of this.calls) call.abortForShutdown();
  }
}

/** What a binding server built on `listenGrpc` offers its owner. */
export interface GrpcBindingServer extends BindingServer {
  /** The address actually listened on (`127.0.0.1:54321` or `unix:///…`). */
  readonly address: string;
  /** The server's TLS certificate (PEM), for clients to pin; null in plaintext mode. */
  readonly certificatePem: string | null;
  /** TCP port (undefined for Unix sockets). */
  readonly port: number | undefined;
  readonly activeCalls: number;
  /** Octets of messages received and not yet acknowledged, across calls. */
  bufferedBytes(): number;
  /** End every call (UNAVAILABLE), then stop listening and drop the connections. */
  close(): Promise<void>;
}

export function grpcBindingServer(listener: GrpcListener, calls: ServerCalls): GrpcBindingServer {
  return {
    address: listener.address,
    certificatePem: listener.certificatePem,
    port: listener.port,
    get activeCalls() {
      return calls.size;
    },
    bufferedBytes: () => calls.bufferedBytes(),
    async close() {
      calls.abortAll();
      await listener.close();
    },
  };
}

export interface GrpcBindingSettings {
  /** Binding name for log lines, e.g. `PogRPC`. */
  readonly label: string;
  readonly maxReceiveLength: number;
  readonly maxSendLength: number;
  /** HTTP/2 receive window in octets (see `GrpcListenerOptions.flowControlWindow`); default HTTP/2's 64 KiB. */
  readonly flowControlWindow?: number;
}

/** What a binding's services get to build their calls with. */
export interface GrpcBindingContext {
  /**
   * Register a service. Every call its handlers get, even one they refuse, marks its connection as one that
   * started a call (so it keeps its slot: see admission.ts).
   */
  addService(service: grpc.ServiceDefinition, handlers: grpc.UntypedServiceImplementation): void;
  readonly calls: ServerCalls;
  readonly logger: Logger;
  readonly idleTimeoutMs: number;
}

/** Start a binding server: `addServices` registers the binding's services, then the listener starts. */
export async function startGrpcBindingServer(
  options: GrpcBindingServerOptions,
  settings: GrpcBindingSettings,
  addServices: (context: GrpcBindingContext) => void,
): Promise<GrpcBindingServer> {
  const logger = options.logger ?? silentLogger;
  const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_SERVER_IDLE_TIMEOUT_MS;
  const grpcServer = new grpc.Server(
    grpcServerOptions(idleTimeoutMs, settings.maxReceiveLength, settings.maxSendLength),
  );
  const admission = connectionAdmission(options, logger, settings.label);
  const calls = new ServerCalls();
  const addService: GrpcBindingContext['addService'] = (service, handlers) => {
    const admitted: grpc.UntypedServiceImplementation = {};
    for (const [name, handler] of Object.entries(handlers)) {
      // `rest`: a unary handler's callback.
      admitted[name] = (call: grpc.ServerDuplexStream<unknown, unknown>, ...rest: unknown[]) => {
        admission.callStarted(call.getPeer());
        (handler as (call: grpc.ServerDuplexStream<unknown, unknown>, ...rest: unknown[]) => void)(call, ...rest);
      };
    }
    grpcServer.addService(service, admitted);
  };
  addServices({ addService, calls, logger, idleTimeoutMs });
  const listener = await listenGrpc(grpcServer, {
    address: options.address,
    tls: options.tls,
    idleTimeoutMs,
    admission,
    logger,
    label: settings.label,
    flowControlWindow: settings.flowControlWindow,
  });
  return grpcBindingServer(listener, calls);
}
