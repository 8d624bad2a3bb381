/**
 * The suite run against a tiny in-memory reference binding, to keep the suite itself honest: if the suite
 * asserted something a correct binding cannot do, this would fail.
 */
import { describeBindingConformance } from './suite';
import type { DeliveryReport, PulledDelivery } from '@twitter-relaynet/binding';

import type { BindingFactory, RawConnectionOutcome, TestClient } from './types';

const WINDOW = 5;
const MAX = 1024 * 1024;

const memoryBinding: BindingFactory<'message'> = {
  name: 'in-memory reference',
  field: 'message',
  maxMessageSize: MAX,
  window: WINDOW,
  frameOverhead: 0,
  garbageReason: 'invalid',
  stalledInput: Buffer.from([0x01, 0x00]),
  stallReason: 'timeout',
  malformedInputs: [{ name: 'unknown frame type', bytes: Buffer.from([0x09]), expectedReason: 'invalid' }],

  async start({ onMessage, idleTimeoutMs }) {
    let buffered = 0;
    return {
      async connectClient(): Promise<TestClient<'message'>> {
        let alive = true;
        let wake: (() => void) | null = null;
        const kill = () => {
          alive = false;
          wake?.();
        };
        return {
          async deliver(items, options = {}): Promise<DeliveryReport<'message'>> {
            const acked: string[] = [];
            const inFlight = new Map<string, PulledDelivery<'message'>>();
            const unacked: PulledDelivery<'message'>[] = [];
            let error: Error | undefined;
            const onAbort = () => wake?.();
            options.signal?.addEventListener('abort', onAbort);
            const failure = () =>
              options.signal?.aborted ? new Error('aborted') : alive ? undefined : new Error('connection lost');
            const waitUntil = async (condition: () => boolean) => {
              while (!condition() && !failure()) await new Promise<void>((resolve) => (wake = resolve));
            };
            // Server side: one message at a time, acked after the store resolves.
            let chain = Promise.resolve();
            let index = 0;
            for await (const item of items) {
              const pulled = { id: item.id ?? `generated-${index++}`, message: item.message };
              const { id, message } = pulled;
              if ((error = failure()) || message.length > MAX) {
                error ??= new Error('too large');
                unacked.push(pulled);
                break;
              }
              await waitUntil(() => inFlight.size < WINDOW);
              if ((error = failure())) {
                unacked.push(pulled);
                break;
              }
              inFlight.set(id, pulled);
              buffered += message.length;
              chain = chain.then(async () => {
                if (!alive) return;
                await onMessage(Buffer.from(message));
                buffered -= message.length;
                if (!alive) return;
                inFlight.delete(id);
                acked.push(id);
                options.onAck?.(id);
                wake?.();
              });
            }
            if (!error) {
              await waitUntil(() => inFlight.size === 0);
              error = inFlight.size ? failure() : undefined;
            }
            options.signal?.removeEventListener('abort', onAbort);
            return error ? { acked, unacked: [...inFlight.values(), ...unacked], error } : { acked, unacked };
          },
          destroy: kill,
          close: async () => kill(),
        };
      },
      async sendRaw(bytes): Promise<RawConnectionOutcome> {
        if (bytes.length === 0 || bytes[0] !== 0x01) return { reason: 'invalid' };
        await new Promise((resolve) => setTimeout(resolve, idleTimeoutMs));
        return { reason: 'timeout' };
      },
      bufferedBytes: () => buffered,
      async close() {},
    };
  },
};

describeBindingConformance(memoryBinding);
