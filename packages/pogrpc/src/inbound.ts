import * as grpc from '@grpc/grpc-js';
import { ProgressWatchdog } from '@twitter-relaynet/core';

import { callProgress } from './callProgress';
import { DEFAULT_WINDOW, MAX_DELIVERY_ID_LENGTH } from './constants';
import { ServerCall, type ServerCallOptions } from './serverCall';

/** A delivery on the wire: `{id, parcel}` (PogRPC) or `{id, cargo}` (CogRPC). */
export type DeliveryMessage<Field extends string> = { id: string } & { [K in Field]: Buffer };

export interface DeliveryAckMessage {
  id: string;
}

export interface InboundDeliveryOptions<Field extends string> extends ServerCallOptions {
  /** Name of the message's payload field, also used in log lines and errors. */
  readonly field: Field;
  /** Unacknowledged messages buffered before the server stops reading (backpressure); default 5. */
  readonly window?: number;
  readonly maxLength: number;
  readonly idleTimeoutMs: number;
  /** Store the payload durably; its ack leaves only after this resolves. A rejection ends the call (UNAVAILABLE). */
  store(payload: Buffer, deliveryId: string, signal: AbortSignal): Promise<void>;
}

/**
 * The receiving side of a delivery stream: each message is stored through `store` as it arrives and acknowledged
 * (by id) once stored; at most `window` unacknowledged messages are held before the server stops reading. The
 * call ends OK once the peer half-closes with everything stored; a peer that never half-closes is acked all the
 * same, and ends the call itself.
 */
export class InboundDeliveryCall<Field extends string> extends ServerCall {
  private readonly queue: Array<DeliveryMessage<Field>> = [];
  private readonly window: number;
  /** Payloads handed to `store` and not yet stored. */
  private storing = 0;
  private peerEnded = false;
  /** Idle = no octet of this call's stream arrived, not "no whole message": see `callProgress`. */
  private readonly idleWatchdog: ProgressWatchdog;
  private received = 0;

  public constructor(
    call: grpc.ServerDuplexStream<DeliveryMessage<Field>, DeliveryAckMessage>,
    private readonly options: InboundDeliveryOptions<Field>,
  ) {
    super(call as grpc.ServerDuplexStream<unknown, unknown>, options);
    this.window = options.window ?? DEFAULT_WINDOW;
    const progress = callProgress(call);
    this.idleWatchdog = new ProgressWatchdog({
      idleMs: options.idleTimeoutMs,
      progress: () => progress() + this.received,
      onIdle: (idleForMs) =>
        this.fail(grpc.status.DEADLINE_EXCEEDED, `Nothing received on the call for ${idleForMs} ms`),
    });
    this.log('info', {}, `${options.method} call started`);
    call.on('data', (message: DeliveryMessage<Field>) => this.receive(message));
    call.on('end', () => {
      this.peerEnded = true;
      this.maybeComplete();
    });
  }

  public bufferedBytes(): number {
    return this.queue.reduce((sum, m) => sum + m[this.options.field].length, 0);
  }

  protected unacknowledged(): number {
    return this.queue.length;
  }

  private receive(message: DeliveryMessage<Field>): void {
    if (this.finished) return;
    this.received++;
    const { field, maxLength } = this.options;
    const noun = capitalise(field);
    const id = message.id;
    const payload = message[field];
    if (!id || Buffer.byteLength(id) > MAX_DELIVERY_ID_LENGTH) {
      this.fail(grpc.status.INVALID_ARGUMENT, `Delivery id must be 1..${MAX_DELIVERY_ID_LENGTH} octets`);
      return;
    }
    if (!payload || payload.length === 0) {
      this.fail(grpc.status.INVALID_ARGUMENT, `${noun} ${id} is empty`);
      return;
    }
    if (payload.length > maxLength) {
      this.fail(grpc.status.RESOURCE_EXHAUSTED, `${noun} ${id} exceeds ${maxLength} octets`);
      return;
    }
    if (this.queue.some((m) => m.id === id)) {
      this.fail(grpc.status.INVALID_ARGUMENT, `Delivery id ${id} is already in flight`);
      return;
    }
    const entry = { id, [field]: payload } as DeliveryMessage<Field>;
    this.queue.push(entry);
    if (this.queue.length >= this.window) this.call.pause(); // backpressure: stop reading until acks go out
    void this.store(entry);
  }

  /**
   * Every message of the window is handed to `store` as it arrives, without waiting for the previous one: a
   * gateway that commits in groups can then store a window's messages in one transaction. Each ack goes out as
   * soon as its own message is stored, in whatever order that happens (acks carry the id).
   */
  private async store(entry: DeliveryMessage<Field>): Promise<void> {
    this.storing += 1;
    this.idleWatchdog.pause();
    try {
      try {
        await this.options.store(entry[this.options.field], entry.id, this.abort.signal);
      } catch (error) {
        this.fail(
          grpc.status.UNAVAILABLE,
          `Could not store ${this.options.field} ${entry.id}: ${(error as Error).message}`,
          error,
        );
        return;
      }
      if (this.finished) {
        this.log(
          'warn',
          { deliveryId: entry.id },
          `${capitalise(this.options.field)} stored but the call ended before its ack could be sent`,
        );
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
    this.succeed({ received: this.received });
  }

  protected override onFinish(): void {
    this.idleWatchdog.stop();
    if (this.queue.length && !this.quiet)
      this.log('warn', { discarded: this.queue.length }, `Unstored ${this.options.field}s discarded (never acked)`);
    this.queue.length = 0;
  }
}

function capitalise(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}
