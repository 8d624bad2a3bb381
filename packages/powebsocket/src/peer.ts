/**
 * What the gateway and endpoint sides of a PoWebSocket connection share: close handling with codes and
 * log lines, timers (handshake, idle, pings, acks, lifetime), the sending window with acknowledgements,
 * and the in-order processing of received parcels with the ack sent only after the handler resolves.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

import { type Logger, ProgressWatchdog, socketProgress } from '@twitter-relaynet/core';
import type WebSocket from 'ws';

import { CloseCode, ProtocolError } from './closeCodes';
import { ConnectionClosedError } from './errors';
import {
  MAX_PARCEL_SIZE,
  MalformedMessageError,
  MessageTag,
  type OperationMessage,
  decodeOperation,
  encodeParcelDeliveryAck,
  encodeParcelDeliveryPrefix,
} from './proto';

/** Timeouts and limits common to both sides. All durations in milliseconds. */
export interface ConnectionOptions {
  /** Unacknowledged messages allowed in flight in each direction (default 5). */
  readonly window?: number;
  /** The handshake (and any registration before it) must complete within this time (default 10 000). */
  readonly handshakeTimeoutMs?: number;
  /**
   * Close with 4001 when no octet moves either way (no frame, ping or pong, nor any part of one) for this long
   * (default 20 000). Counting octets, not whole frames, keeps a parcel of megabytes on a slow link alive.
   */
  readonly idleTimeoutMs?: number;
  /** Send a WebSocket ping this often (default 5 000). */
  readonly pingIntervalMs?: number;
  /**
   * Close with 4001 when a message is not acknowledged within this time (default 60 000), counted from when its
   * last octet left, so that the time a large message takes on a slow link is not held against the peer.
   */
  readonly ackTimeoutMs?: number;
  /** Close with 4000 once the connection has been open this long (server default 24 h; client: none). */
  readonly maxConnectionMs?: number;
  /** After sending a close frame, destroy the socket if the peer has not closed within this time (default 2 000). */
  readonly closeGraceMs?: number;
}

export const DEFAULTS = {
  window: 5,
  handshakeTimeoutMs: 10_000,
  idleTimeoutMs: 20_000,
  pingIntervalMs: 5_000,
  ackTimeoutMs: 60_000,
  closeGraceMs: 2_000,
} as const;

export interface CloseInfo {
  /** The close code: the one this side sent if it closed first, else the one received (1006: no close frame). */
  readonly code: number;
  readonly reason: string;
  /** Whether this side initiated the close. */
  readonly local: boolean;
}

interface InFlight {
  readonly releaseSlotOnAck: boolean;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
  /** The ack deadline, armed once the message has been sent. */
  timer: NodeJS.Timeout | undefined;
}

const MAX_REASON_BYTES = 123;

function truncateReason(reason: string): string {
  let out = reason;
  while (Buffer.byteLength(out) > MAX_REASON_BYTES) out = out.slice(0, -1);
  return out;
}

export abstract class PeerConnection {
  readonly id = randomUUID();
  readonly closed: Promise<CloseInfo>;
  /** Aborted as soon as the connection starts closing. */
  protected readonly abortController = new AbortController();

  protected readonly window: number;
  protected readonly opts: Required<Omit<ConnectionOptions, 'maxConnectionMs'>> & { maxConnectionMs?: number };

  private resolveClosed!: (info: CloseInfo) => void;
  private closeInfo: CloseInfo | undefined;
  private closeError: Error | undefined;
  /** Frames received (whole ones; the octets of partial ones are counted on the transport). */
  private framesReceived = 0;
  private transport: Socket | undefined;
  private readonly idleWatchdog: ProgressWatchdog;
  private lastPing = Date.now();
  private readonly timers: NodeJS.Timeout[] = [];
  private handshakeTimer: NodeJS.Timeout | undefined;

  private readonly inFlight = new Map<string, InFlight>();
  private slotsUsed = 0;
  private readonly slotWaiters: Array<{ grant: () => void; fail: (err: Error) => void }> = [];

  private unackedIncoming = 0;
  private pendingBytes = 0;
  /**
   * Messages whose processing must keep their order (completion, registration, PDDs without an id, and the
   * start of each delivery's handler).
   */
  private chain: Promise<void> = Promise.resolve();
  /** Handlers of received deliveries still running: the next ordered task waits for them. */
  private readonly handling = new Set<Promise<void>>();

  protected constructor(
    protected readonly ws: WebSocket,
    protected readonly logger: Logger,
    options: ConnectionOptions,
    protected readonly role: 'gateway' | 'endpoint',
  ) {
    this.opts = {
      window: options.window ?? DEFAULTS.window,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? DEFAULTS.handshakeTimeoutMs,
      idleTimeoutMs: options.idleTimeoutMs ?? DEFAULTS.idleTimeoutMs,
      pingIntervalMs: options.pingIntervalMs ?? DEFAULTS.pingIntervalMs,
      ackTimeoutMs: options.ackTimeoutMs ?? DEFAULTS.ackTimeoutMs,
      closeGraceMs: options.closeGraceMs ?? DEFAULTS.closeGraceMs,
      ...(options.maxConnectionMs !== undefined ? { maxConnectionMs: options.maxConnectionMs } : {}),
    };
    if (!Number.isInteger(this.opts.window) || this.opts.window < 1) {
      throw new RangeError(`window must be a positive integer (got ${this.opts.window})`);
    }
    this.window = this.opts.window;
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });

    this.idleWatchdog = new ProgressWatchdog({
      idleMs: this.opts.idleTimeoutMs,
      progress: () => this.framesReceived + (this.transport ? socketProgress(this.transport) : 0),
      onIdle: (idleForMs) => this.fail(CloseCode.Timeout, `Peer idle for ${idleForMs} ms (no octet moved either way)`),
    });
    // The client learns its socket here; the server passes it to attachTransport.
    ws.once('upgrade', (response: IncomingMessage) => this.attachTransport(response.socket));
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      this.touch();
      if (this.closeInfo) return;
      if (!isBinary) {
        this.fail(CloseCode.UnsupportedData, 'Text frames are not supported');
        return;
      }
      this.handleMessage(data);
    });
    ws.on('ping', () => this.touch());
    ws.on('pong', () => this.touch());
    ws.on('error', (err: Error & { code?: string }) => {
      // ws closes the connection itself after protocol errors (e.g. 1009 for frames above maxPayload).
      const code = (err as unknown as Record<symbol | string, unknown>)[
        Object.getOwnPropertySymbols(err).find((s) => s.description === 'status-code') ?? ''
      ] as number | undefined;
      this.noteClosing(code ?? 1006, err.message, err);
      this.logger.warn(
        { connectionId: this.id, role: this.role, err: err.message, wsCode: err.code, closeCode: code },
        'WebSocket error; connection closed',
      );
    });
    ws.on('close', (code: number, reason: Buffer) => this.onWsClose(code, reason.toString('utf8')));

    this.handshakeTimer = setTimeout(
      () => this.fail(CloseCode.Timeout, `Handshake not completed within ${this.opts.handshakeTimeoutMs} ms`),
      this.opts.handshakeTimeoutMs,
    );
    const tickMs = Math.max(5, Math.min(this.opts.pingIntervalMs, Math.floor(this.opts.idleTimeoutMs / 4)));
    this.timers.push(setInterval(() => this.tick(), tickMs));
    if (this.opts.maxConnectionMs !== undefined && Number.isFinite(this.opts.maxConnectionMs)) {
      this.timers.push(
        setTimeout(
          () =>
            this.fail(
              CloseCode.RetryNow,
              `Maximum connection time (${this.opts.maxConnectionMs} ms) reached`,
              undefined,
              'info',
            ),
          this.opts.maxConnectionMs,
        ),
      );
    }
  }

  /** Whether the connection is closing or closed. */
  get isClosed(): boolean {
    return this.closeInfo !== undefined;
  }

  /** Number of messages this side sent that await acknowledgement. */
  get unacknowledgedCount(): number {
    return this.inFlight.size;
  }

  /** The connection-level abort signal: aborted once closing starts. */
  get signal(): AbortSignal {
    return this.abortController.signal;
  }

  /** Octets of received messages whose handlers have not resolved yet (bounded by the window). */
  get pendingIncomingBytes(): number {
    return this.pendingBytes;
  }

  /** Drops the connection abruptly (no close frame). */
  destroy(): void {
    this.ws.terminate();
  }

  /** Closes the connection with the given code and logs why. Idempotent. */
  fail(
    code: number,
    reason: string,
    err?: unknown,
    level: 'info' | 'warn' | 'error' = code === CloseCode.InternalError ? 'error' : 'warn',
  ): void {
    if (this.closeInfo) return;
    this.logger[level](
      {
        connectionId: this.id,
        role: this.role,
        closeCode: code,
        reason,
        ...(err !== undefined ? { err: err instanceof Error ? err.message : String(err) } : {}),
      },
      'Closing PoWebSocket connection',
    );
    this.noteClosing(code, reason, undefined, true);
    try {
      this.ws.close(code, truncateReason(reason));
    } catch {
      this.ws.terminate();
    }
    const grace = setTimeout(() => this.ws.terminate(), this.opts.closeGraceMs);
    grace.unref();
  }

  protected markHandshakeComplete(): void {
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
  }

  private noteClosing(code: number, reason: string, err?: Error, local = false): void {
    if (this.closeInfo) return;
    this.closeInfo = { code, reason, local };
    this.closeError = err ?? new ConnectionClosedError(code, reason);
    this.teardown();
  }

  private onWsClose(code: number, reason: string): void {
    if (!this.closeInfo) {
      this.noteClosing(code, reason);
      this.logger[code === CloseCode.Normal || code === CloseCode.GoingAway ? 'info' : 'warn'](
        { connectionId: this.id, role: this.role, closeCode: code, reason },
        'PoWebSocket connection closed by peer',
      );
    }
    this.teardown();
    this.resolveClosed(this.closeInfo!);
  }

  private teardown(): void {
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.length = 0;
    this.idleWatchdog.stop();
    const err = this.closeError ?? new ConnectionClosedError(1006, '');
    for (const [, entry] of this.inFlight) {
      clearTimeout(entry.timer);
      entry.reject(err);
    }
    this.inFlight.clear();
    for (const waiter of this.slotWaiters.splice(0)) waiter.fail(err);
    if (!this.abortController.signal.aborted) this.abortController.abort(err);
    this.onClosing(err);
  }

  /** Hook for subclasses: the connection is closing (runs once). */
  protected onClosing(_err: Error): void {}

  /** The error operations fail with once the connection is closing. */
  protected get closingError(): Error {
    return this.closeError ?? new ConnectionClosedError(1006, '');
  }

  /** The socket under the WebSocket, whose octets count as progress for the idle timeout. */
  attachTransport(socket: Socket): void {
    this.transport = socket;
  }

  private touch(): void {
    this.framesReceived++;
  }

  private tick(): void {
    const now = Date.now();
    if (now - this.lastPing >= this.opts.pingIntervalMs) {
      this.lastPing = now;
      try {
        this.ws.ping();
      } catch {
        // Closing; the close handler cleans up.
      }
    }
  }

  protected handleMessage(data: Buffer): void {
    try {
      this.onMessage(data);
    } catch (err) {
      this.failFromError(err);
    }
  }

  /** Closes the connection with the close code that matches the error. */
  protected failFromError(err: unknown): void {
    if (err instanceof ProtocolError) {
      this.fail(err.closeCode, err.message);
    } else if (err instanceof MalformedMessageError) {
      this.fail(CloseCode.UnsupportedData, err.message);
    } else {
      this.fail(CloseCode.InternalError, 'Internal error', err);
    }
  }

  /** Raw binary message dispatch; the subclass handles the handshake phase and calls `handleOperation`. */
  protected abstract onMessage(data: Buffer): void;

  /** Decodes a tagged message and dispatches the operations both sides treat alike. */
  protected decode(data: Buffer): OperationMessage {
    const op = decodeOperation(data);
    if (op.tag === MessageTag.ParcelDelivery && op.message.parcel.length > MAX_PARCEL_SIZE) {
      throw new ProtocolError(
        CloseCode.MessageTooBig,
        `Parcel of ${op.message.parcel.length} octets exceeds ${MAX_PARCEL_SIZE}`,
      );
    }
    return op;
  }

  /**
   * Runs `task` after every earlier ordered task and, unless `afterDeliveries` is false, once the handlers of
   * earlier deliveries have settled; a failure closes the connection with the error's code.
   */
  protected enqueue(task: () => Promise<void>, options: { afterDeliveries?: boolean } = {}): void {
    this.chain = this.chain.then(async () => {
      if (options.afterDeliveries ?? true) {
        while (this.handling.size > 0) await Promise.all(this.handling);
      }
      if (this.closeInfo) return;
      try {
        await task();
      } catch (err) {
        this.failFromError(err);
      }
    });
  }

  /**
   * A ParcelDelivery (or an id-bearing PDD) arrived: count it against the window, then start its handler
   * after every earlier ordered task, without waiting for the handlers of earlier deliveries: a receiver
   * that commits in groups then stores a window's messages in one transaction instead of one fsync each.
   * Each acknowledgement goes out only once its own handler has resolved, in whatever order that happens
   * (acks carry the id), as PogRPC's inbound calls do.
   */
  protected receiveWithAck(id: string, size: number, handler: () => Promise<void>): void {
    this.unackedIncoming += 1;
    this.pendingBytes += size;
    if (this.unackedIncoming > this.window) {
      throw new ProtocolError(
        CloseCode.PolicyViolation,
        `Peer exceeded the window of ${this.window} unacknowledged messages`,
      );
    }
    this.enqueue(
      async () => {
        const handled = this.handleDelivery(id, size, handler);
        this.handling.add(handled);
        void handled.finally(() => this.handling.delete(handled));
      },
      { afterDeliveries: false },
    );
  }

  private async handleDelivery(id: string, size: number, handler: () => Promise<void>): Promise<void> {
    try {
      await handler();
    } catch (err) {
      this.pendingBytes -= size;
      this.failFromError(
        new ProtocolError(
          CloseCode.InternalError,
          `Could not store message ${id}: ${err instanceof Error ? err.message : String(err)}`,
        ),
      );
      return;
    }
    this.unackedIncoming -= 1;
    this.pendingBytes -= size;
    if (this.closeInfo) return;
    try {
      this.sendRaw(encodeParcelDeliveryAck(id));
    } catch (err) {
      this.failFromError(err);
    }
  }

  protected sendRaw(data: Buffer, onSent?: (err?: Error) => void): void {
    if (this.closeInfo) throw this.closingError;
    this.ws.send(data, { binary: true }, onSent);
  }

  /** Handles a ParcelDeliveryAck. An unknown id closes with 1003. */
  protected handleAck(id: string): void {
    const entry = this.inFlight.get(id);
    if (!entry) {
      throw new ProtocolError(
        CloseCode.UnsupportedData,
        `Acknowledgement for unknown delivery id ${JSON.stringify(id)}`,
      );
    }
    this.inFlight.delete(id);
    clearTimeout(entry.timer);
    if (entry.releaseSlotOnAck) this.releaseSlot();
    entry.resolve();
  }

  /** Waits until fewer than `window` sent messages are unacknowledged, then takes a slot. */
  protected acquireSlot(signal?: AbortSignal): Promise<void> {
    if (this.closeInfo) return Promise.reject(this.closingError);
    if (signal?.aborted) return Promise.reject(abortError(signal));
    if (this.slotsUsed < this.window) {
      this.slotsUsed += 1;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const index = this.slotWaiters.indexOf(waiter);
        if (index >= 0) this.slotWaiters.splice(index, 1);
        reject(abortError(signal!));
      };
      const waiter = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          this.slotsUsed += 1;
          resolve();
        },
        fail: (err: Error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.slotWaiters.push(waiter);
    });
  }

  protected releaseSlot(): void {
    this.slotsUsed -= 1;
    const next = this.slotWaiters.shift();
    if (next) next.grant();
  }

  /**
   * Sends a message that the peer must acknowledge (a slot must already be held) and resolves when the
   * acknowledgement arrives; rejects when the connection closes first.
   */
  protected sendAwaitingAck(
    id: string,
    send: (onSent: (err?: Error) => void) => void,
    releaseSlotOnAck = true,
  ): Promise<void> {
    if (this.closeInfo) {
      this.releaseSlot();
      return Promise.reject(this.closingError);
    }
    return new Promise<void>((resolve, reject) => {
      const entry: InFlight = { releaseSlotOnAck, resolve, reject, timer: undefined };
      this.inFlight.set(id, entry);
      // The ack clock starts once the message is out: on a slow link, sending alone may take longer than it.
      const onSent = (err?: Error) => {
        if (err || this.inFlight.get(id) !== entry || this.closeInfo) return;
        entry.timer = setTimeout(
          () => this.fail(CloseCode.Timeout, `Message ${id} not acknowledged within ${this.opts.ackTimeoutMs} ms`),
          this.opts.ackTimeoutMs,
        );
      };
      try {
        send(onSent);
      } catch (err) {
        this.inFlight.delete(id);
        this.releaseSlot();
        reject(err as Error);
      }
    });
  }

  /** Sends a ParcelDelivery as two fragments of one message (prefix, then the parcel, not copied). */
  protected sendParcel(id: string, parcel: Buffer, releaseSlotOnAck = true): Promise<void> {
    return this.sendAwaitingAck(
      id,
      (onSent) => {
        if (this.closeInfo) throw this.closingError;
        this.ws.send(encodeParcelDeliveryPrefix(id, parcel.length), { binary: true, fin: false });
        this.ws.send(parcel, { binary: true, fin: true }, onSent);
      },
      releaseSlotOnAck,
    );
  }
}

export function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  const err = new Error('The operation was aborted');
  err.name = 'AbortError';
  return err;
}

export function assertParcelSize(parcel: Buffer): void {
  if (!Buffer.isBuffer(parcel)) throw new TypeError('A parcel must be a Buffer');
  if (parcel.length > MAX_PARCEL_SIZE) {
    throw new RangeError(`Parcel of ${parcel.length} octets exceeds the maximum of ${MAX_PARCEL_SIZE}`);
  }
}
