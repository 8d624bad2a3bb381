import { randomUUID } from 'node:crypto';

import * as grpc from '@grpc/grpc-js';

import { MAX_DELIVERY_ID_LENGTH } from './constants';
import { PogRPCAbortedError, PogRPCCallError, PogRPCError, PogRPCInvalidParcelError, PogRPCProtocolError } from './errors';
import type { DeliveryAckMessage, DeliveryMessage } from './inbound';
import type { Logger } from './logger';

export interface OutboundItem {
  /** Per-delivery id (≤ 255 octets); a UUID4 is generated when absent. */
  readonly id?: string;
  readonly payload: Buffer;
}

export interface OutboundReport {
  /** Delivery ids the server acknowledged (stored), in ack order: delete your copies of these. */
  readonly acked: readonly string[];
  /** Pulled from the input but not acknowledged: keep them and retry later. */
  readonly unacked: ReadonlyArray<{ readonly id: string; readonly payload: Buffer }>;
  /** Why delivery stopped early, if it did (a `PogRPCCallError` carries the gRPC status code). */
  readonly error?: Error;
}

export interface OutboundOptions<Field extends string> {
  /** Method name for errors and log lines, e.g. `DeliverParcels`. */
  readonly method: string;
  readonly field: Field;
  readonly window: number;
  readonly maxLength: number;
  readonly logger: Logger;
  readonly target: string;
  readonly signal?: AbortSignal;
  readonly onAck?: (deliveryId: string) => void;
}

/**
 * Deliver items in order over an open delivery `call`, with at most `window` unacknowledged items in flight,
 * pulling lazily from `items`; half-close once every item is sent and wait for the server to end the call.
 * Never rejects: the report lists what was acked and what was not.
 */
export async function deliverOverCall<Field extends string>(
  call: grpc.ClientDuplexStream<DeliveryMessage<Field>, DeliveryAckMessage>,
  items: AsyncIterable<OutboundItem> | Iterable<OutboundItem>,
  options: OutboundOptions<Field>,
): Promise<OutboundReport> {
  const inFlight = new Map<string, Buffer>();
  const unackedPulled: Array<{ id: string; payload: Buffer }> = [];
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

  call.on('data', (ack: DeliveryAckMessage) => {
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
      fail(new PogRPCCallError(`${options.method} failed: ${grpc.status[s.code]}: ${s.details}`, s.code));
    } else if (inFlight.size > 0) {
      fail(new PogRPCProtocolError(`Server ended the call with ${inFlight.size} ${options.field}(s) unacknowledged`));
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
    for await (const item of items) {
      const id = item.id ?? randomUUID();
      const invalid = validate(id, item.payload, inFlight, options);
      if (failure || invalid) {
        if (invalid) fail(invalid);
        unackedPulled.push({ id, payload: item.payload });
        break;
      }
      await waitUntil(() => inFlight.size < options.window);
      if (failure) {
        unackedPulled.push({ id, payload: item.payload });
        break;
      }
      inFlight.set(id, item.payload);
      if (!call.write({ id, [options.field]: item.payload } as DeliveryMessage<Field>)) {
        await waitUntil(() => !call.writableNeedDrain);
      }
    }
    if (!failure) {
      call.end(); // half-close: nothing more to deliver
      await waitUntil(() => status !== null);
    }
  } catch (error) {
    fail(error instanceof Error ? error : new PogRPCError(String(error)));
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    if (status === null) call.cancel();
  }
  const unacked = [...[...inFlight].map(([id, payload]) => ({ id, payload })), ...unackedPulled];
  if (failure) {
    options.logger.warn({ err: failure.message, unacked: unacked.length, target: options.target }, `${options.method} stopped early`);
    return { acked, unacked, error: failure };
  }
  return { acked, unacked };
}

function validate(id: string, payload: Buffer, inFlight: Map<string, Buffer>, options: OutboundOptions<string>): Error | undefined {
  const idLength = Buffer.byteLength(id);
  if (idLength === 0 || idLength > MAX_DELIVERY_ID_LENGTH) {
    return new PogRPCInvalidParcelError(`Delivery id must be 1..${MAX_DELIVERY_ID_LENGTH} octets`);
  }
  if (inFlight.has(id)) return new PogRPCInvalidParcelError(`Delivery id ${id} is already in flight`);
  if (payload.length === 0 || payload.length > options.maxLength) {
    return new PogRPCInvalidParcelError(`A ${options.field} of ${payload.length} octets is outside 1..${options.maxLength}`);
  }
  return undefined;
}
