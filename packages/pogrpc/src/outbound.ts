import { randomUUID } from 'node:crypto';

import * as grpc from '@grpc/grpc-js';
import type {
  DeliveryInput,
  DeliveryOptions,
  DeliveryReport,
  DeliverySource,
  PulledDelivery,
} from '@twitter-relaynet/binding';
import { type Logger, ProgressWatchdog } from '@twitter-relaynet/core';

import { callProgress } from './callProgress';
import { MAX_DELIVERY_ID_LENGTH } from './constants';
import {
  PogRPCAbortedError,
  PogRPCCallError,
  PogRPCError,
  PogRPCInvalidParcelError,
  PogRPCProtocolError,
} from './errors';
import type { DeliveryAckMessage, DeliveryMessage } from './inbound';

export interface OutboundOptions<Field extends string> extends DeliveryOptions {
  /** Method name for errors and log lines, e.g. `DeliverParcels`. */
  readonly method: string;
  readonly field: Field;
  readonly window: number;
  readonly maxLength: number;
  /**
   * The call is cancelled (its unacked items reported for a retry) when no octet moved on it, either way, for
   * this long. Progress, not whole messages or acks: 9 MiB messages on a slow link keep it alive as they move.
   */
  readonly idleTimeoutMs: number;
  readonly logger: Logger;
  readonly target: string;
}

/**
 * Deliver items in order over an open delivery `call`, with at most `window` unacknowledged items in flight,
 * pulling lazily from `items`; half-close once every item is sent and wait for the server to end the call.
 * Never rejects: the report lists what was acked and what was not.
 */
export async function deliverOverCall<Field extends string>(
  call: grpc.ClientDuplexStream<DeliveryMessage<Field>, DeliveryAckMessage>,
  items: DeliverySource<DeliveryInput<Field>>,
  options: OutboundOptions<Field>,
): Promise<DeliveryReport<Field>> {
  const inFlight = new Map<string, Buffer>();
  const unackedPulled: Array<{ id: string; payload: Buffer }> = [];
  const field = options.field;
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
    idleMs: options.idleTimeoutMs,
    progress: callProgress(call, 'both'),
    onIdle: (idleForMs) => {
      fail(
        new PogRPCCallError(
          `${options.method} idle: no octet moved on the call for ${idleForMs} ms`,
          grpc.status.DEADLINE_EXCEEDED,
        ),
      );
      call.cancel();
    },
  });

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
      const payload: Buffer = item[field];
      const invalid = validate(id, payload, inFlight, options);
      if (failure || invalid) {
        if (invalid) fail(invalid);
        unackedPulled.push({ id, payload });
        break;
      }
      await waitUntil(() => inFlight.size < options.window);
      if (failure) {
        unackedPulled.push({ id, payload });
        break;
      }
      inFlight.set(id, payload);
      if (!call.write({ id, [field]: payload } as DeliveryMessage<Field>)) {
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
    idleWatchdog.stop();
    options.signal?.removeEventListener('abort', onAbort);
    if (status === null) call.cancel();
  }
  const unacked = [...[...inFlight].map(([id, payload]) => ({ id, payload })), ...unackedPulled].map(
    ({ id, payload }) => ({ id, [field]: payload }) as PulledDelivery<Field>,
  );
  if (failure) {
    options.logger.warn(
      { err: failure.message, unacked: unacked.length, target: options.target },
      `${options.method} stopped early`,
    );
    return { acked, unacked, error: failure };
  }
  return { acked, unacked };
}

function validate(
  id: string,
  payload: Buffer,
  inFlight: Map<string, Buffer>,
  options: OutboundOptions<string>,
): Error | undefined {
  const idLength = Buffer.byteLength(id);
  if (idLength === 0 || idLength > MAX_DELIVERY_ID_LENGTH) {
    return new PogRPCInvalidParcelError(`Delivery id must be 1..${MAX_DELIVERY_ID_LENGTH} octets`);
  }
  if (inFlight.has(id)) return new PogRPCInvalidParcelError(`Delivery id ${id} is already in flight`);
  if (payload.length === 0 || payload.length > options.maxLength) {
    return new PogRPCInvalidParcelError(
      `A ${options.field} of ${payload.length} octets is outside 1..${options.maxLength}`,
    );
  }
  return undefined;
}
